package breaker

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
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
	m, clock := newTestDoubleMetrics(), clockwork.NewFakeClockAt(t0)
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
