package main

import (
	"context"
	"fmt"
	"io"

	"github.com/flagpole/flagpole/bearer"
	"github.com/flagpole/flagpole/internal/redact"
	"github.com/flagpole/flagpole/internal/surface"
)

// runBearer runs a bearer alone: it serves the rule sets a syncer publishes
// to Redis. Any number can run against one Redis.
func runBearer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bearer", "--redis URL [--listen ADDR]", stderr)
	var c common
	var lim limitFlags
	c.register(fs, "127.0.0.1:8080")
	lim.register(fs)
	redisURL := fs.String("redis", "", "Redis URL the syncer publishes to (required)")
	logger, code := parseRedisRole(fs, args, &c, redisURL,
		"--redis is required: a bearer alone reads rule sets from Redis (use serve for one process)", nil)
	if logger == nil {
		return code
	}
	st, _, err := openStore(ctx, *redisURL, logger)
	if err != nil {
		return fail(stderr, "bearer", err)
	}
	defer st.Close()
	// Bound first, so that the presence record has the address.
	ln, err := listen(c.listen)
	if err != nil {
		return fail(stderr, "bearer", err)
	}
	defer ln.Close()
	reg := newRegistry()
	b, err := bearer.New(lim.apply(bearer.Options{Store: st, Metrics: metricsOf(st), Registerer: reg, Gatherer: reg, Logger: logger,
		Presence: st, Advertise: ln.Addr().String(), BinaryVersion: version}))
	if err != nil {
		return fail(stderr, "bearer", err)
	}
	ls, ok := st.(roleLayerStore)
	if !ok {
		return fail(stderr, "bearer", fmt.Errorf("store %T has no override layer", st))
	}
	api, err := newRoleAdmin(ls, nil, nil, logger)
	if err != nil {
		return fail(stderr, "bearer", err)
	}
	// Triggers only: the admin API is the syncer's (serve, sync).
	h := surface.Handler(surface.Options{Bearer: b, Store: st, Gatherer: reg, Admin: api,
		StatusExtra: roleStatusExtra(api, nil, logger), StatusDetail: statusBearers(api, st, logger)})
	logger.Info("flagpole bearer starting", "version", version, "redis", redact.URL(*redisURL))
	err = runAll(ctx, b.Run, func(ctx context.Context) error { return serveBearer(ctx, ln, b, h, logger) })
	return finish(stderr, "bearer", err)
}
