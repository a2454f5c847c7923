package main

import (
	"os"
	"time"

	"github.com/flagpole/flagpole/dashboard"
	"github.com/flagpole/flagpole/internal/gitx"
)

// newDashboard builds the dashboard (/ui/) of a role that runs a syncer,
// sampling the breakers every interval (0: 1 s). The git history of flag
// files is read from --repo when it is a local git repository (a work
// tree or a bare repository); for a remote URL the flag view has none.
func (role *syncRole) newDashboard(interval time.Duration) error {
	ls, _ := role.store.(roleLayerStore) // newSyncRole checked it
	opts := dashboard.Options{Store: ls, Metrics: metricsOf(role.store), Interval: interval,
		Extra: roleStatusExtra(role.admin, role.rec, role.logger), AdminToken: os.Getenv(serverAdminTokenEnv),
		Logger: role.logger}
	if !gitx.IsURL(role.repo) {
		if h, err := dashboard.OpenHistory(role.repo, role.branch, "", 0); err == nil {
			opts.History = h
		} else {
			role.logger.Info("dashboard: no git history for flag files", "reason", err)
		}
	}
	ui, err := dashboard.New(opts)
	if err != nil {
		return err
	}
	role.ui = ui
	return nil
}
