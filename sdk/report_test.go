package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/sdk/internal/sdktest"
	"github.com/flagpole/flagpole/store"
)

// never is a MetricsInterval that does not tick during a test, so that
// only Close or the test itself sends batches.
const never = time.Hour

// windowOf returns what the fleet's store holds for production in the last
// minute.
func windowOf(t *testing.T, f *sdktest.Fleet) map[string]store.Counts {
	t.Helper()
	got, err := f.Store.WindowCounts(context.Background(), "production", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Counts recorded with Record, Success, Failure and Guard reach the
// bearer's store within a MetricsInterval.
func TestRecordReachesBearer(t *testing.T) {
	f, _, c := reportingClient(t, func(o *Options) { o.MetricsInterval = 20 * time.Millisecond },
		boolFlag("checkout-v2", true), boolFlag("search", false))
	c.Record("checkout-v2", nil)
	c.Record("checkout-v2", errors.New("boom"))
	c.Success("checkout-v2")
	c.Failure("search")
	c.Record("no-such-flag", nil)
	v, err := Guard(c, context.Background(), "checkout-v2", nil,
		func(context.Context) (string, error) { return "new", nil },
		func(context.Context) (string, error) { return "old", nil })
	if v != "new" || err != nil {
		t.Fatalf("Guard = %q, %v; want new", v, err)
	}
	want := map[string]store.Counts{"checkout-v2": {Success: 3, Failure: 1}, "search": {Failure: 1}}
	waitFor(t, "the counts in the store", func() bool { return fmt.Sprint(windowOf(t, f)) == fmt.Sprint(want) })
	waitFor(t, "the stats", func() bool { return c.MetricsStats().SentCalls == 5 })
	if st := c.MetricsStats(); st.UnknownCalls != 1 || st.Pending != 0 || st.DroppedBatches != 0 || st.RejectedBatches != 0 {
		t.Fatalf("stats = %+v, want 1 unknown call and nothing pending, dropped or rejected", st)
	}
}

// Close sends what was recorded since the last batch.
func TestCloseFlushesCounts(t *testing.T) {
	f, _, c := reportingClient(t, func(o *Options) { o.MetricsInterval = never }, boolFlag("checkout-v2", true))
	for range 5 {
		c.Success("checkout-v2")
	}
	c.Failure("checkout-v2")
	if got := windowOf(t, f); len(got) != 0 {
		t.Fatalf("counts before Close: %v, want none (the interval has not passed)", got)
	}
	c.Close()
	if got := windowOf(t, f)["checkout-v2"]; got != (store.Counts{Success: 5, Failure: 1}) {
		t.Fatalf("counts after Close = %+v, want 5 successes and 1 failure", got)
	}
}

// While the bearer is down, batches wait, at most MetricsMaxPending of
// them, the oldest dropped and counted; recording never waits; once the
// bearer is back the batches kept are sent.
func TestCountsWhileBearerDown(t *testing.T) {
	f, b, c := reportingClient(t, func(o *Options) { o.MetricsInterval, o.MetricsMaxPending = never, 3 }, boolFlag("checkout-v2", true))
	b.Stop()
	// One batch per round, as the ticker would make them: round i counts
	// i+1 calls.
	for i := range 5 {
		start := time.Now()
		for range i + 1 {
			c.Success("checkout-v2")
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("recording took %s with the bearer down", d)
		}
		c.rep.collect()
		c.rep.send(context.Background())
	}
	st := c.MetricsStats()
	if st.Pending != 3 || st.DroppedBatches != 2 || st.DroppedCalls != 1+2 || st.SentBatches != 0 {
		t.Fatalf("stats with the bearer down = %+v, want 3 pending, 2 batches (3 calls) dropped", st)
	}
	f.Start(b.Addr).WaitReady(t) // before it has loaded, a bearer answers 503
	c.rep.send(context.Background())
	if st := c.MetricsStats(); st.Pending != 0 || st.SentBatches != 3 || st.SentCalls != 3+4+5 {
		t.Fatalf("stats once the bearer is back = %+v, want the 3 batches (12 calls) sent", st)
	}
	if got := windowOf(t, f)["checkout-v2"]; got.Success != 12 {
		t.Fatalf("store holds %+v, want the 12 calls kept", got)
	}
}

// A batch the bearer refuses (here: the key was revoked) is dropped and
// counted, not sent again and again.
func TestCountsRejected(t *testing.T) {
	f, b, c := reportingClient(t, func(o *Options) { o.MetricsInterval = never }, boolFlag("checkout-v2", true))
	f.RevokeServerKey = true
	f.Publish(doc("v2", boolFlag("checkout-v2", true)))
	// Only once the bearer refuses the key is a batch sure to be refused.
	waitFor(t, "the key refused by the bearer", func() bool {
		req, err := http.NewRequest("GET", b.URL()+"/v1/flags", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+f.ServerKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})
	c.Success("checkout-v2")
	c.rep.collect()
	c.rep.send(context.Background())
	if st := c.MetricsStats(); st.RejectedBatches != 1 || st.Pending != 0 || st.SentBatches != 0 {
		t.Fatalf("stats = %+v, want one batch rejected, nothing pending or sent", st)
	}
}

// reportingClient starts a fleet serving flags from one bearer and a client
// of it with tweak applied to its Options.
func reportingClient(t *testing.T, tweak func(*Options), flags ...*ruleset.Flag) (*sdktest.Fleet, *sdktest.Bearer, *Client) {
	t.Helper()
	f := newFleet(t)
	f.Publish(doc("v1", flags...))
	b := f.Start("127.0.0.1:0")
	b.WaitReady(t) // a client on a fake clock would not retry a first 503
	c, err := newClient(t, b.URL(), f.ServerKey, tweak)
	if err != nil {
		t.Fatal(err)
	}
	return f, b, c
}

// counted returns the calls of flag recorded and not yet collected.
func counted(c *Client, flag string) store.Counts {
	fc := (*c.rep.flags.Load())[flag]
	if fc == nil {
		return store.Counts{}
	}
	return store.Counts{Success: fc.success.Load(), Failure: fc.failure.Load(), Slow: fc.slow.Load()}
}

func TestGuard(t *testing.T) {
	theme := stringFlag("theme", "dark")
	theme.Variants = append(theme.Variants, ruleset.Variant{Name: "light", Value: json.RawMessage(`"light"`)})
	theme.Off = "light" // serves "only", which is not its off variant
	clock := clockwork.NewFakeClock()
	// checkout-v2's breaker counts calls of 100 ms or more as slow: the
	// client reads that from the rule set the bearer streams.
	checkout := boolFlag("checkout-v2", false, "audrey")
	checkout.Breaker = &ruleset.Breaker{Slow: &ruleset.SlowPolicy{Duration: ruleset.Duration(100 * time.Millisecond), Rate: 50}}
	_, _, c := reportingClient(t, func(o *Options) { o.MetricsInterval, o.Clock = never, clock },
		checkout, theme, stringFlag("plain", "x"))
	// "plain" serves its off variant ("only" is both off and default).
	boom := errors.New("boom")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name    string
		ctx     context.Context
		flag    string
		user    string
		newErr  error
		newTook time.Duration
		want    string
		wantErr error
		counts  store.Counts
	}{
		{"on: new path", context.Background(), "checkout-v2", "audrey", nil, 0, "new", nil, store.Counts{Success: 1}},
		{"on: new path fails, old path serves", context.Background(), "checkout-v2", "audrey", boom, 0, "old", nil, store.Counts{Failure: 1}},
		{"on: slow", context.Background(), "checkout-v2", "audrey", nil, 100 * time.Millisecond, "new", nil, store.Counts{Success: 1, Slow: 1}},
		{"on: slow failure", context.Background(), "checkout-v2", "audrey", boom, 150 * time.Millisecond, "old", nil, store.Counts{Failure: 1, Slow: 1}},
		{"on: just under slow", context.Background(), "checkout-v2", "audrey", nil, 99 * time.Millisecond, "new", nil, store.Counts{Success: 1}},
		{"off: old path, nothing recorded", context.Background(), "checkout-v2", "rob", nil, 0, "old", nil, store.Counts{}},
		{"unknown flag: old path", context.Background(), "nope", "audrey", nil, 0, "old", nil, store.Counts{}},
		{"caller gave up: not recorded, no fallback", cancelled, "checkout-v2", "audrey", context.Canceled, 0, "new", context.Canceled, store.Counts{}},
		{"string flag off its off variant: new path", context.Background(), "theme", "", nil, 0, "new", nil, store.Counts{}},
		{"string flag on its off variant: old path", context.Background(), "plain", "", nil, 0, "old", nil, store.Counts{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := counted(c, tc.flag)
			got, err := Guard(c, tc.ctx, tc.flag, Context{"key": tc.user},
				func(context.Context) (string, error) { clock.Advance(tc.newTook); return "new", tc.newErr },
				func(context.Context) (string, error) { return "old", nil })
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Fatalf("Guard = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
			after := counted(c, tc.flag)
			if d := (store.Counts{Success: after.Success - before.Success, Failure: after.Failure - before.Failure, Slow: after.Slow - before.Slow}); d != tc.counts && tc.flag == "checkout-v2" {
				t.Fatalf("recorded %+v, want %+v", d, tc.counts)
			}
		})
	}
	if got := counted(c, "theme"); got != (store.Counts{Success: 1}) {
		t.Fatalf("theme recorded %+v, want one success", got)
	}
	if got := counted(c, "plain"); got != (store.Counts{}) {
		t.Fatalf("plain recorded %+v, want nothing", got)
	}
}

// A slow count collected before its success or failure is carried to the
// next batch, so that no batch claims more slow calls than calls (which the
// bearer refuses).
func TestSlowCarriedOver(t *testing.T) {
	_, _, c := reportingClient(t, func(o *Options) { o.MetricsInterval = never }, boolFlag("checkout-v2", true))
	c.Success("checkout-v2")
	fc := (*c.rep.flags.Load())["checkout-v2"]
	fc.slow.Add(2) // one slow whose call is not counted yet
	c.rep.collect()
	if got := string(c.rep.pending[0].body); got != `{"counts":[{"flag":"checkout-v2","success":1,"failure":0,"slow":1}]}` {
		t.Fatalf("batch = %s", got)
	}
	if fc.slow.Load() != 1 {
		t.Fatalf("slow left for the next batch = %d, want 1", fc.slow.Load())
	}
}

// A flag called more than the bearer takes per entry in one interval is
// sent in several entries, and more than a batch's entries in several
// batches, all accepted.
func TestCountsSplit(t *testing.T) {
	f, _, c := reportingClient(t, func(o *Options) { o.MetricsInterval = never }, boolFlag("checkout-v2", true))
	c.Success("checkout-v2")
	fc := (*c.rep.flags.Load())["checkout-v2"]
	const calls = (maxBatchEntries + 1) * maxEntryCalls
	fc.success.Add(calls - 2)
	fc.failure.Add(1)
	fc.slow.Add(3)
	c.rep.collect()
	if n := len(c.rep.pending); n != 2 {
		t.Fatalf("%d batches, want 2", n)
	}
	c.rep.send(context.Background())
	if st := c.MetricsStats(); st.SentBatches != 2 || st.SentCalls != calls || st.RejectedBatches != 0 {
		t.Fatalf("stats = %+v, want 2 batches of %d calls sent", st, calls)
	}
	if got := windowOf(t, f)["checkout-v2"]; got != (store.Counts{Success: calls - 1, Failure: 1, Slow: 3}) {
		t.Fatalf("store holds %+v", got)
	}
}

func BenchmarkRecord(b *testing.B) {
	c := benchClient(b)
	b.ReportAllocs()
	for b.Loop() {
		c.Record("checkout-v2", nil)
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	c := benchClient(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Record("checkout-v2", nil)
		}
	})
}

func benchClient(b *testing.B) *Client {
	f := sdktest.NewFleet(b)
	f.Publish(doc("v1", boolFlag("checkout-v2", true)))
	br := f.Start("127.0.0.1:0")
	c, err := New(context.Background(), Options{URL: br.URL(), Key: f.ServerKey, MetricsInterval: never,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	c.Record("checkout-v2", nil)
	return c
}
