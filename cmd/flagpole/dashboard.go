package main

import (
	"context"
	"os"
	"time"

	"github.com/flagpole/flagpole/bearer"
	"github.com/flagpole/flagpole/dashboard"
	"github.com/flagpole/flagpole/internal/gitx"
	"github.com/flagpole/flagpole/loader/source"
)

// newDashboard builds the dashboard (/ui/) of a role that runs a syncer,
// sampling the breakers every interval (0: 1 s), with the SDK streams of
// b when the process runs a bearer. The git history of flag
// files is read from --repo when it is a local git repository (a work
// tree, where it follows HEAD, or a bare repository, where it follows
// --branch); for a remote URL the flag view has none.
func (role *syncRole) newDashboard(interval time.Duration, b *bearer.Server) error {
	ls, _ := role.store.(roleLayerStore) // newSyncRole checked it
	opts := dashboard.Options{Store: ls, Metrics: metricsOf(role.store), Interval: interval,
		Extra: roleStatusExtra(role.admin, role.rec, role.logger), AdminToken: os.Getenv(serverAdminTokenEnv),
		Logger: role.logger}
	if b != nil {
		opts.SDKStreams = func(ctx context.Context) map[string]int64 {
			out := map[string]int64{}
			for env, st := range b.Status(ctx).Environments {
				out[env] = st.SSEClients
			}
			return out
		}
	}
	if !gitx.IsURL(role.repo) {
		branch := role.branch
		if _, ok := role.src.(*source.Dir); ok {
			branch = "" // a work tree serves what is checked out: its HEAD
		}
		if h, err := dashboard.OpenHistory(role.repo, branch, "", 0); err == nil {
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
