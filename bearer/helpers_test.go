package bearer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// SDK keys of the test fixtures.
const (
	serverKey  = "fp_srv_production_0123456789"
	clientKey  = "fp_cli_production_0123456789"
	stagingKey = "fp_srv_staging_0123456789"
)

// waitFor is how long "eventually" waits in tests.
const waitFor = 10 * time.Second

func hashKey(k string) string {
	sum := sha256.Sum256([]byte(k))
	return hex.EncodeToString(sum[:])
}

// testKeys are the keys of production and staging.
func testKeys() []store.Key {
	return []store.Key{
		{Name: "checkout", Environment: "production", Kind: store.KeyServer, SHA256: hashKey(serverKey)},
		{Name: "web", Environment: "production", Kind: store.KeyClient, SHA256: hashKey(clientKey)},
		{Name: "staging", Environment: "staging", Kind: store.KeyServer, SHA256: hashKey(stagingKey)},
	}
}

func boolVariants() []ruleset.Variant {
	return []ruleset.Variant{{Name: "on", Value: json.RawMessage(`true`)}, {Name: "off", Value: json.RawMessage(`false`)}}
}

// testDoc is a small production rule set: a client flag with an allow list,
// a server-only flag targeting states, and a client string flag.
func testDoc(env, version string) *ruleset.Document {
	return &ruleset.Document{
		Version:     version,
		Environment: env,
		Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{
			"banner": {
				Key: "banner", Client: true, Type: ruleset.TypeBoolean, Variants: boolVariants(),
				Enabled: true, Off: "off", Default: "off",
				Rules: []ruleset.Rule{{Name: "testers", Users: []string{"audrey", "rob"}, Serve: "on"}},
			},
			"checkout-v2": {
				Key: "checkout-v2", Type: ruleset.TypeBoolean, Variants: boolVariants(),
				Enabled: true, Off: "off", Default: "off",
				Rules: []ruleset.Rule{{Conditions: []ruleset.Condition{{
					Attribute: "state", Type: ruleset.AttrString, Operator: ruleset.OpIn,
					Values: []json.RawMessage{json.RawMessage(`"CA"`), json.RawMessage(`"WA"`)},
				}}, Serve: "on"}},
			},
			"color": {
				Key: "color", Client: true, Type: ruleset.TypeString,
				Variants: []ruleset.Variant{{Name: "red", Value: json.RawMessage(`"#f00"`)}, {Name: "blue", Value: json.RawMessage(`"#00f"`)}},
				Enabled:  true, Off: "red", Default: "red",
			},
		}),
	}
}

// snapshot wraps doc with the test keys.
func snapshot(doc *ruleset.Document) *store.Snapshot {
	return &store.Snapshot{Environment: doc.Environment, Version: doc.Version, Document: doc, Keys: testKeys(), Published: time.Now()}
}

// fixture is a running bearer over loopback HTTP.
type fixture struct {
	t     *testing.T
	store *store.Memory // nil for newFixtureOn
	pub   publisher
	srv   *Server
	url   string
	stop  func() // cancels Run and waits for it; idempotent
}

// newFixture starts a bearer on a memory store; with docs, it publishes them
// first and waits until they are served.
func newFixture(t *testing.T, opts Options, docs ...*ruleset.Document) *fixture {
	t.Helper()
	f := &fixture{t: t, store: store.NewMemory()}
	f.pub, opts.Store = f.store, f.store
	return f.start(opts, docs)
}

// newFixtureOn starts a bearer on sub, publishing through pub (two
// clients of one Redis, as a syncer and a bearer are).
func newFixtureOn(t *testing.T, opts Options, pub publisher, sub Store, docs ...*ruleset.Document) *fixture {
	t.Helper()
	f := &fixture{t: t, pub: pub}
	opts.Store = sub
	return f.start(opts, docs)
}

// publisher is what the fixture publishes through.
type publisher interface {
	Publish(ctx context.Context, s *store.Snapshot) error
}

func (f *fixture) start(opts Options, docs []*ruleset.Document) *fixture {
	t := f.t
	t.Helper()
	for _, d := range docs {
		f.publish(d)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close) // runs last: streams end once Run has returned
	f.url = ts.URL
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	f.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(f.stop)
	for _, d := range docs {
		f.waitVersion(d.Environment, d.Version)
	}
	return f
}

// publish publishes doc with the test keys.
func (f *fixture) publish(doc *ruleset.Document) {
	f.publishSnap(snapshot(doc))
}

func (f *fixture) publishSnap(s *store.Snapshot) {
	f.t.Helper()
	if err := f.pub.Publish(context.Background(), s); err != nil {
		f.t.Fatal(err)
	}
}

// waitVersion waits until the bearer serves version of env.
func (f *fixture) waitVersion(env, version string) {
	f.t.Helper()
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		if h := f.srv.hub(env); h != nil && h.cur.Load().version == version {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.t.Fatalf("bearer did not load %s version %s within %s", env, version, waitFor)
}

// do sends a request with an optional key and JSON body and returns the
// status, headers and body.
func (f *fixture) do(method, path, key, body string, hdr ...string) (int, http.Header, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{Timeout: waitFor}).Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// sseEvent is one parsed SSE event or comment.
type sseEvent struct {
	Event, ID, Data string
	Comment         string
}

// stream is an open SSE connection read by a goroutine.
type stream struct {
	t      *testing.T
	resp   *http.Response
	events chan sseEvent
	ended  chan error // receives how the stream ended
}

// openStream opens an SSE stream and checks that it answered 200.
func (f *fixture) openStream(path, key string, hdr ...string) *stream {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.url+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		f.t.Fatalf("GET %s: status %d: %s", path, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		f.t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	s := &stream{t: f.t, resp: resp, events: make(chan sseEvent, 1024), ended: make(chan error, 1)}
	go s.read()
	f.t.Cleanup(func() { resp.Body.Close() })
	return s
}

func (s *stream) read() {
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				s.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			s.events <- sseEvent{Comment: strings.TrimSpace(line[1:])}
		case strings.HasPrefix(line, "event: "):
			ev.Event = line[len("event: "):]
		case strings.HasPrefix(line, "id: "):
			ev.ID = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			ev.Data = line[len("data: "):]
		}
	}
	s.ended <- sc.Err()
	close(s.events)
}

// next returns the next event, skipping comments unless comments is set.
func (s *stream) next(comments bool) sseEvent {
	s.t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.t.Fatal("stream ended while waiting for an event")
			}
			if ev.Comment != "" && !comments {
				continue
			}
			return ev
		case <-timeout:
			s.t.Fatalf("no event within %s", waitFor)
		}
	}
}

// waitEnd waits until the server closes the stream, skipping events.
func (s *stream) waitEnd() []sseEvent {
	s.t.Helper()
	var seen []sseEvent
	timeout := time.After(waitFor)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return seen
			}
			seen = append(seen, ev)
		case <-timeout:
			s.t.Fatalf("stream still open after %s", waitFor)
		}
	}
}

// decode unmarshals JSON or fails the test.
func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

// evalResponse is the body of /v1/evaluate.
type evalResponse struct {
	Version string `json:"version"`
	Flags   map[string]struct {
		Value     any            `json:"value"`
		Variant   string         `json:"variant"`
		Reason    string         `json:"reason"`
		ErrorCode string         `json:"errorCode"`
		Metadata  map[string]any `json:"metadata"`
	} `json:"flags"`
}

func ctxBody(ctx string) string { return fmt.Sprintf(`{"context":%s}`, ctx) }
