package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/internal/keyring"
	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// Demo keys of flags.example (flags.example/DEMO-KEYS.md).
const (
	viewerKey  = "fp_vwr_all_66faf98ec94faaa13c0f64d463b8f2ad"
	adminKey   = "fp_adm_all_a3882bfd25ff83085ae78c5131e9e2be"
	serverKey  = "fp_srv_prod_00924f0ac53302c0eed957fb2f4f221a"
	clientKey  = "fp_cli_prod_9696b5d062735734a36c80b60533b635"
	adminToken = "fp_test_dashboard_token"
	// stagingViewer is a viewer key added for staging only.
	stagingViewer = "fp_vwr_stg_test_0123456789"
	waitLimit     = 10 * time.Second
)

// fixture is a Dashboard over a memory store holding flags.example.
type fixture struct {
	t     testing.TB
	st    *store.Memory
	d     *Dashboard
	srv   *httptest.Server
	clock *clockwork.FakeClock
	repo  *loader.Repo
}

func newFixture(t testing.TB, opts Options) *fixture {
	t.Helper()
	repo, err := loader.Load("../flags.example", loader.Options{})
	if err != nil {
		t.Fatalf("loading flags.example: %v", err)
	}
	f := &fixture{t: t, st: store.NewMemory(), clock: clockwork.NewFakeClockAt(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)), repo: repo}
	keys := append([]store.Key{}, repo.Settings.Keys...)
	keys = append(keys, store.Key{Name: "staging-viewer", Kind: store.KeyViewer, Environments: []string{"staging"}, SHA256: sha(stagingViewer)})
	for env, doc := range repo.Documents {
		if err := f.st.Publish(context.Background(), &store.Snapshot{Environment: env, Version: doc.Version, Document: doc, Keys: keys, Published: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	opts.Store, opts.Metrics, opts.Clock, opts.AdminToken = f.st, f.st, f.clock, adminToken
	f.d, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.d.Run(ctx); close(done) }()
	f.srv = httptest.NewServer(f.d.Handler())
	t.Cleanup(func() { f.srv.Close(); cancel(); <-done })
	return f
}

func sha(key string) string {
	h := keyring.Sum(key)
	const hexd = "0123456789abcdef"
	b := make([]byte, 64)
	for i, c := range h {
		b[2*i], b[2*i+1] = hexd[c>>4], hexd[c&15]
	}
	return string(b)
}

// do sends a request with key (none when "") and returns status and body.
func (f *fixture) do(method, path, key, body string) (int, []byte) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

// waitUntil polls cond until it holds or waitLimit passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestKeys: nothing without a viewer or admin key; SDK keys are refused;
// a key sees only its environments.
func TestKeys(t *testing.T) {
	f := newFixture(t, Options{})
	tests := []struct {
		name, key, path string
		status          int
		contains        string
	}{
		{"no key", "", "/ui/api/flags", 401, "missing key"},
		{"unknown key", "fp_nope", "/ui/api/flags", 401, "unknown key"},
		{"server key", serverKey, "/ui/api/flags", 403, "SDK key"},
		{"client key", clientKey, "/ui/api/breakers", 403, "SDK key"},
		{"client key on the stream", clientKey, "/ui/api/events", 403, "SDK key"},
		{"viewer", viewerKey, "/ui/api/session", 200, `"kind":"viewer","environments":["production","staging"],"admin_environments":[]`},
		{"admin", adminKey, "/ui/api/session", 200, `"kind":"admin"`},
		{"admin token", adminToken, "/ui/api/session", 200, `"name":"admin-token","kind":"admin"`},
		{"staging viewer sees staging only", stagingViewer, "/ui/api/flags", 200, `"environments":["staging"]`},
		{"staging viewer and production", stagingViewer, "/ui/api/flags/production/checkout-v2", 404, "no environment"},
		{"viewer on a flag", viewerKey, "/ui/api/flags/production/checkout-v2", 200, `"audience_words"`},
		{"unknown flag", viewerKey, "/ui/api/flags/production/nope", 404, `no flag \"nope\"`},
		{"the page needs no key", "", "/ui/", 200, "<title>Flagpole dashboard</title>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do("GET", tt.path, tt.key, "")
			if status != tt.status || !strings.Contains(string(body), tt.contains) {
				t.Errorf("GET %s = %d %s, want %d with %s", tt.path, status, body, tt.status, tt.contains)
			}
		})
	}
	// The staging viewer's list holds no production state.
	_, body := f.do("GET", "/ui/api/flags", stagingViewer, "")
	if strings.Contains(string(body), `"production"`) {
		t.Errorf("a staging key sees production: %s", body)
	}
}

// TestEvaluate: the trace of eval --explain, and bad bodies refused.
func TestEvaluate(t *testing.T) {
	f := newFixture(t, Options{MaxBodyBytes: 512})
	path := "/ui/api/flags/production/west-coast-student-banner/evaluate"
	status, body := f.do("POST", path, viewerKey, `{"context":{"key":"juan","state":"CA","student":true}}`)
	if status != 200 {
		t.Fatalf("evaluate: %d %s", status, body)
	}
	got := decode[map[string]any](t, body)
	doc := f.repo.Documents["production"]
	rs, err := ruleset.CompileWith(doc, ruleset.Options{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ := ruleset.ParseContext([]byte(`{"key":"juan","state":"CA","student":true}`))
	res, tr := rs.Explain("west-coast-student-banner", ctx)
	if got["variant"] != res.Variant || got["reason"] != res.Reason.String() || got["trace"] != tr.String() {
		t.Errorf("evaluate = %v, want variant %s reason %s trace\n%s", got, res.Variant, res.Reason, tr)
	}
	for _, tt := range []struct {
		name, body string
		status     int
	}{
		{"not JSON", `{`, 400},
		{"context not an object", `{"context":[1]}`, 400},
		{"too large", `{"context":{"key":"` + strings.Repeat("x", 600) + `"}}`, 413},
	} {
		if status, body := f.do("POST", path, viewerKey, tt.body); status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, status, body, tt.status)
		}
	}
}

// TestBreakers: the window's figures, a crossing before the trip, the
// breaker's override counted as a trip once, and the history kept.
func TestBreakers(t *testing.T) {
	f := newFixture(t, Options{HistoryLen: 3})
	ctx := context.Background()
	// recommendations-v2: window 10s, min 20, error rate 20%.
	const flag = "recommendations-v2"
	if err := f.st.AddCounts(ctx, "production", f.clock.Now(), map[string]store.Counts{flag: {Success: 15, Failure: 10}}); err != nil {
		t.Fatal(err)
	}
	f.d.tick(ctx)
	b, ok := f.d.breakerOfFlag("production", flag)
	if !ok || b.State != "closed" || !b.Crossing || b.ErrorRate != 40 || b.Threshold != 20 || b.Counts.Total() != 25 || b.Window != "10s" {
		t.Fatalf("before the trip: %+v", b)
	}
	// The breaker trips it: its override, by "breaker".
	at := f.clock.Now().Truncate(time.Second)
	o := &ruleset.Override{Flag: flag, Environment: "production", Serve: "off", By: "breaker", At: at, Reason: "breaker: error rate 40.0%",
		Recovery: &ruleset.Recovery{StartAt: at.Add(10 * time.Second), Start: 25, Step: 25, Every: ruleset.Duration(10 * time.Second)}}
	if _, err := f.st.SetOverride(ctx, "production", store.LayerEntry{Flag: flag, Override: o}); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		f.clock.Advance(time.Second)
		f.d.tick(ctx)
	}
	b, _ = f.d.breakerOfFlag("production", flag)
	if b.State != "open" || b.Trips24h != 1 || b.LastTrip == nil || !b.LastTrip.Equal(at) || len(b.Trips) != 1 || !b.Trips[0].Equal(at) || b.NextStep == nil || len(b.History) != 3 {
		t.Fatalf("after the trip: %+v", b)
	}
	if h := b.History; h[0].At >= h[1].At || h[2].State != "open" {
		t.Errorf("history not in order or not open: %+v", h)
	}
	// Recovering, then 25 h later the trip is forgotten.
	f.clock.Advance(10 * time.Second)
	f.d.tick(ctx)
	if b, _ = f.d.breakerOfFlag("production", flag); b.State != "recovering" || b.Cap != 25 {
		t.Errorf("recovering: %+v", b)
	}
	if err := f.st.DropOverride(ctx, "production", flag, 1); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(25 * time.Hour)
	f.d.tick(ctx)
	if b, _ = f.d.breakerOfFlag("production", flag); b.Trips24h != 0 {
		t.Errorf("a trip older than 24 h is still counted: %+v", b)
	}
}

// stream opens /ui/api/events with key and returns its events by name.
func (f *fixture) stream(ctx context.Context, key string) (*http.Response, <-chan string) {
	f.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/ui/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	names := make(chan string, 100)
	if resp.StatusCode != 200 {
		close(names)
		return resp, names
	}
	go func() {
		defer close(names)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				select {
				case names <- name:
				default:
				}
			}
		}
	}()
	return resp, names
}

func next(t *testing.T, names <-chan string, want string) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case n, ok := <-names:
			if !ok {
				t.Fatalf("the stream ended before a %q event", want)
			}
			if n == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q event within %s", want, waitLimit)
		}
	}
}

// TestEvents: hello, then breakers samples and changes, pushed; a key's
// streams are limited.
func TestEvents(t *testing.T) {
	f := newFixture(t, Options{MaxStreamsPerKey: 1, MaxStreams: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, names := f.stream(ctx, viewerKey)
	defer resp.Body.Close()
	next(t, names, "hello")
	waitUntil(t, "the stream to join the hub", func() bool { return f.d.hub.count() == 1 })
	f.clock.Advance(time.Second)
	next(t, names, "breakers")
	if _, err := f.st.SetOverride(ctx, "production", store.LayerEntry{Flag: "debug-panel",
		Override: &ruleset.Override{Flag: "debug-panel", Serve: "off", By: "test", At: f.clock.Now()}}); err != nil {
		t.Fatal(err)
	}
	next(t, names, "change")

	// A second stream of the same key is over its limit.
	if r2, _ := f.stream(ctx, viewerKey); r2.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a second stream of one key: %d, want 429", r2.StatusCode)
	}
	// Another key may open one; a third stream is over the server's limit.
	r3, n3 := f.stream(ctx, adminKey)
	defer r3.Body.Close()
	next(t, n3, "hello")
	waitUntil(t, "two streams", func() bool { return f.d.hub.count() == 2 })
	if r4, _ := f.stream(ctx, adminToken); r4.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a stream over the server's limit: %d, want 429", r4.StatusCode)
	}
	// Closing a stream frees its place.
	resp.Body.Close()
	waitUntil(t, "the closed stream to leave", func() bool { return f.d.hub.count() == 1 })
	r5, n5 := f.stream(ctx, viewerKey)
	defer r5.Body.Close()
	next(t, n5, "hello")
}

// TestSlowStreamDropped: a stream that does not read is dropped once its
// buffer fills; the hub never waits for it.
func TestSlowStreamDropped(t *testing.T) {
	h := newHub(10, 10)
	p := &principal{Envs: []string{"production"}, envs: map[string]bool{"production": true}}
	c, _ := h.join(p)
	for range streamBuffer + 5 {
		h.publish(event{name: "change", data: map[string]any{}})
	}
	select {
	case <-c.gone:
	case <-time.After(waitLimit):
		t.Fatal("a stream with a full buffer was not dropped")
	}
	waitUntil(t, "the hub to forget it", func() bool { return h.count() == 0 })
}

// TestStaticPage: the page's files, their security headers and weight.
func TestStaticPage(t *testing.T) {
	f := newFixture(t, Options{})
	total := 0
	for _, name := range []string{"", "app.js", "app.css"} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/ui/"+name, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		total += len(b)
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("/ui/%s: %d, CSP %q", name, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
	}
	if total > 150<<10 {
		t.Errorf("the page weighs %d bytes, over its 150 KiB budget", total)
	}
	if status, _ := f.do("GET", "/ui/nope.js", "", ""); status != 404 {
		t.Errorf("an unknown file: %d", status)
	}
}

// failingWatch is a memory store whose Watch fails a number of times, as
// Redis does while it is down.
type failingWatch struct {
	*store.Memory
	fails atomic.Int32
	tries atomic.Int32
}

func (s *failingWatch) Watch(ctx context.Context) (<-chan store.Change, error) {
	s.tries.Add(1)
	if s.fails.Add(-1) >= 0 {
		return nil, errors.New("connection refused")
	}
	return s.Memory.Watch(ctx)
}

// TestWatchRetried: a store whose watch fails does not stop the
// dashboard: it samples on, retries with backoff, and forwards changes
// once the watch opens.
func TestWatchRetried(t *testing.T) {
	mem := store.NewMemory()
	repo, err := loader.Load("../flags.example", loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc := repo.Documents["production"]
	if err := mem.Publish(context.Background(), &store.Snapshot{Environment: "production", Version: doc.Version, Document: doc, Keys: repo.Settings.Keys}); err != nil {
		t.Fatal(err)
	}
	st := &failingWatch{Memory: mem}
	st.fails.Store(2)
	clock := clockwork.NewFakeClock()
	d, err := New(Options{Store: st, Metrics: mem, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for want := int32(2); want <= 3; want++ {
		// The ticker and the retry's timer wait on the clock.
		if err := clock.BlockUntilContext(ctx, 2); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		waitUntil(t, "another watch attempt", func() bool { return st.tries.Load() >= want })
	}
	if _, ok := d.breakerOfFlag("production", "checkout-v2"); !ok {
		t.Error("no breaker sampled while the watch was failing")
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	f := &fixture{t: t, srv: srv, d: d}
	resp, names := f.stream(ctx, "fp_vwr_all_66faf98ec94faaa13c0f64d463b8f2ad")
	defer resp.Body.Close()
	next(t, names, "hello")
	waitUntil(t, "the stream to join", func() bool { return d.hub.count() == 1 })
	if _, err := mem.SetOverride(ctx, "production", store.LayerEntry{Flag: "debug-panel",
		Override: &ruleset.Override{Flag: "debug-panel", Serve: "off", By: "test", At: clock.Now()}}); err != nil {
		t.Fatal(err)
	}
	next(t, names, "change")
	select {
	case err := <-done:
		t.Fatalf("Run returned %v", err)
	default:
	}
}
