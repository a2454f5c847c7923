package bearer

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/internal/keyring"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// bulkStreams is the eventStreams member of an OFREP bulk response.
type bulkStreams struct {
	EventStreams []struct {
		Type     string `json:"type"`
		URL      string `json:"url"`
		Endpoint struct {
			Origin     string `json:"origin"`
			RequestURI string `json:"requestUri"`
		} `json:"endpoint"`
	} `json:"eventStreams"`
}

// eventStreamURI posts a bulk evaluation with key and returns the request
// URI of the SSE stream it advertises, and the response's ETag.
func (f *fixture) eventStreamURI(key string) (uri, etag string) {
	f.t.Helper()
	status, hdr, body := f.do("POST", "/ofrep/v1/evaluate/flags", key, ctxBody(`{"targetingKey":"audrey"}`))
	if status != 200 {
		f.t.Fatalf("bulk evaluation: %d %s", status, body)
	}
	got := decode[bulkStreams](f.t, body)
	if len(got.EventStreams) != 1 {
		f.t.Fatalf("eventStreams %+v in %s", got.EventStreams, body)
	}
	es := got.EventStreams[0]
	if es.Type != "sse" || es.URL != "" || es.Endpoint.Origin != "" || !strings.HasPrefix(es.Endpoint.RequestURI, eventStreamPath+"?token=") {
		f.t.Fatalf("event stream %+v: want type sse and a request URI of %s with a token, nothing else", es, eventStreamPath)
	}
	return es.Endpoint.RequestURI, hdr.Get("ETag")
}

// nextRefetch returns the next event, which must be a refetchEvaluation
// carrying version as its id and etag and nothing else.
func nextRefetch(t *testing.T, s *stream, version string) {
	t.Helper()
	ev := s.next(false)
	want := `{"type":"refetchEvaluation","etag":"` + version + `"}`
	if ev.Event != "message" || ev.ID != version || ev.Data != want {
		t.Fatalf("event %+v, want message %s with id %s", ev, want, version)
	}
}

func TestOFREPEventStreamFollowsChanges(t *testing.T) {
	v1 := testDoc("production", "v1")
	f := newFixture(t, Options{}, v1)
	uri, _ := f.eventStreamURI(clientKey)
	tok := strings.TrimPrefix(uri, eventStreamPath+"?token=")
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatalf("token %q is not base64url: %v", tok, err)
	}
	if strings.Contains(string(raw), clientKey) || strings.Contains(uri, clientKey) {
		t.Fatal("the event stream URL carries the SDK key")
	}

	// No key header: the token alone opens the stream. Without
	// Last-Event-ID it starts with a refetch, which covers a change between
	// the bulk evaluation and the connection.
	s := f.openStream(uri, "")
	nextRefetch(t, s, "v1")
	f.publish(withDefault(v1, "v2", "color", "blue"))
	nextRefetch(t, s, "v2")

	// A client that has seen v2 resumes without a refetch; the next change
	// reaches it.
	resumed := f.openStream(uri, "", "Last-Event-ID", "v2")
	stale := f.openStream(uri, "", "Last-Event-ID", "v1")
	nextRefetch(t, stale, "v2")
	f.publish(withDefault(v1, "v3", "color", "red"))
	nextRefetch(t, resumed, "v3")
	nextRefetch(t, s, "v3")

	// A key header works too (SSE clients that can send one), for server
	// and client keys.
	for _, key := range []string{serverKey, clientKey} {
		nextRefetch(t, f.openStream(eventStreamPath, key), "v3")
	}
}

func TestOFREPEventStreamETagStable(t *testing.T) {
	clk := clockwork.NewFakeClockAt(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	f := newFixture(t, Options{Clock: clk}, testDoc("production", "v1"))
	uri, etag := f.eventStreamURI(clientKey)
	clk.Advance(DefaultEventTokenWindow - time.Second) // the same window
	uri2, etag2 := f.eventStreamURI(clientKey)
	if uri != uri2 || etag != etag2 {
		t.Errorf("within one window the bulk response changed: %s %s, then %s %s", uri, etag, uri2, etag2)
	}
	status, _, _ := f.do("POST", "/ofrep/v1/evaluate/flags", clientKey, ctxBody(`{"targetingKey":"audrey"}`), "If-None-Match", etag)
	if status != 304 {
		t.Errorf("revalidation within the window: %d, want 304", status)
	}
	clk.Advance(time.Second) // the next window: a new token, so a new ETag
	uri3, etag3 := f.eventStreamURI(clientKey)
	if uri3 == uri || etag3 == etag {
		t.Errorf("a new window kept the token or the ETag: %s %s", uri3, etag3)
	}
	// The first token is still good for one more window.
	nextRefetch(t, f.openStream(uri, ""), "v1")
}

func TestOFREPEventStreamRefused(t *testing.T) {
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clk := clockwork.NewFakeClockAt(start)
	v1 := testDoc("production", "v1")
	f := newFixture(t, Options{Clock: clk, MaxStreamsPerKey: 1}, v1, testDoc("staging", "s1"))
	uri, _ := f.eventStreamURI(clientKey)
	tok := strings.TrimPrefix(uri, eventStreamPath+"?token=")
	raw, _ := base64.RawURLEncoding.DecodeString(tok)

	other, err := New(Options{Store: store.NewMemory(), EventTokenSecret: []byte(strings.Repeat("s", 32))})
	if err != nil {
		t.Fatal(err)
	}
	otherToken := other.mintEventToken("production", keyring.Sum(clientKey), tokenExpiry(start, DefaultEventTokenWindow))
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)-tokenMACBytes-1] ^= 1 // the environment name
	tests := []struct {
		name, query, key string
		want             int
		msg              string
	}{
		{"no token, no key", "", "", 401, "missing SDK key"},
		{"tampered", "?token=" + base64.RawURLEncoding.EncodeToString(flipped), "", 401, "signature"},
		{"another bearer's secret", "?token=" + otherToken, "", 401, "signature"},
		{"not base64", "?token=%25%25", "", 401, "malformed"},
		{"too long", "?token=" + strings.Repeat("A", maxTokenChars+1), "", 401, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := f.do("GET", eventStreamPath+tt.query, tt.key, "")
			if status != tt.want || !strings.Contains(string(body), tt.msg) {
				t.Errorf("status %d %s, want %d with %q", status, body, tt.want, tt.msg)
			}
		})
	}

	// One stream per key: a second one with the same token gets 429.
	s := f.openStream(uri, "")
	nextRefetch(t, s, "v1")
	if status, hdr, body := f.do("GET", uri, "", ""); status != 429 || hdr.Get("Retry-After") == "" {
		t.Errorf("second stream of the key: %d %s, want 429", status, body)
	}

	// Removing the key closes its stream and refuses its token.
	snap := snapshot(withDefault(v1, "v2", "color", "blue"))
	snap.Keys = []store.Key{testKeys()[0]}
	f.publishSnap(snap)
	s.waitEnd()
	if status, _, body := f.do("GET", uri, "", ""); status != 401 || !strings.Contains(string(body), "no longer valid") {
		t.Errorf("token of a removed key: %d %s", status, body)
	}

	// Tokens expire at the end of the window after the one they were
	// minted in.
	f.publish(withDefault(v1, "v3", "color", "blue")) // the key is back
	f.waitVersion("production", "v3")
	uri, _ = f.eventStreamURI(clientKey)
	clk.Advance(2 * DefaultEventTokenWindow)
	if status, _, body := f.do("GET", uri, "", ""); status != 401 || !strings.Contains(string(body), "expired") {
		t.Errorf("expired token: %d %s", status, body)
	}
}

// An override that expires changes results with no new version; the
// OFREP stream says so at the hub's clock tick, and pings stay pings.
func TestOFREPEventStreamTimeDependent(t *testing.T) {
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clk := clockwork.NewFakeClockAt(start)
	doc := testDoc("production", "v1")
	exp := start.Add(time.Minute)
	doc.Overrides = map[string]*ruleset.Override{"banner": {Flag: "banner", Environment: "production", Serve: "on", At: start.Add(-time.Hour), Expires: &exp}}
	f := newFixture(t, Options{Clock: clk}, doc)
	uri, _ := f.eventStreamURI(clientKey)
	s := f.openStream(uri, "", "Last-Event-ID", "v1")
	if err := clk.BlockUntilContext(t.Context(), 2); err != nil { // the ping ticker and the tick timer
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute) // past the expiry
	nextRefetch(t, s, "v1")

	// A rule set whose results cannot change without a new version: pings
	// stay pings.
	static := newFixture(t, Options{PingInterval: 20 * time.Millisecond}, testDoc("production", "v1"))
	uri, _ = static.eventStreamURI(clientKey)
	s = static.openStream(uri, "", "Last-Event-ID", "v1")
	if ev := s.next(true); ev.Comment != "ping" {
		t.Errorf("static rule set: first event %+v, want a ping", ev)
	}
}

// Secrets shorter than 32 bytes are refused.
func TestEventTokenSecretLength(t *testing.T) {
	_, err := New(Options{Store: store.NewMemory(), EventTokenSecret: []byte("short")})
	if err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Errorf("New with a 5-byte secret: %v", err)
	}
}

// A minted token has one spelling: the same bytes with a line break
// inside, or with different unused trailing bits, are refused.
func TestEventTokenSpellings(t *testing.T) {
	srv, err := New(Options{Store: store.NewMemory(), EventTokenSecret: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	good := srv.mintEventToken("production", keyring.Sum(clientKey), tokenExpiry(time.Now(), DefaultEventTokenWindow))
	if _, _, err := srv.parseEventToken(good); err != nil {
		t.Fatalf("minted token refused: %v", err)
	}
	variants := []string{good[:10] + "\r" + good[10:], good[:10] + "\n" + good[10:], good + "\n"}
	if len(good)%4 != 0 { // the last character carries unused low bits
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, good[len(good)-1])
		variants = append(variants, good[:len(good)-1]+string(alphabet[last^1]))
	}
	for _, v := range variants {
		if _, _, err := srv.parseEventToken(v); err == nil {
			t.Errorf("accepted %q, another spelling of %q", v, good)
		}
	}
}

// FuzzEventToken: any token parameter is refused with 401 or accepted
// only when it is a token this bearer minted; parsing never panics.
func FuzzEventToken(f *testing.F) {
	srv, err := New(Options{Store: store.NewMemory(), EventTokenSecret: []byte(strings.Repeat("k", 32))})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	good := srv.mintEventToken("production", keyring.Sum(clientKey), tokenExpiry(now, DefaultEventTokenWindow))
	for _, seed := range []string{good, good[:len(good)-1], "", "AQ", strings.Repeat("A", 80), "%%", good + "A"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		env, key, err := srv.parseEventToken(tok)
		if err != nil {
			if env != "" {
				t.Fatalf("refused token %q gave environment %q", tok, env)
			}
			return
		}
		// Accepted: it must be exactly what the bearer would mint.
		raw, _ := base64.RawURLEncoding.DecodeString(tok)
		exp := time.Unix(int64(binary.BigEndian.Uint64(raw[1:9])), 0)
		if srv.mintEventToken(env, key, exp) != tok {
			t.Fatalf("accepted token %q that the bearer did not mint", tok)
		}
	})
}

// A re-fetch that names a version the bearer has not loaded yet (another
// bearer announced it) waits for it rather than answering the old result.
func TestOFREPBulkWaitsForAnnouncedVersion(t *testing.T) {
	v1 := testDoc("production", "v1")
	f := newFixture(t, Options{}, v1)
	type answer struct {
		status int
		body   []byte
	}
	got := make(chan answer, 1)
	go func() {
		status, _, body := f.do("POST", "/ofrep/v1/evaluate/flags?flagConfigEtag=v2", clientKey, ctxBody(`{"targetingKey":"x"}`))
		got <- answer{status, body}
	}()
	deadline := time.Now().Add(waitFor)
	for f.srv.announcedWaits.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the re-fetch naming v2 did not wait for it")
		}
		time.Sleep(time.Millisecond)
	}
	f.publish(withDefault(v1, "v2", "color", "blue"))
	a := <-got
	if a.status != 200 || !strings.Contains(string(a.body), `"variant":"blue"`) || !strings.Contains(string(a.body), `"version":"v2"`) {
		t.Errorf("answer %d %s, want v2's color blue", a.status, a.body)
	}

	// A version that never comes: the answer is the current rule set's,
	// after a bounded wait; the current version and no parameter do not wait.
	waits := f.srv.announcedWaits.Load()
	for _, q := range []string{"?flagConfigEtag=v9", "?flagConfigEtag=v2", "", "?flagConfigEtag=" + strings.Repeat("v", maxAnnounced+1)} {
		status, _, body := f.do("POST", "/ofrep/v1/evaluate/flags"+q, clientKey, ctxBody(`{"targetingKey":"x"}`))
		if status != 200 || !strings.Contains(string(body), `"version":"v2"`) {
			t.Errorf("%s: %d %s, want v2", q, status, body)
		}
	}
	if n := f.srv.announcedWaits.Load() - waits; n != 1 {
		t.Errorf("%d of the requests waited, want 1 (the unknown version)", n)
	}
}

// Browsers may ask for the stream from any origin; HEAD opens nothing.
func TestOFREPEventStreamCORSAndHead(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"))
	uri, _ := f.eventStreamURI(clientKey)
	status, hdr, _ := f.do("OPTIONS", eventStreamPath, "", "", "Origin", "https://shop.example", "Access-Control-Request-Method", "GET")
	if status != 204 || hdr.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "Last-Event-ID") {
		t.Errorf("preflight: %d %v", status, hdr)
	}
	status, hdr, body := f.do("HEAD", uri, "", "")
	if status != 200 || hdr.Get("Content-Type") != "text/event-stream" || hdr.Get("Access-Control-Allow-Origin") != "*" || len(body) != 0 {
		t.Errorf("HEAD: %d %v %q", status, hdr, body)
	}
	if n := f.srv.hub("production").streams.Load(); n != 0 {
		t.Errorf("HEAD left %d streams open", n)
	}
}

// A provider that goes away gives its place back at once (the hijacked
// connection's closed-peer detection), not at the next ping.
func TestOFREPEventStreamPeerGone(t *testing.T) {
	f := newFixture(t, Options{PingInterval: time.Hour}, testDoc("production", "v1"))
	uri, _ := f.eventStreamURI(clientKey)
	s := f.openStream(uri, "")
	nextRefetch(t, s, "v1")
	h := f.srv.hub("production")
	if n := h.streams.Load(); n != 1 {
		t.Fatalf("%d streams open, want 1", n)
	}
	s.resp.Body.Close()
	deadline := time.Now().Add(waitFor)
	for h.streams.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the closed stream still counts after %s", waitFor)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Any event the hub broadcasts that is not a ping (such as a clock tick
// when a schedule step comes due, with no new version) is a refetch.
func TestOFREPEventStreamHubEvent(t *testing.T) {
	f := newFixture(t, Options{PingInterval: time.Hour}, testDoc("production", "v1"))
	uri, _ := f.eventStreamURI(clientKey)
	s := f.openStream(uri, "", "Last-Event-ID", "v1") // nothing missed: no refetch on connect
	h := f.srv.hub("production")
	deadline := time.Now().Add(waitFor)
	for h.streams.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the stream did not subscribe")
		}
		time.Sleep(time.Millisecond)
	}
	h.broadcast(&event{state: h.cur.Load()})
	nextRefetch(t, s, "v1")
}
