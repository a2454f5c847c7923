package bearer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/flagpole/flagpole/internal/store"
)

// Status is the body of GET /v1/status.
type Status struct {
	// Sync is the syncer's view of the repository, when it has recorded one.
	Sync *store.SyncStatus `json:"sync,omitempty"`
	// SyncError says why the syncer's status could not be read.
	SyncError string `json:"sync_error,omitempty"`
	// Environments is this bearer's view, by environment.
	Environments map[string]EnvironmentStatus `json:"environments"`
	// Ready is true once every environment the store lists has been loaded.
	Ready bool `json:"ready"`
}

// EnvironmentStatus is what this bearer serves for one environment.
type EnvironmentStatus struct {
	Version    string    `json:"version,omitempty"`
	LoadedAt   time.Time `json:"loaded_at,omitzero"`
	Flags      int       `json:"flags"`
	SSEClients int64     `json:"sse_clients"`
	// LoadError is why the last reload failed; the version above keeps
	// serving meanwhile.
	LoadError string `json:"load_error,omitempty"`
}

// Status returns this bearer's view and the syncer's status.
func (s *Server) Status(ctx context.Context) Status {
	st := Status{Environments: map[string]EnvironmentStatus{}}
	sync, err := s.opts.Store.Status(ctx)
	switch {
	case err == nil:
		st.Sync = sync
	case !errors.Is(err, store.ErrNotFound):
		st.SyncError = err.Error()
	}
	hubs := *s.hubs.Load()
	for env, h := range hubs {
		cur := h.cur.Load()
		st.Environments[env] = EnvironmentStatus{
			Version: cur.version, LoadedAt: cur.loadedAt, Flags: len(cur.flags), SSEClients: h.streams.Load(),
		}
	}
	s.mu.Lock()
	for env, msg := range s.loadErrors {
		es := st.Environments[env]
		es.LoadError = msg
		st.Environments[env] = es
	}
	s.mu.Unlock()
	st.Ready = len(s.unready(hubs)) == 0
	return st
}

// unready says why this bearer is not ready to serve, by environment: every
// environment the store lists must have been loaded once (a later failure
// keeps the last good version serving). "" stands for the store as a whole
// while nothing is loaded. An environment whose snapshot was lost is named
// until the syncer republishes it; its keys meanwhile get 401.
func (s *Server) unready(hubs map[string]*hub) map[string]string {
	out := map[string]string{}
	s.mu.Lock()
	for env, msg := range s.loadErrors {
		if hubs[env] == nil {
			out[env] = msg
		}
	}
	s.mu.Unlock()
	if len(hubs) == 0 && len(out) == 0 {
		out[""] = "no rule set loaded yet"
	}
	return out
}

// serveStatus is GET /v1/status.
func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Status(r.Context()))
}

// serveReady is GET /readyz: 503, naming an environment, until every
// environment the store lists has been loaded.
func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	hubs := *s.hubs.Load()
	if why := s.unready(hubs); len(why) > 0 {
		msg := why[""]
		for _, env := range slices.Sorted(maps.Keys(why)) {
			if env != "" {
				msg = fmt.Sprintf("environment %s has no loadable snapshot: %s", env, why[env])
				break
			}
		}
		writeError(w, http.StatusServiceUnavailable, codeNotReady, msg)
		return
	}
	envs := slices.Sorted(maps.Keys(hubs))
	writeJSON(w, http.StatusOK, map[string]any{"ready": true, "environments": envs})
}
