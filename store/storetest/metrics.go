package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flagpole/flagpole/store"
)

// Metrics checks a store.Metrics: sums over windows, bucket boundaries,
// expiry after store.MetricsRetention, environments kept apart, and many
// bearers adding into one window at once. open returns another handle on
// the same store each time it is called (a second bearer); the store must
// hold no counts yet.
func Metrics(t *testing.T, open func(t *testing.T) store.Metrics) {
	m := open(t)
	// Whole seconds of the real clock: a store may expire by its own clock.
	base := time.Now().Truncate(time.Second)
	add := func(env string, at time.Time, counts map[string]store.Counts) {
		t.Helper()
		if err := m.AddCounts(t.Context(), env, at, counts); err != nil {
			t.Fatalf("AddCounts(%s, %s): %v", env, at.Format(time.RFC3339Nano), err)
		}
	}
	window := func(env string, now time.Time, w time.Duration) map[string]store.Counts {
		t.Helper()
		got, err := m.WindowCounts(t.Context(), env, now, w)
		if err != nil {
			t.Fatalf("WindowCounts(%s, %s, %s): %v", env, now.Format(time.RFC3339Nano), w, err)
		}
		return got
	}
	c := func(s, f, w int64) store.Counts { return store.Counts{Success: s, Failure: f, Slow: w} }

	t.Run("empty", func(t *testing.T) {
		if got := window("production", base, time.Minute); len(got) != 0 {
			t.Fatalf("window of an empty store = %v, want none", got)
		}
	})

	t.Run("sums and boundaries", func(t *testing.T) {
		env := "sums"
		add(env, base.Add(-10*time.Second), map[string]store.Counts{"a": c(100, 100, 100)}) // outside every window below
		add(env, base.Add(-2*time.Second), map[string]store.Counts{"a": c(1, 2, 1)})
		add(env, base.Add(-1*time.Second), map[string]store.Counts{"a": c(10, 0, 0), "b": c(0, 5, 5)})
		add(env, base, map[string]store.Counts{"a": c(3, 0, 0)})
		add(env, base.Add(999*time.Millisecond), map[string]store.Counts{"a": c(4, 1, 0)}) // same bucket as base
		add(env, base.Add(time.Second), map[string]store.Counts{"a": c(1000, 0, 0)})       // after now
		add(env, base, map[string]store.Counts{"zero": {}})                                // nothing counted: absent

		cases := []struct {
			name   string
			now    time.Time
			window time.Duration
			want   map[string]store.Counts
		}{
			{"one bucket", base, time.Second, map[string]store.Counts{"a": c(7, 1, 0)}},
			{"now within its bucket", base.Add(500 * time.Millisecond), time.Second, map[string]store.Counts{"a": c(7, 1, 0)}},
			{"two buckets", base, 2 * time.Second, map[string]store.Counts{"a": c(17, 1, 0), "b": c(0, 5, 5)}},
			{"window rounded up to whole buckets", base, 2500 * time.Millisecond, map[string]store.Counts{"a": c(18, 3, 1), "b": c(0, 5, 5)}},
			{"three buckets", base, 3 * time.Second, map[string]store.Counts{"a": c(18, 3, 1), "b": c(0, 5, 5)}},
			{"earlier now", base.Add(-time.Second), time.Second, map[string]store.Counts{"a": c(10, 0, 0), "b": c(0, 5, 5)}},
			{"before any count", base.Add(-time.Minute), 10 * time.Second, map[string]store.Counts{}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got := window(env, tc.now, tc.window)
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Fatalf("WindowCounts(now %+.1fs, %s) = %v, want %v", tc.now.Sub(base).Seconds(), tc.window, got, tc.want)
				}
			})
		}
		if got := window("other", base, time.Minute); len(got) != 0 {
			t.Fatalf("environment other sees %v, want nothing: environments are apart", got)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		env := "expiry"
		old := base.Add(-store.MetricsRetention - time.Hour)
		add(env, old, map[string]store.Counts{"a": c(1, 0, 0)})
		add(env, base.Add(-30*time.Minute), map[string]store.Counts{"a": c(10, 0, 0)})
		add(env, base, map[string]store.Counts{"a": c(100, 0, 0)})
		if got := window(env, base, 3*store.MetricsRetention); got["a"] != c(110, 0, 0) {
			t.Fatalf("window over the retention = %v, want a: 110 (the bucket older than %s expired)", got, store.MetricsRetention)
		}
		// How a store forgets old buckets is its own (the memory store
		// keeps MetricsRetention behind the newest second; Redis lets each
		// bucket expire MetricsRetention after its last write, by Redis's
		// clock, so that a bearer's skewed clock cannot expire counts at
		// once): each store's own tests check that bound.
	})

	t.Run("many bearers", func(t *testing.T) {
		env := "many"
		const bearers, batches = 8, 50
		var wg sync.WaitGroup
		errs := make(chan error, bearers)
		for i := range bearers {
			b := open(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range batches {
					at := base.Add(time.Duration(j%3) * time.Second)
					counts := map[string]store.Counts{"a": c(1, 2, 1), fmt.Sprintf("b%d", i): c(1, 0, 0)}
					if err := b.AddCounts(t.Context(), env, at, counts); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("AddCounts: %v", err)
		}
		got := window(env, base.Add(2*time.Second), 3*time.Second)
		if got["a"] != c(bearers*batches, 2*bearers*batches, bearers*batches) || len(got) != bearers+1 {
			t.Fatalf("window = %v, want a: {%d %d %d} and b0..b%d: {%d 0 0}", got, bearers*batches, 2*bearers*batches, bearers*batches, bearers-1, batches)
		}
		for i := range bearers {
			if k := fmt.Sprintf("b%d", i); got[k] != c(batches, 0, 0) {
				t.Errorf("%s = %v, want {%d 0 0}", k, got[k], batches)
			}
		}
	})
}
