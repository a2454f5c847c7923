// Package surface assembles the HTTP surface of a flagpole process: the
// operational routes every role serves (GET /v1/status, /healthz, /readyz,
// /metrics), the git push webhook of a role that runs a syncer, and the
// bearer's SDK API when the process runs one, the alert triggers and the
// admin API. `flagpole serve`, `sync` and `bearer` all mount their handlers
// here, so that a route added once is served the same way by every role
// that has its parts.
package surface

import (
	"context"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/store"
)

// DefaultMaxBodyBytes caps webhook bodies unless Options say otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Bearer is the part of a bearer the surface serves; *bearer.Server is one.
type Bearer interface {
	// API answers the SDK endpoints (every path the surface does not name).
	API() http.Handler
	// StatusHandler answers GET /v1/status with the bearer's view, which
	// includes the syncer's status as the store holds it.
	StatusHandler() http.Handler
	// ReadyHandler answers GET /readyz: 503 until a rule set is loaded.
	ReadyHandler() http.Handler
}

// Syncer is the part of a syncer the surface reports; *syncer.Syncer is one.
type Syncer interface {
	Status() store.SyncStatus
}

// Admin serves the override routes; *admin.API is one.
type Admin interface {
	// Handle registers the admin API (/v1/admin/overrides...).
	Handle(m *httpx.Mux)
	// HandleTriggers registers POST /v1/triggers/{token}.
	HandleTriggers(m *httpx.Mux)
}

// Pinger tells whether the store answers; every store.Store is one.
type Pinger interface {
	Environments(ctx context.Context) ([]string, error)
}

// Options are the parts one process has. The zero value of each means the
// process does not have it.
type Options struct {
	// Bearer serves the SDK API, the status and the readiness. Zero: the
	// SDK paths answer 404.
	Bearer Bearer
	// Syncer's status is GET /v1/status of a process without a bearer.
	Syncer Syncer
	// Store decides GET /readyz of a process without a bearer: ready while
	// it answers (a standby syncer is ready to take over).
	Store Pinger
	// Gatherer is what GET /metrics serves. Zero: prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Webhook is mounted at POST /v1/hooks/git (it checks its own
	// signature). Zero: no such route.
	Webhook http.Handler
	// MaxBodyBytes caps webhook bodies. Zero: 1 MiB.
	MaxBodyBytes int64
	// Admin serves the alert triggers and, with AdminAPI, the admin API.
	// Zero: neither route.
	Admin    Admin
	AdminAPI bool
	// StatusExtra, when set, adds its fields to the JSON object of
	// GET /v1/status (the overrides and pending write-backs).
	StatusExtra func(ctx context.Context) map[string]any
	// StatusDetail, when set, adds its fields too, given the request: it
	// checks the caller's key and returns nothing to callers without a
	// viewer or admin key (the bearers connected, with their addresses).
	StatusDetail func(r *http.Request) map[string]any
	// UI, when set, serves the dashboard: GET /ui and everything under
	// /ui/ (GET and POST). Zero: no such routes.
	UI http.Handler
}

// Handler returns the process's HTTP surface. Errors are the JSON envelope
// of docs/http-api.md: 405 with Allow for another method on a known path,
// 404 for an unknown one.
func Handler(o Options) http.Handler {
	if o.Gatherer == nil {
		o.Gatherer = prometheus.DefaultGatherer
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	m := httpx.NewMux()
	m.Handle("GET", "/healthz", http.HandlerFunc(healthz))
	m.Handle("GET", "/metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	status := syncStatus(o.Syncer)
	switch {
	case o.Bearer != nil:
		status = o.Bearer.StatusHandler()
		m.Handle("GET", "/readyz", o.Bearer.ReadyHandler())
		m.Fallback(o.Bearer.API())
	default:
		m.Handle("GET", "/readyz", storeReady(o.Store))
	}
	if o.StatusExtra != nil || o.StatusDetail != nil {
		status = extend(status, func(r *http.Request) map[string]any {
			out := map[string]any{}
			if o.StatusExtra != nil {
				out = o.StatusExtra(r.Context())
			}
			if out == nil {
				out = map[string]any{}
			}
			if o.StatusDetail != nil {
				for k, v := range o.StatusDetail(r) {
					out[k] = v
				}
			}
			return out
		})
	}
	m.Handle("GET", "/v1/status", status)
	if o.Admin != nil {
		o.Admin.HandleTriggers(m)
		if o.AdminAPI {
			o.Admin.Handle(m)
		}
	}
	if o.UI != nil {
		m.Handle("GET", "/ui", o.UI)
		m.Handle("GET", "/ui/", o.UI)
		m.Handle("POST", "/ui/", o.UI)
	}
	if o.Webhook != nil {
		m.Handle("POST", "/v1/hooks/git", http.MaxBytesHandler(o.Webhook, o.MaxBodyBytes))
	}
	return m
}

// healthz is GET /healthz: the process is up.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

// syncStatus answers GET /v1/status with the syncer's own status.
func syncStatus(sy Syncer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if sy == nil {
			httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "this process runs neither a bearer nor a syncer")
			return
		}
		st := sy.Status().Anonymous() // no key: locations, not messages
		httpx.WriteJSON(w, http.StatusOK, &st)
	})
}

// storeReady answers GET /readyz: ready while the store answers.
func storeReady(st Pinger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st != nil {
			if _, err := st.Environments(r.Context()); err != nil {
				httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeNotReady, "store unreachable: "+err.Error())
				return
			}
		}
		healthz(w, r)
	})
}
