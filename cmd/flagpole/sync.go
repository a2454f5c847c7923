package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flagpole/flagpole/internal/store/redisstore"
)

// runSync runs the syncer alone, publishing to Redis for separate bearers.
// Any number may run: one holds the leader lock and publishes, the others
// wait to take over. Its HTTP port serves status, metrics and the webhook.
func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sync", "--repo DIR|URL --redis URL [--branch B] [--listen ADDR]", stderr)
	var c common
	var r repoFlags
	c.register(fs, "127.0.0.1:8081")
	r.register(fs)
	redisURL := fs.String("redis", "", "Redis URL that the bearers read (required)")
	pos, err := parse(fs, args)
	if err == nil {
		err = r.check(pos)
	}
	if err == nil && *redisURL == "" {
		err = errors.New("--redis is required: a syncer alone publishes to Redis (use serve for one process)")
	}
	if err != nil {
		return usageError(fs, stderr, err)
	}
	logger, err := c.logger(stderr)
	if err != nil {
		return usageError(fs, stderr, err)
	}
	role, err := r.newSyncRole(ctx, *redisURL, logger)
	if err != nil {
		return fail(stderr, "sync", err)
	}
	defer role.store.Close()
	sy, st := role.sy, role.store
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		status := sy.Status().Anonymous() // no key: locations, not messages
		writeJSON(w, http.StatusOK, &status)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		// Ready when the store answers: a standby is ready to take over.
		if _, err := st.Environments(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{
				"code": "not_ready", "message": "store unreachable: " + err.Error()}})
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(role.reg, promhttp.HandlerOpts{}))
	if h := r.webhook(sy.Trigger); h != nil {
		mux.Handle("POST /v1/hooks/git", h)
	}
	logger.Info("flagpole sync starting", "version", version, "source", role.src.String(), "redis", redisstore.RedactURL(*redisURL))
	err = runAll(ctx, sy.Run, func(ctx context.Context) error { return serveHTTP(ctx, c.listen, mux, logger) })
	return finish(stderr, "sync", err)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
