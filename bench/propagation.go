package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/flagpole/flagpole/sdk"
)

// propagationTarget is BENCHMARKS.md's bound on file change → SDK.
const propagationTarget = 100 * time.Millisecond

// watchedFlag is the key of the flag in editFlag.
const watchedFlag = "debug-panel"

// seen is one change a subscribed SDK reported.
type seen struct {
	version  string
	enabled  bool   // the watched flag's `enabled` in the new rule set
	override string // the variant overrideFlag's override serves, "" for none
	// overrides is the variant each flag's override serves (breaker
	// overrides included), by flag.
	overrides map[string]string
	at        time.Time
}

// watcher is an SDK client whose subscription reports every change.
type watcher struct {
	c     *sdk.Client
	ch    chan seen
	unsub func()
}

// newWatcher connects an SDK to url and waits for its first rule set.
func newWatcher(ctx context.Context, url, key string) (*watcher, error) {
	c, err := sdk.New(ctx, sdk.Options{
		URL: url, Key: key, InitTimeout: startTimeout,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, fmt.Errorf("starting an SDK client on %s: %w", url, err)
	}
	if c.Version() == "" {
		_ = c.Close()
		return nil, fmt.Errorf("SDK client on %s got no rule set within %s", url, startTimeout)
	}
	w := &watcher{c: c, ch: make(chan seen, 64)}
	w.unsub = c.Subscribe(func(ch sdk.Change) {
		s := seen{version: ch.Version, at: time.Now()}
		if doc := c.Document(); doc != nil {
			if f := doc.Flags.Get(watchedFlag); f != nil {
				s.enabled = f.Enabled
			}
			if o := doc.Overrides[overrideFlag]; o != nil {
				s.override = o.Serve
			}
			s.overrides = make(map[string]string, len(doc.Overrides))
			for f, o := range doc.Overrides {
				s.overrides[f] = o.Serve
			}
		}
		w.ch <- s
	})
	return w, nil
}

// flagEnabled returns the watched flag's `enabled` in the client's rule set.
func (w *watcher) flagEnabled() bool {
	if doc := w.c.Document(); doc != nil && doc.Flags.Get(watchedFlag) != nil {
		return doc.Flags.Get(watchedFlag).Enabled
	}
	return false
}

// await waits for a change that sets the watched flag's `enabled` to want
// and returns when the subscription saw it. Changes to other states (a
// half-written file that happened to be valid) are skipped.
func (w *watcher) await(ctx context.Context, want bool, timeout time.Duration) (seen, error) {
	return w.awaitSeen(ctx, fmt.Sprintf("%s enabled=%v", watchedFlag, want), func(s seen) bool { return s.enabled == want }, timeout)
}

// awaitSeen waits for a change for which ok holds; what names it in the
// error.
func (w *watcher) awaitSeen(ctx context.Context, what string, ok func(seen) bool, timeout time.Duration) (seen, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case s := <-w.ch:
			if ok(s) {
				return s, nil
			}
		case <-t.C:
			return seen{}, fmt.Errorf("SDK did not see %s within %s (it serves version %s)", what, timeout, w.c.Version())
		case <-ctx.Done():
			return seen{}, errInterrupted
		}
	}
}

// drain drops the changes seen so far, so that a late event of an earlier
// change cannot pass for the next one.
func (w *watcher) drain() {
	for {
		select {
		case <-w.ch:
		default:
			return
		}
	}
}

func (w *watcher) close() {
	w.unsub()
	_ = w.c.Close()
}

// change makes one change and returns when it was started.
type change func(i int) (time.Time, error)

// measureChanges makes cfg.edits changes, each flipping the watched flag,
// and returns for each the time from its start until every watcher saw it
// (the later of the watchers).
func measureChanges(ctx context.Context, cfg *config, ws []*watcher, g *group, do change) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, cfg.edits)
	want := ws[0].flagEnabled()
	for i := range cfg.edits {
		want = !want
		start, err := do(i)
		if err != nil {
			return lat, err
		}
		last, err := awaitAll(ctx, cfg, ws, g, fmt.Sprintf("change %d", i+1), func(s seen) bool { return s.enabled == want })
		if err != nil {
			return lat, err
		}
		lat = append(lat, last.Sub(start))
		if err := sleep(ctx, cfg.gap); err != nil {
			return lat, err
		}
	}
	return lat, nil
}

// awaitAll waits until every watcher saw a change for which ok holds and
// returns when the last of them saw it.
func awaitAll(ctx context.Context, cfg *config, ws []*watcher, g *group, what string, ok func(seen) bool) (time.Time, error) {
	var last time.Time
	for j, w := range ws {
		s, err := w.awaitSeen(ctx, what, ok, cfg.wait)
		if err != nil {
			return last, fmt.Errorf("%s, SDK %d: %w%s", what, j+1, err, aliveNote(g))
		}
		if s.at.After(last) {
			last = s.at
		}
	}
	return last, nil
}

// aliveNote explains a timeout by a process that died, if one did.
func aliveNote(g *group) string {
	if err := g.checkAlive(); err != nil {
		return "; " + err.Error()
	}
	return ""
}

// runPropagation measures file edit → SDK subscription under flagpole
// serve with the directory source and the memory store.
func runPropagation(ctx context.Context, cfg *config) ([]*report, error) {
	repo, tog, cleanup, err := exampleCopy(cfg, "propagation")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var g group
	defer g.stopAll()
	srv, err := startFlagpole(cfg.bin, "flagpole serve", "serve", "--repo", repo)
	if err != nil {
		return nil, err
	}
	g.add(srv)
	w, err := newWatcher(ctx, srv.URL(), prodServerKey)
	if err != nil {
		return nil, err
	}
	defer w.close()

	lat, err := measureChanges(ctx, cfg, []*watcher{w}, &g, func(int) (time.Time, error) {
		start := time.Now()
		return start, tog.write()
	})
	r := newReport("propagation: file edit → SDK subscription (flagpole serve, directory source, memory store)")
	r.add("setup", "copy of %s, 1 SDK client (server key), edits of %s, %s gap after each", cfg.example, editFlag, cfg.gap)
	q := r.latency("latency", lat)
	r.memory(srv)
	if len(lat) > 0 {
		r.target("p99 ≤ 100 ms", "BENCHMARKS.md", q.p99 <= propagationTarget, ms(q.p99))
	}
	return []*report{r}, err
}

// runPropagationRedis measures file edit → both SDKs with redis-server,
// flagpole sync and two flagpole bearer processes, one SDK on each.
func runPropagationRedis(ctx context.Context, cfg *config) ([]*report, error) {
	repo, tog, cleanup, err := exampleCopy(cfg, "propagation-redis")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var g group
	defer g.stopAll()
	rds, syn, bearers, ws, err := startSplit(ctx, cfg, &g, "--repo", repo)
	defer closeAll(ws)
	if err != nil {
		return nil, err
	}

	pubs, err := watchPublishes(ctx, rds.addr, "production")
	if err != nil {
		return nil, err
	}
	defer pubs.stop()

	var starts []time.Time
	lat, err := measureChanges(ctx, cfg, ws, &g, func(int) (time.Time, error) {
		start := time.Now()
		starts = append(starts, start)
		return start, tog.write()
	})
	r := newReport("propagation-redis: file edit → both SDKs (redis-server + flagpole sync + 2 × flagpole bearer)")
	r.add("setup", "copy of %s, one SDK client per bearer, latency = the later of the two, %s gap", cfg.example, cfg.gap)
	q := r.latency("latency", lat)
	toPublish, toSDK := pubs.split(starts, lat)
	r.latency("  edit → announced on Redis", toPublish)
	r.latency("  announced → both SDKs", toSDK)
	for _, p := range append([]*proc{syn}, append(bearers, rds)...) {
		r.memory(p)
	}
	if len(lat) > 0 {
		r.target("p99 ≤ 100 ms", "BENCHMARKS.md", q.p99 <= propagationTarget, ms(q.p99))
	}
	return []*report{r}, err
}

// startSplit starts a split deployment in g: a private redis-server,
// flagpole sync with syncArgs, and two flagpole bearer processes, each with
// an SDK watcher. The caller closes the watchers (closeAll), also after an
// error.
func startSplit(ctx context.Context, cfg *config, g *group, syncArgs ...string) (rds, syn *proc, bearers []*proc, ws []*watcher, err error) {
	if rds, err = startRedis(); err != nil {
		return nil, nil, nil, nil, err
	}
	g.add(rds)
	redisURL := "redis://" + rds.addr
	syn, err = startFlagpole(cfg.bin, "flagpole sync", append([]string{"sync", "--redis", redisURL}, syncArgs...)...)
	if err != nil {
		return rds, nil, nil, nil, err
	}
	g.add(syn)
	for i := range 2 {
		b, err := startFlagpole(cfg.bin, fmt.Sprintf("flagpole bearer %d", i+1), "bearer", "--redis", redisURL)
		if err != nil {
			return rds, syn, bearers, ws, err
		}
		bearers = append(bearers, g.add(b))
		w, err := newWatcher(ctx, b.URL(), prodServerKey)
		if err != nil {
			return rds, syn, bearers, ws, err
		}
		ws = append(ws, w)
	}
	return rds, syn, bearers, ws, nil
}

// closeAll closes every watcher of ws.
func closeAll(ws []*watcher) {
	for _, w := range ws {
		w.close()
	}
}
