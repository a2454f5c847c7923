package breaker

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
)

// TestRunnerLeaderKilledOnRedis: two breakers on one real Redis, as two
// processes. The leader trips a flag, then dies mid-recovery without
// releasing its lock (its connection is closed); the standby takes over
// when the lock expires and continues the ramp from the override and the
// clock, without tripping the flag again.
func TestRunnerLeaderKilledOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	open := func() *redisstore.Redis {
		st, err := redisstore.New(ctx, srv.URL(), redisstore.Options{LockTTL: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	stA, stB := open(), open()
	defer stB.Close()
	if err := stA.Publish(ctx, &store.Snapshot{Environment: "production", Version: "v1", Document: doc()}); err != nil {
		t.Fatal(err)
	}
	stM := open() // the bearers' connection that adds counts
	defer stM.Close()
	m, clock := countCalls(stM), clockwork.NewFakeClockAt(t0)
	runner := func(st *redisstore.Redis) *Runner {
		r, err := NewRunner(RunnerOptions{Store: st, Metrics: m, Locker: st, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := runner(stA), runner(stB)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	doneA, doneB := make(chan struct{}), make(chan struct{})
	go func() { _ = a.Run(runCtx); close(doneA) }()
	waitFor(t, "a to lead", a.Leading)
	go func() { _ = b.Run(runCtx); close(doneB) }()
	defer func() { stop(); <-doneA; <-doneB }()

	if err := m.AddCounts(ctx, "production", clock.Now(), map[string]store.Counts{"checkout": {Success: 50, Failure: 50}}); err != nil {
		t.Fatal(err)
	}
	waitTick(t, clock)
	entry := func() store.LayerEntry {
		l, err := stB.Layer(ctx, "production")
		if err != nil {
			t.Fatal(err)
		}
		return l.Entries["checkout"]
	}
	waitFor(t, "the trip", func() bool { return entry().Override != nil })
	first := entry().Override.At

	clock.Advance(6*time.Minute + time.Second) // cap 20
	stA.Close()                                // a dies: no release, no renewal
	waitFor(t, "b to lead", b.Leading)
	waitFor(t, "b's decision", func() bool { s := b.Status(); return len(s) == 1 && s[0].State == Recovering })
	if s := b.Status()[0]; s.Cap != 20 {
		t.Errorf("b sees cap %v, want 20", s.Cap)
	}
	if e := entry(); e.Override == nil || !e.Override.At.Equal(first) {
		t.Errorf("b tripped again: %+v, first at %v", e.Override, first)
	}
	if got := testutil.ToFloat64(b.trips.WithLabelValues("production", "checkout")); got != 0 {
		t.Errorf("b tripped %v times", got)
	}
}

// TestRunnerRedisRestarted: Redis restarts empty (no persistence). The
// windows restart empty and the runner, reconnecting by itself, trips
// nothing until real failures arrive again; then it trips as before.
func TestRunnerRedisRestarted(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	st, err := redisstore.New(ctx, srv.URL(), redisstore.Options{LockTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Publish(ctx, &store.Snapshot{Environment: "production", Version: "v1", Document: doc()}); err != nil {
		t.Fatal(err)
	}
	clock := clockwork.NewFakeClockAt(t0)
	r, err := NewRunner(RunnerOptions{Store: st, Metrics: st, Locker: st, Clock: clock, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	add := func(c store.Counts) error {
		return st.AddCounts(ctx, "production", clock.Now(), map[string]store.Counts{"checkout": c})
	}
	// 4 % errors: under the 5 % threshold.
	if err := add(store.Counts{Success: 960, Failure: 40}); err != nil {
		t.Fatal(err)
	}
	r.Tick(ctx)
	srv.Restart()
	// The store comes back empty; the syncer republishes the snapshot.
	waitFor(t, "the store back after the restart", func() bool {
		return st.Publish(ctx, &store.Snapshot{Environment: "production", Version: "v1", Document: doc()}) == nil
	})
	// Failures only, but far fewer than min_requests: the lost successes
	// must not make 60 failures look like a 100 % error rate to act on.
	if err := add(store.Counts{Failure: 60}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	r.Tick(ctx)
	if l, err := st.Layer(ctx, "production"); err != nil || l.Entries["checkout"].Override != nil {
		t.Fatalf("after the restart: layer %+v, %v; want no trip", l.Entries, err)
	}
	if s := r.Status(); len(s) != 1 || s[0].State != Closed || s[0].Counts.Total() != 60 {
		t.Fatalf("status after the restart = %+v, want closed with the 60 calls since", s)
	}
	// Real failures after the restart still trip.
	if err := add(store.Counts{Success: 50, Failure: 50}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	r.Tick(ctx)
	if l, err := st.Layer(ctx, "production"); err != nil || l.Entries["checkout"].Override == nil {
		t.Fatalf("failures after the restart: layer %+v, %v; want a trip", l.Entries, err)
	}
}
