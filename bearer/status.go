package bearer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/store"
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
	// NextClockChange is the next instant at which results can change by
	// the clock alone (a schedule step, a ramp step, an override's expiry:
	// ruleset.RuleSet.NextChange); zero when none is ahead.
	NextClockChange time.Time `json:"next_clock_change,omitzero"`
	// LoadError is why the last reload failed; the version above keeps
	// serving meanwhile.
	LoadError string `json:"load_error,omitempty"`
}

// syncCache is the syncer's status as last read from the store, in its
// anonymous form (store.SyncStatus.Anonymous), and that form encoded once.
// The store is read at every status request (one request at a time, so
// that concurrent requests hold one copy), but the encoding is reused for
// as long as the syncer has not written a new status.
type syncCache struct {
	mu  sync.Mutex
	key syncKey
	st  *store.SyncStatus
	raw json.RawMessage // st encoded; nil when st is nil
}

// syncKey tells two statuses of the syncer apart: every status it writes
// after a sync has a new LastSync.
type syncKey struct {
	lastSync          time.Time
	commit, published string
	failed            bool
}

// syncStatus returns the syncer's status, anonymous, and its encoding; or
// why it could not be read.
func (s *Server) syncStatus(ctx context.Context) (*store.SyncStatus, json.RawMessage, string) {
	c := &s.syncCache
	c.mu.Lock()
	defer c.mu.Unlock()
	sync, err := s.opts.Store.Status(ctx)
	if err != nil {
		c.st, c.raw = nil, nil
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, ""
		}
		return nil, nil, err.Error()
	}
	key := syncKey{sync.LastSync, sync.Commit, sync.Published, sync.LastError != nil}
	if c.st != nil && key == c.key {
		return c.st, c.raw, ""
	}
	anon := sync.Anonymous()
	raw, err := json.Marshal(&anon)
	if err != nil {
		c.st, c.raw = nil, nil
		return nil, nil, "encoding the syncer's status: " + err.Error()
	}
	c.key, c.st, c.raw = key, &anon, raw
	return c.st, c.raw, ""
}

// Status returns this bearer's view and the syncer's status, as
// GET /v1/status shows them.
func (s *Server) Status(ctx context.Context) Status {
	sync, _, syncErr := s.syncStatus(ctx)
	return s.status(sync, syncErr)
}

func (s *Server) status(sync *store.SyncStatus, syncErr string) Status {
	st := Status{Environments: map[string]EnvironmentStatus{}, Sync: sync, SyncError: syncErr}
	hubs := *s.hubs.Load()
	for env, h := range hubs {
		cur := h.cur.Load()
		es := EnvironmentStatus{
			Version: cur.version, LoadedAt: cur.loadedAt, Flags: cur.flags.len(), SSEClients: h.streams.Load(),
		}
		if next, ok := cur.rs.NextChange(s.opts.Clock.Now()); ok {
			es.NextClockChange = next.UTC()
		}
		st.Environments[env] = es
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

// serveStatus is GET /v1/status. The syncer's part is the cached encoding.
func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	_, raw, syncErr := s.syncStatus(r.Context())
	st := s.status(nil, syncErr)
	httpx.WriteJSON(w, http.StatusOK, struct {
		Sync json.RawMessage `json:"sync,omitempty"`
		Status
	}{raw, st})
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
		httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeNotReady, msg)
		return
	}
	envs := slices.Sorted(maps.Keys(hubs))
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"ready": true, "environments": envs})
}
