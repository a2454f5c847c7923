package main

import (
	"context"
	"errors"
	"io"

	"github.com/flagpole/flagpole/internal/redact"
)

// runSync runs the syncer alone, publishing to Redis for separate bearers.
// Any number may run: one holds the leader lock and publishes, the others
// wait to take over. Its HTTP port serves status, metrics and the webhook.
func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	role, _, logger, redisURL, code := syncCommand{
		name: "sync", usage: "--repo DIR|URL --redis URL [--branch B] [--listen ADDR]", listen: "127.0.0.1:8081",
		redisUsage:    "Redis URL that the bearers read (required)",
		redisRequired: errors.New("--redis is required: a syncer alone publishes to Redis (use serve for one process)"),
	}.start(ctx, args, stderr)
	if role == nil {
		return code
	}
	defer role.store.Close()
	if err := role.newDashboard(0, nil); err != nil {
		return fail(stderr, "sync", err)
	}
	logger.Info("flagpole sync starting", "version", version, "source", role.src.String(), "redis", redact.URL(redisURL))
	err := runAll(ctx, role.sy.Run, role.ui.Run, func(ctx context.Context) error { return serveHTTP(ctx, role.ln, role.handler(nil, nil), logger) })
	return finish(stderr, "sync", err)
}
