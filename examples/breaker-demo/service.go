package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/flagpole/flagpole/sdk"
)

// flagKey is the flag of flags.example that guards the new path; its
// breaker block trips it within seconds and ramps it back within a minute.
const flagKey = "recommendations-v2"

// errInjected is what the new path returns while failures are on.
var errInjected = errors.New("recommendations v2: injected failure")

// answer is what GET /recommend returns: which path served the request and
// how the new path went.
type answer struct {
	// Served is "v2" (the new path) or "v1" (the old one).
	Served string `json:"served"`
	// NewPath is "ok", "failed" (v1 served as the fallback) or "skipped"
	// (the flag is off for this user: tripped, or not yet ramped back).
	NewPath string `json:"new_path"`
}

// service answers /recommend through sdk.Guard and lets /fail make the new
// path fail.
type service struct {
	flags   *sdk.Client
	flag    string // the flag that guards the new path; "" is flagKey
	failing atomic.Bool
}

// flagName returns the flag that guards the new path.
func (s *service) flagName() string {
	if s.flag == "" {
		return flagKey
	}
	return s.flag
}

func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /recommend", s.recommend)
	mux.HandleFunc("POST /fail", s.fail)
	return mux
}

// recommend serves one user: the new path when the flag is on for them,
// the old one when it is off or when the new path fails.
func (s *service) recommend(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if user == "" {
		http.Error(w, "user is required", http.StatusBadRequest)
		return
	}
	a := answer{NewPath: "skipped"}
	served, err := sdk.Guard(s.flags, r.Context(), s.flagName(), sdk.Context{"key": user},
		func(context.Context) (string, error) {
			if s.failing.Load() {
				a.NewPath = "failed"
				return "", errInjected
			}
			a.NewPath = "ok"
			return "v2", nil
		},
		func(context.Context) (string, error) { return "v1", nil })
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	a.Served = served
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(a)
}

// fail turns failures of the new path on or off: POST /fail?on=true|false.
func (s *service) fail(w http.ResponseWriter, r *http.Request) {
	on, err := strconv.ParseBool(r.URL.Query().Get("on"))
	if err != nil {
		http.Error(w, "on must be true or false", http.StatusBadRequest)
		return
	}
	s.failing.Store(on)
	_, _ = w.Write([]byte("new path failing: " + strconv.FormatBool(on) + "\n"))
}

// listenAndServe serves h on addr until ctx ends, then shuts down.
func listenAndServe(ctx context.Context, addr string, h http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	return nil
}
