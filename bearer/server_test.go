package bearer

import (
	"context"
	"errors"
	"github.com/jonboulle/clockwork"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
)

func TestStatus(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"), testDoc("staging", "s1"))
	syncSt := &store.SyncStatus{Source: "/srv/flags", Commit: "abc123", Published: "abc123", LastSync: time.Now().UTC()}
	if err := f.store.PutStatus(context.Background(), syncSt); err != nil {
		t.Fatal(err)
	}
	s := f.openStream("/v1/stream", serverKey)
	s.next(false)
	status, _, body := f.do("GET", "/v1/status", "", "")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	st := decode[Status](t, body)
	if st.Sync == nil || st.Sync.Commit != "abc123" || !st.Ready {
		t.Errorf("sync status %s", body)
	}
	prod := st.Environments["production"]
	if prod.Version != "v1" || prod.Flags != 3 || prod.SSEClients != 1 || prod.LoadedAt.IsZero() {
		t.Errorf("production %+v", prod)
	}
	if st.Environments["staging"].Version != "s1" {
		t.Errorf("staging %+v", st.Environments["staging"])
	}
}

func TestBadSnapshotKeepsLastGood(t *testing.T) {
	f := newFixture(t, Options{RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond}, testDoc("production", "v1"))
	bad := testDoc("production", "v2")
	bad.Flags.Get("banner").Default = "no-such-variant"
	f.publish(bad)
	deadline := time.Now().Add(waitFor)
	for {
		_, _, body := f.do("GET", "/v1/status", "", "")
		env := decode[Status](t, body).Environments["production"]
		if env.LoadError != "" {
			if env.Version != "v1" {
				t.Errorf("serving %s, want the last good v1", env.Version)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no load error in status: %s", body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if status, _, body := f.do("POST", "/v1/evaluate", clientKey, "{}"); status != 200 || decode[evalResponse](t, body).Version != "v1" {
		t.Errorf("evaluate after a bad snapshot: %d %s", status, body)
	}
	f.publish(testDoc("production", "v3"))
	f.waitVersion("production", "v3")
	_, _, body := f.do("GET", "/v1/status", "", "")
	if e := decode[Status](t, body).Environments["production"]; e.LoadError != "" {
		t.Errorf("load error kept after a good snapshot: %+v", e)
	}
}

// flakyStore fails every call while down is set.
type flakyStore struct {
	store.Store
	down  atomic.Bool
	calls atomic.Int64
}

var errDown = errors.New("store is down")

func (s *flakyStore) Snapshot(ctx context.Context, env string) (*store.Snapshot, error) {
	s.calls.Add(1)
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.Snapshot(ctx, env)
}

func (s *flakyStore) Environments(ctx context.Context) ([]string, error) {
	s.calls.Add(1)
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.Environments(ctx)
}

func TestStoreDownRetries(t *testing.T) {
	mem := store.NewMemory()
	if err := mem.Publish(context.Background(), snapshot(testDoc("production", "v1"))); err != nil {
		t.Fatal(err)
	}
	fs := &flakyStore{Store: mem}
	fs.down.Store(true)
	clk := clockwork.NewFakeClock()
	srv, err := New(Options{Store: fs, RetryMin: time.Second, RetryMax: 4 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// Each retry waits for its timer: the clock, not the test, paces them.
	for n := int64(1); n <= 3; n++ {
		if err := clk.BlockUntilContext(t.Context(), 1); err != nil { // the retry timer
			t.Fatal(err)
		}
		if got := fs.calls.Load(); got != n {
			t.Fatalf("%d store calls before retry %d, want %d", got, n, n)
		}
		clk.Advance(4 * time.Second)
		waitUntil(t, "the retry", func() bool { return fs.calls.Load() > n })
	}
	if srv.hub("production") != nil {
		t.Fatal("loaded while the store was down")
	}
	fs.down.Store(false)
	if err := clk.BlockUntilContext(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(4 * time.Second)
	waitUntil(t, "the bearer loads once the store is back", func() bool { return srv.hub("production") != nil })
	// From here on the store's changes, not the clock, drive reloads; the
	// hub's ping ticker and retry timers run on the fake clock.
	go func() {
		for ctx.Err() == nil && clk.BlockUntilContext(ctx, 2) == nil {
			clk.Advance(4 * time.Second)
		}
	}()

	// Down again: a change cannot be loaded, the last good set serves.
	fs.down.Store(true)
	if err := mem.Publish(context.Background(), snapshot(testDoc("production", "v2"))); err != nil {
		t.Fatal(err)
	}
	before := fs.calls.Load()
	waitUntil(t, "the bearer retries the change", func() bool { return fs.calls.Load() >= before+3 })
	if v := srv.hub("production").cur.Load().version; v != "v1" {
		t.Errorf("serving %s while the store is down, want v1", v)
	}
	fs.down.Store(false)
	waitUntil(t, "the change loads once the store is back", func() bool { return srv.hub("production").cur.Load().version == "v2" })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		n        int
		min, max time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{30, 500 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		for range 50 {
			if d := (&Server{opts: Options{RetryMin: 100 * time.Millisecond, RetryMax: time.Second}}).retryPolicy().Delay(tt.n); d < tt.min || d > tt.max {
				t.Errorf("backoff(%d) = %s, want within [%s, %s]", tt.n, d, tt.min, tt.max)
			}
		}
	}
}

func TestNewNeedsStore(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a store succeeded")
	}
}

func TestWebhookAndMetrics(t *testing.T) {
	var hooks atomic.Int64
	hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hooks.Add(1)
		w.WriteHeader(http.StatusAccepted)
	})
	f := newFixture(t, Options{Webhook: hook}, testDoc("production", "v1"))
	if status, _, _ := f.do("POST", "/v1/hooks/git", "", `{"ref":"refs/heads/main"}`); status != http.StatusAccepted || hooks.Load() != 1 {
		t.Errorf("webhook: status %d, %d calls", status, hooks.Load())
	}
	f.do("POST", "/v1/evaluate", clientKey, "{}")
	f.do("POST", "/v1/evaluate", "bad", "{}")
	s := f.openStream("/v1/stream", serverKey)
	s.next(false)
	_, _, body := f.do("GET", "/metrics", "", "")
	for _, want := range []string{
		`flagpole_bearer_requests_total{code="200",route="POST /v1/evaluate"} 1`,
		`flagpole_bearer_requests_total{code="401",route="POST /v1/evaluate"} 1`,
		`flagpole_bearer_request_duration_seconds_count{route="POST /v1/evaluate"} 2`,
		`flagpole_bearer_sse_clients 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The put is counted once written, which may be just after the client
	// has read it.
	waitUntil(t, "the put is counted", func() bool {
		return testutilCounter(t, f, "flagpole_bearer_sse_events_sent_total") == 1
	})
}

// A bearer can be built from outside the module on either store.
var (
	_ Store = store.Store(nil)
	_ Store = (*redisstore.Redis)(nil)
)
