package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/flagpole/flagpole/bearer"
)

const serveArgs = "--repo DIR|URL [--branch B] [--listen ADDR] [--redis URL]"

// runServe runs the syncer and a bearer in one process: on the in-memory
// store by default, or publishing through Redis so that more bearers can
// serve the same rule sets.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var lim limitFlags
	var interval time.Duration
	role, _, logger, redisURL, code := syncCommand{
		name: "serve", usage: serveArgs, listen: "127.0.0.1:8080",
		redisUsage:      "Redis URL (redis://, rediss://, unix://, redis+sentinel://, redis+cluster://); default: in-memory store",
		limits:          &lim,
		breakerInterval: &interval,
	}.start(ctx, args, stderr)
	if role == nil {
		return code
	}
	defer role.store.Close()
	b, err := bearer.New(lim.apply(bearer.Options{Store: role.store, Metrics: metricsOf(role.store), Registerer: role.reg, Gatherer: role.reg, Logger: logger,
		Presence: role.store, Advertise: role.advertise, BinaryVersion: version}))
	if err != nil {
		return fail(stderr, "serve", err)
	}
	brk, err := newBreakerRunner(role.store, role.locker, interval, role.reg, logger)
	if err != nil {
		return fail(stderr, "serve", err)
	}
	if err := role.newDashboard(interval, b); err != nil {
		return fail(stderr, "serve", err)
	}
	logger.Info("flagpole serve starting", "version", version, "source", role.src.String(), "store", storeName(redisURL))
	fns := []func(context.Context) error{
		role.sy.Run,
		b.Run,
		role.ui.Run,
		func(ctx context.Context) error { return serveBearer(ctx, role.ln, b, role.handler(b, brk), logger) },
	}
	if brk != nil {
		fns = append(fns, brk.Run)
	}
	err = runAll(ctx, fns...)
	return finish(stderr, "serve", err)
}

// runAll runs every function until ctx is done or one of them fails, which
// stops the others. It returns the first error.
func runAll(ctx context.Context, fns ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
				once.Do(func() { first = err })
			}
			cancel()
		}()
	}
	wg.Wait()
	return first
}

func storeName(redisURL string) string {
	if redisURL == "" {
		return "memory"
	}
	return "redis"
}

// fail reports an error that stopped a command before it started.
func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "flagpole %s: %v\n", cmd, err)
	return exitFailure
}

// finish turns a long-running role's result into an exit code.
func finish(stderr io.Writer, cmd string, err error) int {
	if err != nil {
		return fail(stderr, cmd, err)
	}
	return exitOK
}
