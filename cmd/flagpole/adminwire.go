package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flagpole/flagpole/bearer/admin"
	"github.com/flagpole/flagpole/internal/gitx"
	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/loader/recorder"
	"github.com/flagpole/flagpole/loader/source"
	"github.com/flagpole/flagpole/loader/syncer"
	"github.com/flagpole/flagpole/loader/writeback"
	"github.com/flagpole/flagpole/store"
)

// serverAdminTokenEnv names the environment variable that holds an admin
// credential for every environment on serve and sync.
const serverAdminTokenEnv = "FLAGPOLE_ADMIN_TOKEN"

// roleLayerStore is a store with an override layer; both of openStore's are.
type roleLayerStore interface {
	store.Store
	store.Overrider
}

// newRecorder builds the leader's write-back and notifications for the
// repository src reads: commits to the git remote, or files written in a
// plain directory.
func (r *repoFlags) newRecorder(src source.Source, st roleLayerStore, sy func() *syncer.Syncer, reg prometheus.Registerer, logger *slog.Logger) (*recorder.Recorder, error) {
	remote := ""
	newWriter := func(wb loader.Writeback, onLanded func(writeback.Landed)) (*writeback.Writer, error) {
		opts := writeback.Options{Branch: wb.Branch, Author: wb.Author, Logger: logger, OnLanded: onLanded}
		if opts.Branch == "" {
			opts.Branch = r.branch
		}
		if _, ok := src.(*source.Dir); ok {
			opts.Dir = src.String()
			return writeback.New(opts)
		}
		rem, err := gitx.NewRemote(gitx.Options{URL: r.repo, SSHKeyFile: r.sshKey, Logger: logger})
		if err != nil {
			return nil, err
		}
		opts.Remote = rem
		if r.cacheDir != "" {
			// Not the source's own clone: the write-back fetches and
			// commits on its own schedule.
			opts.CacheDir = filepath.Join(r.cacheDir, "writeback")
		}
		return writeback.New(opts)
	}
	if _, ok := src.(*source.Dir); !ok {
		remote = r.repo
	}
	return recorder.New(recorder.Options{
		Store: st,
		Settings: func() (loader.Settings, bool) {
			return sy().Settings()
		},
		NewWriter: newWriter, Remote: remote, Registerer: reg, Logger: logger,
		AfterLanded: func() { sy().Trigger() },
	})
}

// newRoleAdmin builds the admin API and triggers of a role. leading is nil
// for a role that always may write.
func newRoleAdmin(st roleLayerStore, rec *recorder.Recorder, leading func() bool, logger *slog.Logger) (*admin.API, error) {
	opts := admin.Options{Store: st, AdminToken: os.Getenv(serverAdminTokenEnv), Logger: logger}
	if leading != nil {
		opts.Leader = func(ctx context.Context) (bool, string) {
			if leading() {
				return true, ""
			}
			if ss, err := st.Status(ctx); err == nil {
				return false, ss.Leader
			}
			return false, ""
		}
	}
	if rec != nil {
		opts.Writeback = func(env string, e store.LayerEntry) string {
			if rec.Landed(env, e) {
				return admin.WritebackLanded
			}
			return admin.WritebackPending
		}
	}
	return admin.New(opts)
}

// roleStatusExtra is what GET /v1/status adds to the bearer's or the syncer's
// status: the overrides in force per environment and, on the leader, the
// pending write-backs.
func roleStatusExtra(api *admin.API, rec *recorder.Recorder, logger *slog.Logger) func(ctx context.Context) map[string]any {
	type item struct {
		Flag    string `json:"flag"`
		Serve   string `json:"serve"`
		By      string `json:"by,omitempty"`
		At      any    `json:"at"`
		Expires any    `json:"expires,omitempty"`
		Source  string `json:"source"`
	}
	return func(ctx context.Context) map[string]any {
		out := map[string]any{}
		list, err := api.List(ctx, nil)
		if err != nil {
			logger.Warn("status: listing overrides", "err", err)
			out["overrides_error"] = fmt.Sprintf("listing overrides: %v", err)
		} else {
			byEnv := map[string][]item{}
			for _, o := range list {
				it := item{Flag: o.Flag, Serve: o.Serve, By: o.By, At: o.At, Source: o.Source}
				if o.Expires != nil {
					it.Expires = o.Expires
				}
				byEnv[o.Environment] = append(byEnv[o.Environment], it)
			}
			out["overrides"] = byEnv
		}
		if rec != nil {
			out["writeback"] = map[string]any{"pending": rec.Pending()}
		}
		return out
	}
}

// statusBearers is what GET /v1/status adds for a caller with a viewer or
// admin key: the bearers connected to the store (store.Presence), with
// only the environments the key sees. Anonymous callers get nothing of
// it: the records hold addresses.
func statusBearers(api *admin.API, st store.Presence, logger *slog.Logger) func(r *http.Request) map[string]any {
	return func(r *http.Request) map[string]any {
		may, ok := api.Reader(r)
		if !ok {
			return nil
		}
		list, err := st.Bearers(r.Context())
		if err != nil {
			logger.Warn("status: listing bearers", "err", err)
			return map[string]any{"bearers_error": fmt.Sprintf("listing bearers: %v", err)}
		}
		return map[string]any{"bearers": store.ViewBearers(list, may, time.Now())}
	}
}
