package bearer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/jonboulle/clockwork"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// withDefault returns a copy of doc at version whose flag key has a new
// default variant.
func withDefault(doc *ruleset.Document, version, key, variant string) *ruleset.Document {
	nd := *doc
	nd.Version = version
	nd.Flags = ruleset.NewFlagMap(map[string]*ruleset.Flag{})
	for k, f := range doc.Flags.All() {
		nd.Flags = nd.Flags.With(map[string]*ruleset.Flag{k: f})
	}
	nf := *doc.Flags.Get(key)
	nf.Default = variant
	nd.Flags = nd.Flags.With(map[string]*ruleset.Flag{key: &nf})
	return &nd
}

func TestStreamPutThenPatch(t *testing.T) {
	v1 := testDoc("production", "v1")
	f := newFixture(t, Options{}, v1)
	s := f.openStream("/v1/stream", serverKey)
	put := s.next(false)
	if put.Event != "put" || put.ID != "v1" {
		t.Fatalf("first event %+v, want put v1", put)
	}
	if doc := decode[ruleset.Document](t, []byte(put.Data)); doc.Version != "v1" || doc.Flags.Len() != 3 {
		t.Errorf("put data %s", put.Data)
	}
	v2 := withDefault(v1, "v2", "checkout-v2", "on")
	f.publish(v2)
	patch := s.next(false)
	if patch.Event != "patch" || patch.ID != "v2" {
		t.Fatalf("event %+v, want patch v2", patch)
	}
	p := decode[ruleset.Patch](t, []byte(patch.Data))
	if p.Base != "v1" || p.Version != "v2" || len(p.Flags) != 1 || p.Flags["checkout-v2"] == nil || p.Flags["checkout-v2"].Default != "on" {
		t.Errorf("patch %s", patch.Data)
	}
	// The patch applies to what the put gave.
	doc := decode[ruleset.Document](t, []byte(put.Data))
	if nd, err := doc.Apply(&p); err != nil || nd.Flags.Get("checkout-v2").Default != "on" {
		t.Errorf("applying patch: %v", err)
	}
	v3 := withDefault(v2, "v3", "color", "blue")
	f.publish(v3)
	if ev := s.next(false); ev.Event != "patch" || ev.ID != "v3" || decode[ruleset.Patch](t, []byte(ev.Data)).Base != "v2" {
		t.Errorf("second patch %+v", ev)
	}
}

func TestStreamResume(t *testing.T) {
	v1 := testDoc("production", "v1")
	f := newFixture(t, Options{}, v1)
	tests := []struct {
		name, lastID string
		wantPut      bool
	}{
		{"current version resumes", "v1", false},
		{"old version gets a put", "v0", true},
		{"no Last-Event-ID gets a put", "", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.lastID != "" {
				hdr = []string{"Last-Event-ID", tt.lastID}
			}
			s := f.openStream("/v1/stream", serverKey, hdr...)
			base := f.srv.hub("production").cur.Load().version
			next := fmt.Sprintf("r%d", i)
			if !tt.wantPut {
				// The first event must be the patch of the next change.
				f.publish(withDefault(v1, next, "color", "blue"))
				if ev := s.next(false); ev.Event != "patch" || ev.ID != next || decode[ruleset.Patch](t, []byte(ev.Data)).Base != base {
					t.Errorf("first event %+v, want patch %s from %s", ev, next, base)
				}
				return
			}
			if ev := s.next(false); ev.Event != "put" || ev.ID != base {
				t.Errorf("first event %+v, want put %s", ev, base)
			}
		})
	}
}

func TestStreamPing(t *testing.T) {
	clk := clockwork.NewFakeClock()
	f := newFixture(t, Options{Clock: clk}, testDoc("production", "v1"))
	s := f.openStream("/v1/stream", serverKey)
	if ev := s.next(true); ev.Event != "put" {
		t.Fatalf("first event %+v", ev)
	}
	if err := clk.BlockUntilContext(t.Context(), 1); err != nil { // the hub's ping ticker
		t.Fatal(err)
	}
	clk.Advance(DefaultPingInterval)
	if ev := s.next(true); ev.Comment != "ping" {
		t.Errorf("event %+v, want a ping comment", ev)
	}
}

func TestStreamKeyRemoved(t *testing.T) {
	v1 := testDoc("production", "v1")
	f := newFixture(t, Options{}, v1)
	server := f.openStream("/v1/stream", serverKey)
	evaluated := f.openStream("/v1/stream/evaluated", clientKey)
	server.next(false)
	evaluated.next(false)

	// v2 drops the server key but keeps the client key.
	snap := snapshot(withDefault(v1, "v2", "color", "blue"))
	snap.Keys = []store.Key{testKeys()[1]}
	f.publishSnap(snap)
	for _, ev := range server.waitEnd() {
		if ev.ID == "v2" {
			t.Errorf("removed key got an event of the version that removed it: %+v", ev)
		}
	}
	if ev := evaluated.next(false); ev.Event != "put" || ev.ID != "v2" {
		t.Errorf("client stream: %+v, want put v2", ev)
	}
	if status, _, _ := f.do("GET", "/v1/flags", serverKey, ""); status != 401 {
		t.Errorf("removed key: status %d, want 401", status)
	}
}

func TestShutdownClosesStreams(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"))
	s := f.openStream("/v1/stream", serverKey)
	s.next(false)
	f.stop()
	s.waitEnd()
	if status, _, _ := f.do("GET", "/v1/stream", serverKey, ""); status != 503 {
		t.Errorf("stream after shutdown: status %d, want 503", status)
	}
}

func TestEvaluatedStream(t *testing.T) {
	v1 := testDoc("production", "v1")
	f := newFixture(t, Options{}, v1)
	ctx := base64.RawURLEncoding.EncodeToString([]byte(`{"key":"bob","state":"CA"}`))
	s := f.openStream("/v1/stream/evaluated?context="+ctx, clientKey)
	put := s.next(false)
	if put.Event != "put" || put.ID != "v1" {
		t.Fatalf("first event %+v", put)
	}
	got := decode[evalResponse](t, []byte(put.Data))
	if len(got.Flags) != 2 || got.Flags["banner"].Variant != "off" || got.Flags["color"].Value != "#f00" {
		t.Errorf("put %s", put.Data)
	}
	// v2 changes a server-only flag, v3 a flag bob gets the same value
	// from, v4 changes bob's banner: only v4 is sent.
	v2 := withDefault(v1, "v2", "checkout-v2", "on")
	v3 := withDefault(v2, "v3", "banner", "off")
	v3.Flags.Get("banner").Rules = append([]ruleset.Rule{{Users: []string{"zoe"}, Serve: "on"}}, v3.Flags.Get("banner").Rules...)
	v4 := withDefault(v3, "v4", "banner", "on")
	for _, d := range []*ruleset.Document{v2, v3, v4} {
		f.publish(d)
		f.waitVersion("production", d.Version)
	}
	ev := s.next(false)
	if ev.Event != "put" || ev.ID != "v4" {
		t.Fatalf("event %+v, want put v4", ev)
	}
	if got := decode[evalResponse](t, []byte(ev.Data)); got.Flags["banner"].Value != true {
		t.Errorf("put v4 %s", ev.Data)
	}
}

func TestEvaluatedStreamBadInput(t *testing.T) {
	f := newFixture(t, Options{MaxContextBytes: 256}, testDoc("production", "v1"))
	enc := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name, query, key string
		want             int
		wantIn           string
	}{
		{"not base64", "context=@@@", clientKey, 400, "base64"},
		{"not JSON", "context=" + enc([]byte(`{"key":`)), clientKey, 400, "context"},
		{"object attribute", "context=" + enc([]byte(`{"geo":{"x":1}}`)), clientKey, 400, "geo"},
		{"too large", "context=" + enc([]byte(`{"key":"`+strings.Repeat("x", 400)+`"}`)), clientKey, 413, "limit"},
		{"bad context and no key", "context=@@@", "", 401, "key"},
		{"unknown key", "context=" + enc([]byte(`{}`)), "nope", 401, "key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := f.do("GET", "/v1/stream/evaluated?"+tt.query, tt.key, "")
			if status != tt.want || !strings.Contains(decode[httpx.ErrorBody](t, body).Error.Message, tt.wantIn) {
				t.Errorf("status %d, want %d naming %q: %s", status, tt.want, tt.wantIn, body)
			}
		})
	}
	t.Run("key in query for EventSource", func(t *testing.T) {
		s := f.openStream("/v1/stream/evaluated?key="+clientKey+"&context="+enc([]byte(`{"key":"audrey"}`)), "")
		if ev := s.next(false); ev.Event != "put" || decode[evalResponse](t, []byte(ev.Data)).Flags["banner"].Variant != "on" {
			t.Errorf("event %+v", ev)
		}
	})
}

// TestSlowReader: a client that never reads must not delay the others and
// is dropped once its buffer is full.
func TestSlowReader(t *testing.T) {
	v1 := testDoc("production", "v1")
	f := newFixture(t, Options{ClientBuffer: 2, WriteTimeout: 2 * time.Second}, v1)
	dialStream(t, f.url, "/v1/stream", serverKey) // connects, then never reads
	fast := f.openStream("/v1/stream", serverKey)
	fast.next(false)

	// Large patches fill the slow client's socket buffers quickly.
	big := strings.Repeat("x", 256<<10)
	prev := v1
	h := f.srv.hub("production")
	subscribed := func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.clients)
	}
	waitUntil(t, "both clients are subscribed", func() bool { return subscribed() == 2 })
	// Publish until the hub has dropped the slow client; the fast one must
	// get every change meanwhile.
	for i := 1; subscribed() == 2; i++ {
		if i > 400 {
			t.Fatal("slow client not dropped after 400 large changes")
		}
		next := withDefault(prev, fmt.Sprintf("big%d", i), "color", "blue")
		nf := *next.Flags.Get("color")
		nf.Description = fmt.Sprintf("%d %s", i, big)
		next.Flags = next.Flags.With(map[string]*ruleset.Flag{"color": &nf})
		f.publish(next)
		if ev := fast.next(false); ev.ID != next.Version {
			t.Fatalf("fast client got %s, want %s", ev.ID, next.Version)
		}
		prev = next
	}
	// The slow client was dropped: its handler has ended (its blocked
	// write timed out) and only the fast stream is left.
	deadline := time.Now().Add(waitFor)
	for f.srv.hub("production").streams.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams open, want only the fast one", f.srv.hub("production").streams.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := testutilCounter(t, f, "flagpole_bearer_sse_clients_dropped_total"); got < 1 {
		t.Errorf("dropped counter %v", got)
	}
}

// dialStream opens an SSE stream over a raw connection and reads nothing.
func dialStream(t *testing.T, base, path, key string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: bearer\r\nAuthorization: Bearer %s\r\n\r\n", path, key)
}

// testutilCounter reads a metric's value from /metrics.
func testutilCounter(t *testing.T, f *fixture, name string) float64 {
	t.Helper()
	_, _, body := f.do("GET", "/metrics", "", "")
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var x float64
			if err := json.Unmarshal([]byte(v), &x); err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return x
		}
	}
	t.Fatalf("metric %s not in /metrics", name)
	return 0
}

func TestStreamHead(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"))
	status, hdr, body := f.do("HEAD", "/v1/stream", serverKey, "")
	if status != 200 || hdr.Get("Content-Type") != "text/event-stream" || len(body) != 0 {
		t.Errorf("HEAD: %d %v %q", status, hdr, body)
	}
	if f.srv.hub("production").streams.Load() != 0 {
		t.Error("HEAD left a stream open")
	}
}

// TestEmptiedStoreKeepsServing: an environment the store stops listing is
// removed, but a store that lists none (Redis flushed or restarted without
// persistence) removes nothing: the last good rule set and its streams keep
// serving until the syncer republishes.
func TestEmptiedStoreKeepsServing(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"), testDoc("staging", "s1"))
	ctx := context.Background()
	if err := f.store.Remove(ctx, "staging"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "staging removed", func() bool { return f.srv.hub("staging") == nil })

	s := f.openStream("/v1/stream", serverKey)
	if ev := s.next(false); ev.Event != "put" || ev.ID != "v1" {
		t.Fatalf("first event %+v, want put v1", ev)
	}
	if err := f.store.Remove(ctx, "production"); err != nil {
		t.Fatal(err)
	}
	// The bearer finds no snapshot in an empty store: it records the
	// failed load and keeps what it serves.
	eventually(t, "the missing snapshot noted", func() bool {
		f.srv.mu.Lock()
		defer f.srv.mu.Unlock()
		return f.srv.loadErrors["production"] != ""
	})
	if status, _, body := f.do("GET", "/v1/flags", serverKey, ""); status != 200 {
		t.Fatalf("production after the store emptied: status %d: %s", status, body)
	}
	f.publish(testDoc("production", "v2"))
	if ev := s.next(false); ev.ID != "v2" {
		t.Fatalf("stream after the republish: %+v, want v2", ev)
	}
}

// eventually waits up to waitFor for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitFor)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
