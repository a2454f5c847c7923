package breaker

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// countingMetrics counts the WindowCounts calls made to a real
// store.Metrics (the memory store's, or Redis's), so that tests can check
// that a tick reads each environment's window once.
type countingMetrics struct {
	store.Metrics
	mu    sync.Mutex
	calls map[string]int // WindowCounts calls per environment
}

// newCountingMetrics counts the calls to a new memory store's metrics.
func newCountingMetrics() *countingMetrics { return countCalls(store.NewMemory()) }

func countCalls(m store.Metrics) *countingMetrics {
	return &countingMetrics{Metrics: m, calls: map[string]int{}}
}

func (m *countingMetrics) WindowCounts(ctx context.Context, env string, now time.Time, window time.Duration) (map[string]store.Counts, error) {
	m.mu.Lock()
	m.calls[env]++
	m.mu.Unlock()
	return m.Metrics.WindowCounts(ctx, env, now, window)
}

func (m *countingMetrics) windowCalls(env string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[env]
}

// doc is production with checkout (breaker: error_rate 5) and plain (no
// breaker block).
func doc() *ruleset.Document {
	vars := []ruleset.Variant{{Name: "on", Value: json.RawMessage("true")}, {Name: "off", Value: json.RawMessage("false")}}
	b := ruleset.Breaker{Window: ruleset.Duration(time.Minute), MinRequests: 100, ErrorRate: 5,
		Recovery: ruleset.RecoveryPolicy{Delay: ruleset.Duration(5 * time.Minute), Start: 10, Step: 10,
			Every: ruleset.Duration(time.Minute)}, OnTrip: "override"}
	return &ruleset.Document{Version: "v1", Environment: "production", Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{
		"checkout": {Key: "checkout", Type: ruleset.TypeBoolean, Variants: vars, Enabled: true, Off: "off", Default: "on", Breaker: &b},
		"plain":    {Key: "plain", Type: ruleset.TypeBoolean, Variants: vars, Enabled: true, Off: "off", Default: "on"},
	})}
}

type runnerFixture struct {
	st     *store.Memory
	m      *countingMetrics
	clock  *clockwork.FakeClock
	locker *store.MemoryLocker
}

func newRunnerFixture(t *testing.T) *runnerFixture {
	t.Helper()
	f := &runnerFixture{st: store.NewMemory(), m: newCountingMetrics(),
		clock: clockwork.NewFakeClockAt(t0), locker: store.NewMemoryLocker()}
	if err := f.st.Publish(context.Background(), &store.Snapshot{Environment: "production", Version: "v1", Document: doc()}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *runnerFixture) runner(t *testing.T) *Runner {
	t.Helper()
	r, err := NewRunner(RunnerOptions{Store: f.st, Metrics: f.m, Locker: f.locker, Clock: f.clock,
		Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fail adds failing and good calls of flag at the clock's time.
func (f *runnerFixture) calls(t *testing.T, flag string, c store.Counts) {
	t.Helper()
	if err := f.m.AddCounts(context.Background(), "production", f.clock.Now(), map[string]store.Counts{flag: c}); err != nil {
		t.Fatal(err)
	}
}

// set stores e in production's layer, as the admin API would.
func (f *runnerFixture) set(t *testing.T, e store.LayerEntry) {
	t.Helper()
	if _, err := f.st.SetOverride(context.Background(), "production", e); err != nil {
		t.Fatal(err)
	}
}

// failTick adds 50 failing and 50 good calls of checkout and ticks r once.
func (f *runnerFixture) failTick(t *testing.T, r *Runner) {
	t.Helper()
	f.calls(t, "checkout", store.Counts{Success: 50, Failure: 50})
	r.Tick(context.Background())
}

// wantTrip fails the test, saying what, unless checkout's layer entry is
// a set override.
func (f *runnerFixture) wantTrip(t *testing.T, what string) {
	t.Helper()
	if e, _ := f.entry(t, "checkout"); e.Override == nil {
		t.Fatalf("%s: %+v", what, e)
	}
}

// wantNoTrip fails the test, saying what, if checkout's layer entry is a
// set override.
func (f *runnerFixture) wantNoTrip(t *testing.T, what string) {
	t.Helper()
	if e, _ := f.entry(t, "checkout"); e.Override != nil {
		t.Fatalf("%s: %+v", what, e)
	}
}

func (f *runnerFixture) entry(t *testing.T, flag string) (store.LayerEntry, bool) {
	t.Helper()
	l, err := f.st.Layer(context.Background(), "production")
	if err != nil {
		t.Fatal(err)
	}
	e, ok := l.Entries[flag]
	return e, ok
}

func TestRunnerTripsWithinOneTick(t *testing.T) {
	f := newRunnerFixture(t)
	r := f.runner(t)
	ctx := context.Background()
	f.calls(t, "checkout", store.Counts{Success: 2898, Failure: 412})
	f.calls(t, "plain", store.Counts{Success: 10, Failure: 990}) // no breaker block: never
	r.Tick(ctx)
	e, ok := f.entry(t, "checkout")
	if !ok || e.Override == nil {
		t.Fatalf("no trip in the layer after one tick: %+v", e)
	}
	if e.By != By || e.Requester != By || e.Override.Serve != "off" || e.Override.By != By ||
		e.Override.Reason != "breaker: error rate 12.4% (412 of 3310 calls in 60s) ≥ 5%" ||
		!e.Override.Recovery.StartAt.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("entry = %+v, override %+v", e, e.Override)
	}
	if _, ok := f.entry(t, "plain"); ok {
		t.Error("plain has no breaker block but was tripped")
	}
	if n := f.m.windowCalls("production"); n != 1 {
		t.Errorf("%d WindowCounts calls for one environment, want 1", n)
	}
	if got := testutil.ToFloat64(r.trips.WithLabelValues("production", "checkout")); got != 1 {
		t.Errorf("trips_total = %v", got)
	}
	// The next ticks see the trip (Open) and do not trip again.
	f.clock.Advance(time.Second)
	r.Tick(ctx)
	if got := testutil.ToFloat64(r.trips.WithLabelValues("production", "checkout")); got != 1 {
		t.Errorf("trips_total after a second tick = %v", got)
	}
	st := r.Status()
	if len(st) != 1 || st[0].State != Open || st[0].Threshold != 5 || st[0].Counts.Failure != 412 ||
		st[0].NextStep == nil || !st[0].NextStep.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("status = %+v", st)
	}
}

func TestRunnerRecoversAndClears(t *testing.T) {
	f := newRunnerFixture(t)
	r := f.runner(t)
	ctx := context.Background()
	if n := testutil.CollectAndCount(r.state); n != 0 {
		t.Errorf("%d state series before any trip, want none (closed breakers have no series)", n)
	}
	f.failTick(t, r)
	if got := testutil.ToFloat64(r.state.WithLabelValues("production", "checkout")); got != float64(Open) {
		t.Errorf("state gauge after the trip = %v, want %d", got, Open)
	}
	f.clock.Advance(7 * time.Minute) // cap 30, healthy traffic
	f.calls(t, "checkout", store.Counts{Success: 100})
	r.Tick(ctx)
	if st := r.Status(); st[0].State != Recovering || st[0].Cap != 30 || st[0].MinRequests != 30 {
		t.Fatalf("status at +7m = %+v", st[0])
	}
	if got := testutil.ToFloat64(r.state.WithLabelValues("production", "checkout")); got != float64(Recovering) {
		t.Errorf("state gauge while recovering = %v, want %d", got, Recovering)
	}
	f.clock.Advance(7 * time.Minute) // cap 100
	r.Tick(ctx)
	if n := testutil.CollectAndCount(r.state); n != 0 {
		t.Errorf("%d state series after the recovery, want none", n)
	}
	e, ok := f.entry(t, "checkout")
	if !ok || e.Override != nil || e.By != By || e.Reason != "breaker: recovered (10% to 100% of users from 2026-11-21T10:05:00Z)" {
		t.Fatalf("no recovery tombstone: %+v", e)
	}
	if got := testutil.ToFloat64(r.recoveries.WithLabelValues("production", "checkout")); got != 1 {
		t.Errorf("recoveries_total = %v", got)
	}
	// Recovered by the breaker itself: no hold-off, a new failure trips.
	f.clock.Advance(time.Second)
	f.failTick(t, r)
	f.wantTrip(t, "no trip after recovery")
}

// TestRunnerRecoveryJudgesTheRampsCalls: with a recovery delay shorter
// than the window, the calls that tripped the flag are still in the window
// when the ramp starts; only the calls since then count.
func TestRunnerRecoveryJudgesTheRampsCalls(t *testing.T) {
	f := newRunnerFixture(t)
	d := doc()
	d.Flags.Get("checkout").Breaker.Window = ruleset.Duration(10 * time.Minute) // the delay is 5m
	if err := f.st.Publish(context.Background(), &store.Snapshot{Environment: "production", Version: "v2", Document: d}); err != nil {
		t.Fatal(err)
	}
	r := f.runner(t)
	ctx := context.Background()
	f.failTick(t, r)
	f.clock.Advance(5*time.Minute + time.Second) // cap 10: min_requests 10
	f.calls(t, "checkout", store.Counts{Success: 20})
	r.Tick(ctx)
	if st := r.Status(); st[0].State != Recovering || st[0].Counts != (store.Counts{Success: 20}) {
		t.Fatalf("status at the ramp's start = %+v; want recovering on the ramp's 20 good calls", st[0])
	}
	f.clock.Advance(time.Second)
	f.calls(t, "checkout", store.Counts{Failure: 5})
	r.Tick(ctx)
	e, _ := f.entry(t, "checkout")
	if e.Override == nil || e.Override.Reason != "breaker: error rate 20.0% (5 of 25 calls in 3s) ≥ 5%" {
		t.Fatalf("the ramp's own failures did not trip it again: %+v, override %+v", e, e.Override)
	}
}

// TestRunnerLateReportsDoNotRetrip: counts are stamped when they arrive,
// so failures of calls made before a trip land up to LateReports after
// it. With a ramp that starts 1 s after the trip, they must not trip the
// flag again; the ramp's own failures after that still do.
func TestRunnerLateReportsDoNotRetrip(t *testing.T) {
	f := newRunnerFixture(t)
	d := doc()
	b := d.Flags.Get("checkout").Breaker
	b.Window, b.MinRequests = ruleset.Duration(10*time.Second), 20
	b.Recovery = ruleset.RecoveryPolicy{Delay: ruleset.Duration(time.Second), Start: 25, Step: 25, Every: ruleset.Duration(time.Second)}
	if err := f.st.Publish(context.Background(), &store.Snapshot{Environment: "production", Version: "v2", Document: d}); err != nil {
		t.Fatal(err)
	}
	r := f.runner(t)
	ctx := context.Background()
	f.failTick(t, r)
	first, _ := f.entry(t, "checkout")
	// The SDKs' last batches before the trip arrive 1 s later, in the
	// ramp's first second.
	f.clock.Advance(time.Second)
	f.calls(t, "checkout", store.Counts{Success: 10, Failure: 30})
	r.Tick(ctx)
	if e, _ := f.entry(t, "checkout"); !e.Override.At.Equal(first.Override.At) {
		t.Fatalf("late reports of the calls before the trip tripped it again: %s", e.Override.Reason)
	}
	if st := r.Status(); st[0].State != Recovering {
		t.Fatalf("status = %+v, want recovering", st[0])
	}
	// From LateReports after the trip, the ramp's own failures count.
	f.clock.Advance(LateReports)
	f.calls(t, "checkout", store.Counts{Success: 5, Failure: 20})
	r.Tick(ctx)
	if e, _ := f.entry(t, "checkout"); e.Override.At.Equal(first.Override.At) {
		t.Fatalf("the ramp's own failures did not trip it again: %+v", e.Override)
	}
}

func TestRunnerRespectsAPersonsClear(t *testing.T) {
	f := newRunnerFixture(t)
	r := f.runner(t)
	ctx := context.Background()
	f.failTick(t, r)
	f.clock.Advance(10 * time.Second)
	f.set(t, store.LayerEntry{Flag: "checkout", At: f.clock.Now(), By: "alice"})
	r.Tick(ctx)
	if e, _ := f.entry(t, "checkout"); e.Override != nil || e.By != "alice" {
		t.Fatalf("the breaker undid alice's clear: %+v", e)
	}
	// The same window's failures do not trip again; calls after it do.
	f.clock.Advance(59 * time.Second)
	r.Tick(ctx)
	f.wantNoTrip(t, "re-tripped within the window of alice's clear")
	f.clock.Advance(2 * time.Second)
	f.failTick(t, r)
	f.wantTrip(t, "failures after the clear's window did not trip")
}

// TestRunnerRespectsAPullRequestsClear: the breaker's override leaves git
// (a merged pull request deleted the file) with no tombstone; the breaker
// holds off for a window from when it noticed.
func TestRunnerRespectsAPullRequestsClear(t *testing.T) {
	f := newRunnerFixture(t)
	r := f.runner(t)
	ctx := context.Background()
	f.failTick(t, r)
	e, _ := f.entry(t, "checkout")
	// The sync published the trip, then the pull request's commit without it.
	if err := f.st.DropOverride(ctx, "production", "checkout", e.Seq); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * time.Second)
	r.Tick(ctx)
	f.wantNoTrip(t, "re-tripped at once after the pull request's clear")
	if st := r.Status(); st[0].State != Closed || !strings.HasPrefix(st[0].Note, "held:") {
		t.Errorf("status = %+v", st[0])
	}
	f.clock.Advance(61 * time.Second)
	f.failTick(t, r)
	f.wantTrip(t, "failures a window after the clear did not trip")
}

func TestRunnerLeavesAPersonsOverride(t *testing.T) {
	f := newRunnerFixture(t)
	r := f.runner(t)
	o := &ruleset.Override{Flag: "checkout", Serve: "on", By: "alice", At: t0}
	f.set(t, store.LayerEntry{Flag: "checkout", Override: o})
	f.failTick(t, r)
	if e, _ := f.entry(t, "checkout"); e.Override == nil || e.Override.By != "alice" {
		t.Fatalf("alice's override was replaced: %+v", e)
	}
}

// TestRunnerLeaderLock runs two Runners on one locker: only one acts; when
// it stops mid-recovery the standby continues from the override and the
// clock, without tripping again.
func TestRunnerLeaderLock(t *testing.T) {
	f := newRunnerFixture(t)
	a, b := f.runner(t), f.runner(t)
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	doneA, doneB := make(chan struct{}), make(chan struct{})
	go func() { _ = a.Run(ctxA); close(doneA) }()
	waitFor(t, "a to lead", a.Leading)
	go func() { _ = b.Run(ctxB); close(doneB) }()

	f.calls(t, "checkout", store.Counts{Success: 50, Failure: 50})
	waitTick(t, f.clock)
	waitFor(t, "the trip", func() bool { e, _ := f.entry(t, "checkout"); return e.Override != nil })
	if b.Leading() || len(b.Status()) != 0 {
		t.Fatal("the standby acts while a leads")
	}
	e, _ := f.entry(t, "checkout")
	first := e.Override.At

	// Mid-recovery (cap 20), a stops; b takes over.
	f.clock.Advance(6*time.Minute + time.Second)
	stopA()
	<-doneA
	waitFor(t, "b to lead", b.Leading)
	waitFor(t, "b's decision", func() bool { s := b.Status(); return len(s) == 1 && s[0].State == Recovering })
	if s := b.Status()[0]; s.Cap != 20 {
		t.Errorf("b sees cap %v, want 20", s.Cap)
	}
	if e, _ := f.entry(t, "checkout"); !e.Override.At.Equal(first) {
		t.Errorf("b tripped again: at %v, first %v", e.Override.At, first)
	}
	if got := testutil.ToFloat64(a.trips.WithLabelValues("production", "checkout")) +
		testutil.ToFloat64(b.trips.WithLabelValues("production", "checkout")); got != 1 {
		t.Errorf("%v trips in all, want 1", got)
	}
	stopB()
	<-doneB
}

// waitTick advances the fake clock by one interval once a ticker waits.
func waitTick(t *testing.T, c *clockwork.FakeClock) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c.Advance(DefaultInterval)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
