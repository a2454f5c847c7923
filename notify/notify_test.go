package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/internal/backoff"
	"github.com/flagpole/flagpole/loader"
)

var now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// exact makes each backoff delay its ceiling (at most a minute).
var exact = backoff.Policy{Min: time.Second, Max: time.Minute, Rand: func(n int64) int64 { return n - 1 }}

// request is what a receiver got.
type request struct {
	path   string
	header http.Header
	body   []byte
}

// receiver is an HTTP server on loopback that answers with the statuses
// of reply in turn (then 200) and hands every request to got.
type receiver struct {
	*httptest.Server
	got   chan request
	mu    sync.Mutex
	reply []int
	hold  chan struct{} // when not nil, requests wait for it to close
}

func newReceiver(t *testing.T, reply ...int) *receiver {
	r := &receiver{got: make(chan request, 256), reply: reply}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	hold := r.hold
	status := http.StatusOK
	if len(r.reply) > 0 {
		status, r.reply = r.reply[0], r.reply[1:]
	}
	r.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-req.Context().Done():
		}
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "30")
	}
	w.WriteHeader(status)
	r.got <- request{path: req.URL.Path, header: req.Header.Clone(), body: body}
}

func (r *receiver) next(t *testing.T) request {
	t.Helper()
	select {
	case req := <-r.got:
		return req
	case <-time.After(20 * time.Second):
		t.Fatal("no request received")
		return request{}
	}
}

// harness is a running Notifier with a fake clock whose outcomes arrive
// on done.
type harness struct {
	n    *Notifier
	clk  *clockwork.FakeClock
	done chan error
	logs *bytes.Buffer
}

func start(t *testing.T, entries []loader.Notify, configure func(*Options)) *harness {
	t.Helper()
	h := &harness{clk: clockwork.NewFakeClockAt(now), done: make(chan error, 256), logs: &bytes.Buffer{}}
	opts := Options{Clock: h.clk, Backoff: exact, Logger: slog.New(slog.NewTextHandler(&syncWriter{w: h.logs}, nil)),
		LookupEnv: func(string) (string, bool) { return "", false }}
	if configure != nil {
		configure(&opts)
	}
	n, err := New(entries, opts)
	if err != nil {
		t.Fatal(err)
	}
	n.done = func(_ *target, _ Event, err error) { h.done <- err }
	h.n = n
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { n.Run(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })
	return h
}

func (h *harness) outcome(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("no outcome")
		return nil
	}
}

// waitRetry waits until a worker waits out a backoff.
func (h *harness) waitRetry(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal("no retry scheduled")
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (h *harness) logText() string {
	// Only read after the outcome arrived; the logger wrote before.
	return h.logs.String()
}

func overrideEvent() Event {
	exp := now.Add(2 * time.Hour)
	hash := "3f786850e387550fdab836ed7e6dc881de23001b"
	return Event{Kind: KindOverride, Action: ActionSet, Flag: "checkout-v2", Environment: "production",
		Variant: "off", Who: "alice", Reason: "5xx spike <50%> & rising", Expires: &exp, Commit: hash,
		CommitURL: CommitURL("https://github.com/acme/flags.git", hash)}
}

func TestSlackPayload(t *testing.T) {
	rcv := newReceiver(t)
	h := start(t, []loader.Notify{{URL: rcv.URL + "/hook", Format: FormatSlack}}, nil)
	h.n.Send(overrideEvent())
	req := rcv.next(t)
	if err := h.outcome(t); err != nil {
		t.Fatal(err)
	}
	var p struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string `json:"type"`
			Text     *struct{ Type, Text string }
			Fields   []struct{ Type, Text string }
			Elements []struct{ Type, Text string }
		} `json:"blocks"`
	}
	if err := json.Unmarshal(req.body, &p); err != nil {
		t.Fatalf("%v: %s", err, req.body)
	}
	if p.Text != "Override: checkout-v2 serves off in production (5xx spike <50%> & rising) by alice" {
		t.Errorf("text = %q", p.Text)
	}
	if len(p.Blocks) != 4 || p.Blocks[0].Type != "header" || p.Blocks[0].Text.Type != "plain_text" ||
		p.Blocks[1].Type != "section" || p.Blocks[3].Type != "context" {
		t.Fatalf("blocks: %s", req.body)
	}
	var fields []string
	for _, f := range p.Blocks[1].Fields {
		fields = append(fields, f.Text)
	}
	want := []string{"*Flag*\n`checkout-v2`", "*Environment*\nproduction",
		"*What changed*\nserves off to everyone until 2026-11-21T12:00:00Z", "*Who*\nalice"}
	if strings.Join(fields, "|") != strings.Join(want, "|") {
		t.Errorf("fields %q", fields)
	}
	if got := p.Blocks[2].Text.Text; got != "*Why*\n5xx spike &lt;50%&gt; &amp; rising" {
		t.Errorf("why = %q", got)
	}
	if got := p.Blocks[3].Elements[0].Text; got != "<https://github.com/acme/flags/commit/3f786850e387550fdab836ed7e6dc881de23001b|commit 3f786850e387>" {
		t.Errorf("link = %q", got)
	}
	if req.header.Get(HeaderSignature) != "" || req.header.Get(HeaderEvent) != "override" {
		t.Errorf("headers %v", req.header)
	}
}

func TestJSONSignature(t *testing.T) {
	rcv := newReceiver(t)
	h := start(t, []loader.Notify{{URL: rcv.URL, Format: FormatJSON, Secret: "${HOOK_SECRET}"}}, func(o *Options) {
		o.LookupEnv = func(k string) (string, bool) { return "s3cr3t-value", k == "HOOK_SECRET" }
	})
	e := Event{Kind: KindSyncError, Commit: "abc123", Problems: []string{"a", "b", "c", "d", "e", "f", "g"}}
	h.n.Send(e)
	req := rcv.next(t)
	if err := h.outcome(t); err != nil {
		t.Fatal(err)
	}
	if err := Verify("s3cr3t-value", req.header, req.body, now.Add(time.Minute)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	var body JSONBody
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Event != "sync_error" || body.Commit != "abc123" || len(body.Problems) != maxProblems || !body.At.Equal(now) {
		t.Errorf("body %+v", body)
	}
	tampered := bytes.Replace(req.body, []byte("abc123"), []byte("abc124"), 1)
	for name, err := range map[string]error{
		"tampered":     Verify("s3cr3t-value", req.header, tampered, now),
		"wrong secret": Verify("other", req.header, req.body, now),
		"old":          Verify("s3cr3t-value", req.header, req.body, now.Add(MaxSkew+time.Second)),
		"future":       Verify("s3cr3t-value", req.header, req.body, now.Add(-MaxSkew-time.Second)),
		"unsigned":     Verify("s3cr3t-value", http.Header{}, req.body, now),
	} {
		want := ErrBadSignature
		if name == "old" || name == "future" {
			want = ErrStale
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
}

func TestRetryAfterServerError(t *testing.T) {
	rcv := newReceiver(t, http.StatusInternalServerError)
	h := start(t, []loader.Notify{{URL: rcv.URL, Format: FormatJSON}}, nil)
	h.n.Send(overrideEvent())
	first := rcv.next(t)
	h.waitRetry(t)
	h.clk.Advance(time.Minute)
	second := rcv.next(t)
	if err := h.outcome(t); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.body, second.body) {
		t.Error("the retry sent another body")
	}
	if s := h.n.Stats(); s != (Stats{Delivered: 1}) {
		t.Errorf("stats %+v", s)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	rcv := newReceiver(t, http.StatusTooManyRequests)
	h := start(t, []loader.Notify{{URL: rcv.URL, Format: FormatJSON}}, nil)
	h.n.Send(overrideEvent())
	rcv.next(t)
	h.waitRetry(t)
	h.clk.Advance(29 * time.Second) // the backoff alone would be 1 s
	h.waitRetry(t)                  // still waiting for Retry-After: 30
	h.clk.Advance(time.Second)
	rcv.next(t)
	if err := h.outcome(t); err != nil {
		t.Fatal(err)
	}
}

func TestNoRetryOnClientError(t *testing.T) {
	rcv := newReceiver(t, http.StatusNotFound)
	h := start(t, []loader.Notify{{URL: rcv.URL, Format: FormatSlack}}, nil)
	h.n.Send(overrideEvent())
	rcv.next(t)
	if err := h.outcome(t); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("outcome %v", err)
	}
	if s := h.n.Stats(); s != (Stats{Failed: 1}) {
		t.Errorf("stats %+v", s)
	}
}

func TestGivesUp(t *testing.T) {
	rcv := newReceiver(t, 502, 502, 502)
	h := start(t, []loader.Notify{{URL: rcv.URL, Format: FormatJSON}}, func(o *Options) { o.MaxAttempts = 3 })
	h.n.Send(overrideEvent())
	for range 2 {
		rcv.next(t)
		h.waitRetry(t)
		h.clk.Advance(time.Minute)
	}
	rcv.next(t)
	if err := h.outcome(t); err == nil || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("outcome %v", err)
	}
}

// closedAddr returns a loopback address where nothing listens: connections
// are refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestReceiverDownThenUp(t *testing.T) {
	addr := closedAddr(t)
	h := start(t, []loader.Notify{{URL: "http://" + addr + "/hook", Format: FormatJSON}}, nil)
	h.n.Send(overrideEvent())
	h.waitRetry(t)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	got := make(chan string, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.URL.Path }))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	h.clk.Advance(time.Minute)
	if err := h.outcome(t); err != nil {
		t.Fatal(err)
	}
	if p := <-got; p != "/hook" {
		t.Errorf("path %s", p)
	}
	if s := h.n.Stats(); s != (Stats{Delivered: 1}) {
		t.Errorf("stats %+v", s)
	}
}

func TestSlowReceiverDoesNotBlock(t *testing.T) {
	slow, fast := newReceiver(t), newReceiver(t)
	slow.hold = make(chan struct{})
	h := start(t, []loader.Notify{{URL: slow.URL, Format: FormatJSON}, {URL: fast.URL, Format: FormatSlack}},
		func(o *Options) { o.QueueSize = 4 })
	const events = 20
	sent := make(chan struct{})
	go func() {
		for range events {
			h.n.Send(overrideEvent())
		}
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(10 * time.Second):
		t.Fatal("Send blocked on a slow receiver")
	}
	// The fast webhook gets what its queue held, whatever the slow one does.
	if fast.next(t); h.n.Stats().Dropped == 0 {
		t.Error("nothing dropped for the slow receiver")
	}
	// The slow one holds one request and at most QueueSize queued.
	if d := h.n.Stats().Dropped; d < events-1-4 {
		t.Errorf("dropped %d", d)
	}
	close(slow.hold)
}

func TestTimeout(t *testing.T) {
	slow := newReceiver(t)
	slow.hold = make(chan struct{})
	t.Cleanup(func() { close(slow.hold) })
	h := start(t, []loader.Notify{{URL: slow.URL, Format: FormatJSON}}, func(o *Options) {
		o.Timeout = 50 * time.Millisecond
		o.MaxAttempts = 1
	})
	h.n.Send(overrideEvent())
	if err := h.outcome(t); err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("outcome %v", err)
	}
}

func TestEventsFilter(t *testing.T) {
	rcv := newReceiver(t)
	h := start(t, []loader.Notify{{URL: rcv.URL, Format: FormatJSON, Events: []string{"sync_error", "trip"}}}, nil)
	h.n.Send(overrideEvent()) // not wanted: never queued
	h.n.Send(Event{Kind: KindSyncError, Commit: "abc"})
	req := rcv.next(t)
	if req.header.Get(HeaderEvent) != "sync_error" {
		t.Errorf("first delivery is %s", req.header.Get(HeaderEvent))
	}
	if err := h.outcome(t); err != nil {
		t.Fatal(err)
	}
	if s := h.n.Stats(); s != (Stats{Delivered: 1}) {
		t.Errorf("stats %+v", s)
	}
}

func TestExpandEnv(t *testing.T) {
	rcv := newReceiver(t)
	env := map[string]string{"HOOK_PATH": "services/T0/B0/tok-SECRET-path"}
	h := start(t, []loader.Notify{
		{URL: rcv.URL + "/${HOOK_PATH}", Format: FormatSlack},
		{URL: "${MISSING_HOOK}", Format: FormatSlack},
	}, func(o *Options) {
		o.LookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	})
	for range 2 {
		h.n.Send(overrideEvent())
	}
	if req := rcv.next(t); req.path != "/services/T0/B0/tok-SECRET-path" {
		t.Errorf("path %s", req.path)
	}
	var failed int
	for range 4 {
		if h.outcome(t) != nil {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d failed, want 2 (the unset variable)", failed)
	}
	logs := h.logText()
	if strings.Count(logs, "variables=[MISSING_HOOK]") != 1 {
		t.Errorf("unset variable logged %d times, want once:\n%s", strings.Count(logs, "variables=[MISSING_HOOK]"), logs)
	}
	if strings.Contains(logs, "tok-SECRET") {
		t.Errorf("a value was logged:\n%s", logs)
	}
}

func TestNoSecretsInErrors(t *testing.T) {
	addr := closedAddr(t)
	h := start(t, []loader.Notify{{URL: "http://user:${PASS}@" + addr + "/hook?token=${TOKEN}", Format: FormatJSON, Secret: "${PASS}"}},
		func(o *Options) {
			o.MaxAttempts = 1
			o.LookupEnv = func(k string) (string, bool) {
				return map[string]string{"PASS": "pass-value", "TOKEN": "token-value"}[k], true
			}
		})
	h.n.Send(overrideEvent())
	err := h.outcome(t)
	if err == nil {
		t.Fatal("delivered to a closed port")
	}
	for _, text := range []string{err.Error(), h.logText()} {
		if strings.Contains(text, "pass-value") || strings.Contains(text, "token-value") {
			t.Errorf("secret leaked: %s", text)
		}
	}
}

func TestUnknownFormat(t *testing.T) {
	if _, err := New([]loader.Notify{{URL: "https://x", Format: "xml"}}, Options{}); err == nil {
		t.Error("accepted format xml")
	}
}

func TestCommitURL(t *testing.T) {
	const h = "3f786850e387550fdab836ed7e6dc881de23001b"
	for remote, want := range map[string]string{
		"https://github.com/acme/flags.git":            "https://github.com/acme/flags/commit/" + h,
		"https://x-access-token:tok@github.com/acme/f": "https://github.com/acme/f/commit/" + h,
		"https://gitlab.com/group/sub/flags.git":       "https://gitlab.com/group/sub/flags/-/commit/" + h,
		"https://gitlab.example.com:8443/g/flags":      "https://gitlab.example.com:8443/g/flags/-/commit/" + h,
		"https://gitea.example.com/org/flags.git/":     "https://gitea.example.com/org/flags/commit/" + h,
		"https://codeberg.org/org/flags":               "https://codeberg.org/org/flags/commit/" + h,
		"https://git.example.com/org/flags":            "",
		"ssh://git@github.com/acme/flags.git":          "",
		"git@github.com:acme/flags.git":                "",
		"/srv/git/flags.git":                           "",
		"https://github.com/flags":                     "",
	} {
		if got := CommitURL(remote, h); got != want {
			t.Errorf("CommitURL(%q) = %q, want %q", remote, got, want)
		}
	}
}
