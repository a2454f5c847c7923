package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/flagpole/flagpole/bearer"
)

const serveArgs = "--repo DIR|URL [--branch B] [--listen ADDR] [--redis URL]"

// runServe runs the syncer and a bearer in one process: on the in-memory
// store by default, or publishing through Redis so that more bearers can
// serve the same rule sets.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", serveArgs, stderr)
	var c common
	var r repoFlags
	var lim limitFlags
	c.register(fs, "127.0.0.1:8080")
	lim.register(fs)
	r.register(fs)
	redisURL := fs.String("redis", "", "Redis URL (redis://, rediss://, unix://, redis+sentinel://, redis+cluster://); default: in-memory store")
	pos, err := parse(fs, args)
	if err == nil {
		err = r.check(pos)
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
		return fail(stderr, "serve", err)
	}
	defer role.store.Close()
	b, err := bearer.New(lim.apply(bearer.Options{Store: role.store, Registerer: role.reg, Gatherer: role.reg, Logger: logger, Webhook: r.webhook(role.sy.Trigger)}))
	if err != nil {
		return fail(stderr, "serve", err)
	}
	logger.Info("flagpole serve starting", "version", version, "source", role.src.String(), "store", storeName(*redisURL))
	err = runAll(ctx,
		role.sy.Run,
		b.Run,
		func(ctx context.Context) error { return serveBearer(ctx, c.listen, b, logger) },
	)
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
