package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flagpole/flagpole/sdk"
)

// breakerTarget is BENCHMARKS.md's bound on the error rate crossing the
// threshold → every SDK serving off.
const breakerTarget = 2 * time.Second

// breakerFlagYAML is the flag file of one breaker run: on for everyone,
// tripped by 20 calls in a 10 s window with ≥ 10 % failures, and not
// ramped back while the bench runs.
const breakerFlagYAML = `key: %s
name: Breaker bench %d
description: Tripped once by the bench's breaker scenario.
owner: bench
rules:
  - name: everyone
    serve: on
breaker:
  window: 10s
  min_requests: 20
  error_rate: 10
  recovery: {delay: 1h}
`

// runBreaker measures the breaker of flagpole serve (evaluating every
// second, the default): from the metrics batch that takes a flag's error
// rate over its threshold to every SDK serving the flag off. Each run
// trips a flag of its own, so no run waits for a recovery.
func runBreaker(ctx context.Context, cfg *config) ([]*report, error) {
	dir, repo, cleanup, err := gitScenario(cfg, "breaker")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	flags, guarded := make([]string, cfg.trips), make([]string, cfg.trips)
	for i := range flags {
		flags[i], guarded[i] = fmt.Sprintf("breaker-bench-%02d", i), fmt.Sprintf("breaker-guard-%02d", i)
		for _, f := range []string{flags[i], guarded[i]} {
			body := fmt.Sprintf(breakerFlagYAML, f, i)
			if err := os.WriteFile(filepath.Join(repo.Work, "flags", f+".yaml"), []byte(body), 0o644); err != nil {
				return nil, err
			}
		}
	}
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", "breaker bench flags"}, {"push", "-q", "origin", "main"}} {
		if _, err := repo.Run(args...); err != nil {
			return nil, err
		}
	}
	var g group
	defer g.stopAll()
	srv, err := startFlagpole(cfg.bin, "flagpole serve", "serve", "--repo", repo.Bare,
		"--poll", "1s", "--cache-dir", filepath.Join(dir, "cache"))
	if err != nil {
		return nil, err
	}
	g.add(srv)
	var ws []*watcher
	defer func() { closeAll(ws) }()
	for range 3 {
		w, err := newWatcher(ctx, srv.URL(), prodServerKey)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	client := &http.Client{Timeout: 10 * time.Second}

	r := newReport("breaker: error rate over the threshold → every SDK serves off (flagpole serve --repo <bare remote>, breaker every 1 s)")
	r.add("setup", "3 SDK clients; %d runs, each on its own flag (window 10s, min_requests 20, error_rate 10): POST /v1/metrics 180 successes, a random 0–1 s pause, then timed from just before the POST of 30 failures (14.3%%) until every SDK's rule set has the flag's override serving off", cfg.trips)
	lat := make([]time.Duration, 0, cfg.trips)
	for i, f := range flags {
		if err := postCounts(client, srv.URL(), f, "success", 180); err != nil {
			return nil, err
		}
		// The breaker ticks every second: start each run at another phase.
		if err := sleep(ctx, rand.N(time.Second)); err != nil {
			return nil, err
		}
		for _, w := range ws {
			w.drain()
		}
		start := time.Now()
		if err := postCounts(client, srv.URL(), f, "failure", 30); err != nil {
			return nil, err
		}
		last, err := awaitAll(ctx, cfg, ws, &g, fmt.Sprintf("trip %d (%s)", i+1, f), func(s seen) bool { return s.overrides[f] == "off" })
		if err != nil {
			r.latency("threshold crossed → every SDK off", lat)
			return []*report{r}, err
		}
		lat = append(lat, last.Sub(start))
	}
	q := r.latency("threshold crossed → every SDK off", lat)
	r.target("p99 ≤ 2 s", "BENCHMARKS.md, breaker trip → SDKs", q.p99 <= breakerTarget, ms(q.p99))

	r.add("setup, Guard", "per run, a new SDK client runs sdk.Guard on a flag of its own (a call every 2 ms, reported every 1 s, the SDK default; it starts at a random phase of the breaker's second): a random 0–1 s of successes, then timed from the first failing call until the 3 SDKs serve off")
	glat := make([]time.Duration, 0, cfg.trips)
	for i, f := range guarded {
		d, err := guardTrip(ctx, cfg, srv.URL(), ws, &g, f)
		if err != nil {
			r.latency("first failing call → every SDK off", glat)
			return []*report{r}, fmt.Errorf("Guard run %d (%s): %w", i+1, f, err)
		}
		glat = append(glat, d)
	}
	gq := r.latency("first failing call → every SDK off", glat)
	r.memory(srv)
	r.target("p99 ≤ 2 s", "the same from the first failing call, SDK reporting included", gq.p99 <= breakerTarget, ms(gq.p99))
	return []*report{r}, nil
}

// guardTrip runs sdk.Guard on flag from a new client on url: a random
// 0–1 s of successes, then failures; it returns the time from the first
// failing call until every watcher serves flag off.
func guardTrip(ctx context.Context, cfg *config, url string, ws []*watcher, g *group, flag string) (time.Duration, error) {
	c, err := sdk.New(ctx, sdk.Options{URL: url, Key: prodServerKey, InitTimeout: startTimeout,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	// The client's batches go every second from its first call; the last
	// run ended just after a breaker tick: start at another phase.
	if err := sleep(ctx, rand.N(time.Second)); err != nil {
		return 0, err
	}
	var failing atomic.Bool
	var firstFailure atomic.Int64 // UnixNano of the first failing call
	errNew := errors.New("the new path failed")
	loadCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		newPath := func(context.Context) (struct{}, error) {
			if failing.Load() {
				firstFailure.CompareAndSwap(0, time.Now().UnixNano())
				return struct{}{}, errNew
			}
			return struct{}{}, nil
		}
		oldPath := func(context.Context) (struct{}, error) { return struct{}{}, nil }
		for i := 0; loadCtx.Err() == nil; i++ {
			_, _ = sdk.Guard(c, loadCtx, flag, sdk.Context{"key": fmt.Sprintf("user-%d", i%1000)}, newPath, oldPath)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	defer func() { stop(); wg.Wait() }()
	if err := sleep(ctx, rand.N(time.Second)); err != nil {
		return 0, err
	}
	for _, w := range ws {
		w.drain()
	}
	failing.Store(true)
	last, err := awaitAll(ctx, cfg, ws, g, "the trip", func(s seen) bool { return s.overrides[flag] == "off" })
	if err != nil {
		return 0, err
	}
	return last.Sub(time.Unix(0, firstFailure.Load())), nil
}

// postCounts reports n calls of kind (success, failure) of flag, as an
// SDK's outcome batch would.
func postCounts(client *http.Client, url, flag, kind string, n int) error {
	body := fmt.Sprintf(`{"counts":[{"flag":%q,%q:%d}]}`, flag, kind, n)
	req, err := http.NewRequest(http.MethodPost, url+"/v1/metrics", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+prodServerKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("POST /v1/metrics: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /v1/metrics: status %d: %s", resp.StatusCode, b)
	}
	return nil
}
