package surface

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/store"
)

type fakeSyncer struct{}

func (fakeSyncer) Status() store.SyncStatus { return store.SyncStatus{Source: "flags", Commit: "abc"} }

type fakeStore struct{ err error }

func (s fakeStore) Environments(context.Context) ([]string, error) { return nil, s.err }

type fakeBearer struct{}

func (fakeBearer) API() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "api "+r.URL.Path) })
}
func (fakeBearer) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "bearer status") })
}
func (fakeBearer) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "bearer ready") })
}

func do(h http.Handler, method, path string) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader("{}")))
	return rec.Code, rec.Body.String()
}

func TestSurface(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "surface_test_total"}))
	hook := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	syncOnly := Handler(Options{Syncer: fakeSyncer{}, Store: fakeStore{}, Gatherer: reg, Webhook: hook})
	down := Handler(Options{Syncer: fakeSyncer{}, Store: fakeStore{err: errors.New("connection refused")}, Gatherer: reg})
	withBearer := Handler(Options{Bearer: fakeBearer{}, Syncer: fakeSyncer{}, Store: fakeStore{}, Gatherer: reg, Webhook: hook})
	tests := []struct {
		name         string
		h            http.Handler
		method, path string
		status       int
		body         string // a substring
	}{
		{"healthz", syncOnly, "GET", "/healthz", 200, "ok"},
		{"metrics", syncOnly, "GET", "/metrics", 200, "surface_test_total"},
		{"syncer status", syncOnly, "GET", "/v1/status", 200, `"commit":"abc"`},
		{"ready while the store answers", syncOnly, "GET", "/readyz", 200, "ok"},
		{"not ready when the store is down", down, "GET", "/readyz", 503, `"code":"not_ready"`},
		{"webhook", syncOnly, "POST", "/v1/hooks/git", 202, ""},
		{"no webhook without a handler", down, "POST", "/v1/hooks/git", 404, `"code":"not_found"`},
		{"other method", syncOnly, "POST", "/healthz", 405, `"code":"method_not_allowed"`},
		{"no SDK API without a bearer", syncOnly, "GET", "/v1/flags", 404, "no such endpoint: /v1/flags"},
		{"bearer status", withBearer, "GET", "/v1/status", 200, "bearer status"},
		{"bearer readiness", withBearer, "GET", "/readyz", 200, "bearer ready"},
		{"bearer API", withBearer, "GET", "/v1/flags", 200, "api /v1/flags"},
		{"webhook beside a bearer", withBearer, "POST", "/v1/hooks/git", 202, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(tt.h, tt.method, tt.path)
			if status != tt.status || !strings.Contains(body, tt.body) {
				t.Errorf("%s %s = %d %q, want %d with %q", tt.method, tt.path, status, body, tt.status, tt.body)
			}
			if status >= 400 {
				var e httpx.ErrorBody
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code == "" {
					t.Errorf("error body %q is not the envelope", body)
				}
			}
		})
	}
}

// TestUI: the dashboard's handler gets /ui and everything under /ui/, for
// GET and POST; without one those paths are unknown.
func TestUI(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ui "+r.Method+" "+r.URL.Path) })
	with := Handler(Options{Syncer: fakeSyncer{}, UI: ui, Gatherer: prometheus.NewRegistry()})
	without := Handler(Options{Syncer: fakeSyncer{}, Gatherer: prometheus.NewRegistry()})
	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/ui", "ui GET /ui"},
		{"GET", "/ui/", "ui GET /ui/"},
		{"GET", "/ui/api/flags", "ui GET /ui/api/flags"},
		{"POST", "/ui/api/flags/production/x/evaluate", "ui POST /ui/api/flags/production/x/evaluate"},
	} {
		if code, body := do(with, tt.method, tt.path); code != 200 || body != tt.body {
			t.Errorf("%s %s = %d %q, want %q", tt.method, tt.path, code, body, tt.body)
		}
		if code, _ := do(without, tt.method, tt.path); code != 404 {
			t.Errorf("%s %s without a UI = %d, want 404", tt.method, tt.path, code)
		}
	}
}
