package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flagpole/flagpole/breaker"
	"github.com/flagpole/flagpole/internal/redact"
	"github.com/flagpole/flagpole/internal/surface"
	"github.com/flagpole/flagpole/store"
)

const breakerIntervalUsage = "how often the leading breaker reads the outcome windows and decides"

// newBreakerRunner builds the breaker on st. It returns nil, and says so
// in the log, when st keeps no outcome counts (store.Metrics).
func newBreakerRunner(st store.Store, locker store.Locker, interval time.Duration, reg prometheus.Registerer, logger *slog.Logger) (*breaker.Runner, error) {
	m, ok := st.(store.Metrics)
	if !ok {
		logger.Warn("breaker: off, the store keeps no outcome counts", "store", fmt.Sprintf("%T", st))
		return nil, nil
	}
	ls, ok := st.(breaker.LayerStore)
	if !ok {
		return nil, fmt.Errorf("store %T has no override layer", st)
	}
	return breaker.NewRunner(breaker.RunnerOptions{Store: ls, Metrics: m, Locker: locker, Interval: interval,
		Registerer: reg, Logger: logger})
}

// withBreakers adds the breakers' last decisions ("breakers") to a status
// document's extra fields.
func withBreakers(extra func(context.Context) map[string]any, brk *breaker.Runner) func(context.Context) map[string]any {
	if brk == nil {
		return extra
	}
	return func(ctx context.Context) map[string]any {
		out := map[string]any{}
		if extra != nil {
			out = extra(ctx)
		}
		out["breakers"] = map[string]any{"leading": brk.Leading(), "flags": brk.Status()}
		return out
	}
}

// runBreaker runs the breaker alone, on the rule sets, override layer and
// outcome counts in Redis. Any number can run; one leads (lock "breaker").
// Its trips are written back to git by the leading syncer's recorder.
func runBreaker(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("breaker", "--redis URL [--listen ADDR] [--interval 1s]", stderr)
	var c common
	c.register(fs, "127.0.0.1:8082")
	redisURL := fs.String("redis", "", "Redis URL the syncer and the bearers use (required)")
	interval := fs.Duration("interval", breaker.DefaultInterval, breakerIntervalUsage)
	logger, code := parseRedisRole(fs, args, &c, redisURL,
		"--redis is required: a breaker alone reads rule sets and counts from Redis (serve runs one in process)",
		func() error {
			if *interval <= 0 {
				return errors.New("--interval must be positive")
			}
			return nil
		})
	if logger == nil {
		return code
	}
	st, locker, err := openStore(ctx, *redisURL, logger)
	if err != nil {
		return fail(stderr, "breaker", err)
	}
	defer st.Close()
	reg := newRegistry()
	brk, err := newBreakerRunner(st, locker, *interval, reg, logger)
	if err == nil && brk == nil {
		err = fmt.Errorf("store %T keeps no outcome counts", st)
	}
	if err != nil {
		return fail(stderr, "breaker", err)
	}
	ln, err := listen(c.listen)
	if err != nil {
		return fail(stderr, "breaker", err)
	}
	h := surface.Handler(surface.Options{Syncer: storedStatus{st}, Store: st, Gatherer: reg,
		StatusExtra: withBreakers(nil, brk)})
	logger.Info("flagpole breaker starting", "version", version, "redis", redact.URL(*redisURL), "interval", *interval)
	err = runAll(ctx, brk.Run, func(ctx context.Context) error { return serveHTTP(ctx, ln, h, logger) })
	return finish(stderr, "breaker", err)
}

// parseRedisRole parses args for a role that runs on Redis alone (bearer,
// breaker): no positional arguments, --redis required (missing says why),
// then check. It returns the role's logger, or nil and the exit code.
func parseRedisRole(fs *flag.FlagSet, args []string, c *common, redisURL *string, missing string, check func() error) (*slog.Logger, int) {
	pos, err := parse(fs, args)
	switch {
	case err != nil:
	case len(pos) > 0:
		err = fmt.Errorf("unexpected argument %q", pos[0])
	case *redisURL == "":
		err = errors.New(missing)
	case check != nil:
		err = check()
	}
	if err == nil {
		var logger *slog.Logger
		if logger, err = c.logger(fs.Output()); err == nil {
			return logger, exitOK
		}
	}
	return nil, usageError(fs, fs.Output(), err)
}

// storedStatus is the syncer's status as the store holds it, for the
// /v1/status of a process that runs no syncer and no bearer.
type storedStatus struct{ st store.Store }

// Status implements surface.Syncer; an unreadable status is empty.
func (s storedStatus) Status() store.SyncStatus {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := s.st.Status(ctx)
	if err != nil || st == nil {
		return store.SyncStatus{}
	}
	return *st
}
