package main

import (
	"context"
	"errors"
	"io"

	"github.com/flagpole/flagpole/store/redisstore"
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
	logger.Info("flagpole sync starting", "version", version, "source", role.src.String(), "redis", redisstore.RedactURL(*redisURL))
	err = runAll(ctx, role.sy.Run, func(ctx context.Context) error { return serveHTTP(ctx, c.listen, role.handler(nil), logger) })
	return finish(stderr, "sync", err)
}
