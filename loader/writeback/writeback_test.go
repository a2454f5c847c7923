package writeback

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/flagpole/flagpole/internal/backoff"
	"github.com/flagpole/flagpole/internal/gitx"
	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

// fixture is a valid repository with one flag to override.
var fixture = map[string]string{
	"flagpole.yaml":          "version: 1\nenvironments: [production, staging]\n",
	"flags/checkout-v2.yaml": "key: checkout-v2\nvariants: {on: true, off: false}\ndefault: on\n",
}

var start = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// exact makes every backoff delay its ceiling, so advancing the clock by
// the policy's Max always reaches the retry.
var exact = backoff.Policy{Min: time.Second, Max: time.Minute, Rand: func(n int64) int64 { return n - 1 }}

func kill(at time.Time) ruleset.Override {
	exp := at.Add(2 * time.Hour)
	return ruleset.Override{Flag: "checkout-v2", Environment: "production", Serve: "off",
		Reason: "5xx spike", By: "alice", At: at, Expires: &exp}
}

// harness is a Writer on a git remote, its fake clock and what it landed.
type harness struct {
	w      *Writer
	r      *gitrepo.Remote
	clk    *clockwork.FakeClock
	landed chan Landed
	logs   *bytes.Buffer
	base   string // the fixture's commit
}

func newHarness(t *testing.T, configure func(*Options)) *harness {
	t.Helper()
	h := &harness{r: gitrepo.New(t), clk: clockwork.NewFakeClockAt(start), landed: make(chan Landed, 16), logs: &bytes.Buffer{}}
	h.base = h.r.CommitPush(fixture, "fixture")
	remote, err := gitx.NewRemote(gitx.Options{URL: h.r.Bare})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Remote: remote, CacheDir: t.TempDir(), Clock: h.clk, Backoff: exact,
		Author:   loader.Author{Name: "flagpole-bot", Email: "bot@flags.example"},
		Logger:   slog.New(slog.NewTextHandler(h.logs, nil)),
		OnLanded: func(l Landed) { h.landed <- l }}
	if configure != nil {
		configure(&opts)
	}
	h.w, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.w.Close() })
	return h
}

// run starts the worker until the test ends.
func (h *harness) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (h *harness) wait(t *testing.T) Landed {
	t.Helper()
	select {
	case l := <-h.landed:
		return l
	case <-time.After(20 * time.Second):
		t.Fatalf("no write landed; pending: %+v", h.w.Pending())
		return Landed{}
	}
}

// waitRetry waits until the worker, after a failed attempt, waits for its
// backoff timer.
func (h *harness) waitRetry(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("the worker never waited for a retry; pending: %+v", h.w.Pending())
	}
}

func (h *harness) count(t *testing.T) string {
	return h.r.Git("-C", h.r.Bare, "rev-list", "--count", "main")
}

func TestSetAndClearCommit(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(o *Options) { o.Registerer = reg })
	h.run(t)
	o := kill(start)
	if err := h.w.Set(t.Context(), "production", o, "alice"); err != nil {
		t.Fatal(err)
	}
	l := h.wait(t)
	if l.Commit == "" || l.Action != ActionSet || l.Override == nil || l.Attempts != 1 {
		t.Fatalf("landed %+v", l)
	}
	bare := h.r.Bare
	if got := h.r.Git("-C", bare, "rev-parse", "main"); got != l.Commit {
		t.Fatalf("main = %s, landed %s", got, l.Commit)
	}
	if got := h.r.Git("-C", bare, "log", "-1", "--format=%an <%ae>|%P|%s", "main"); got != "flagpole-bot <bot@flags.example>|"+h.base+"|override: checkout-v2 off in production (5xx spike)" {
		t.Errorf("commit: %s", got)
	}
	body := h.r.Git("-C", bare, "log", "-1", "--format=%b", "main")
	for _, want := range []string{`checkout-v2 serves "off" to everyone in production.`, "Reason: 5xx spike", "By: alice",
		"At: 2026-11-21T10:00:00Z", "Expires: 2026-11-21T12:00:00Z", "File: overrides/production/checkout-v2.yaml"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if got := h.r.Git("-C", bare, "log", "-1", "--format=%(trailers:key=Requested-by,valueonly)", "main"); got != "alice" {
		t.Errorf("Requested-by trailer = %q", got)
	}
	want, _ := Render(o)
	if got := h.r.Git("-C", bare, "show", "main:overrides/production/checkout-v2.yaml"); got+"\n" != string(want) {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	if len(h.w.Pending()) != 0 || testutil.ToFloat64(h.w.pendingG) != 0 {
		t.Errorf("pending after landing: %+v", h.w.Pending())
	}

	if err := h.w.Clear(t.Context(), "production", "checkout-v2", "bob", "recovered"); err != nil {
		t.Fatal(err)
	}
	l = h.wait(t)
	if l.Commit == "" || l.Action != ActionClear || l.Reason != "recovered" || l.Requester != "bob" {
		t.Fatalf("landed %+v", l)
	}
	if got := h.r.Git("-C", bare, "log", "-1", "--format=%s|%(trailers:key=Requested-by,valueonly)", "main"); got != "override: clear checkout-v2 in production (recovered)|bob" {
		t.Errorf("clear commit: %s", got)
	}
	if got := h.r.Git("-C", bare, "ls-tree", "-r", "--name-only", "main"); strings.Contains(got, "overrides") {
		t.Errorf("override still in the tree:\n%s", got)
	}
	if got := h.count(t); got != "3" {
		t.Errorf("%s commits, want 3 (fixture, set, clear)", got)
	}
	if n, err := testutil.GatherAndCount(reg, "flagpole_writeback_pending"); err != nil || n != 1 {
		t.Errorf("flagpole_writeback_pending registered: %d, %v", n, err)
	}
}

func TestSameContentCommitsNothing(t *testing.T) {
	h := newHarness(t, nil)
	h.run(t)
	o := kill(start)
	for i := range 2 {
		if err := h.w.Set(t.Context(), "production", o, "alice"); err != nil {
			t.Fatal(err)
		}
		if l := h.wait(t); (l.Commit == "") != (i == 1) {
			t.Fatalf("write %d landed with commit %q", i, l.Commit)
		}
	}
	// A clear of an override that git does not hold commits nothing either.
	if err := h.w.Clear(t.Context(), "staging", "checkout-v2", "bob", "tidy"); err != nil {
		t.Fatal(err)
	}
	if l := h.wait(t); l.Commit != "" {
		t.Fatalf("clear of a missing file committed %s", l.Commit)
	}
	if got := h.count(t); got != "2" {
		t.Errorf("%s commits, want 2", got)
	}
}

func TestHumanCommitBeforePush(t *testing.T) {
	h := newHarness(t, nil)
	var human string
	h.w.beforePush = func() {
		if human == "" {
			human = h.r.CommitPush(map[string]string{"flags/other.yaml": "key: other\nvariants: {on: true, off: false}\n"}, "a human's change")
		}
	}
	h.run(t)
	if err := h.w.Set(t.Context(), "production", kill(start), "alice"); err != nil {
		t.Fatal(err)
	}
	h.waitRetry(t)
	p := h.w.Pending()
	if len(p) != 1 || p[0].Attempts != 1 || !strings.Contains(p[0].LastError, "rejected") {
		t.Fatalf("pending after the rejected push: %+v", p)
	}
	h.clk.Advance(time.Minute)
	l := h.wait(t)
	if l.Attempts != 2 {
		t.Errorf("landed after %d attempts, want 2", l.Attempts)
	}
	// Both commits are kept, the override on top of the human's.
	if got := h.r.Git("-C", h.r.Bare, "log", "--format=%H %s", "main"); got != l.Commit+" override: checkout-v2 off in production (5xx spike)\n"+human+" a human's change\n"+h.base+" fixture" {
		t.Errorf("history:\n%s", got)
	}
	if got := h.r.Git("-C", h.r.Bare, "ls-tree", "-r", "--name-only", "main"); !strings.Contains(got, "flags/other.yaml") || !strings.Contains(got, "overrides/production/checkout-v2.yaml") {
		t.Errorf("tree:\n%s", got)
	}
}

func TestRemoteUnreachable(t *testing.T) {
	h := newHarness(t, nil)
	away := h.r.Bare + ".away"
	if err := os.Rename(h.r.Bare, away); err != nil {
		t.Fatal(err)
	}
	h.run(t)
	if err := h.w.Set(t.Context(), "production", kill(start), "alice"); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		h.waitRetry(t)
		p := h.w.Pending()
		if len(p) != 1 || p[0].Attempts != attempt || p[0].LastError == "" || p[0].Action != ActionSet || !p[0].Since.Equal(start) {
			t.Fatalf("pending after attempt %d: %+v", attempt, p)
		}
		if attempt < 3 {
			h.clk.Advance(time.Minute)
		}
	}
	if testutil.ToFloat64(h.w.pendingG) != 1 || testutil.ToFloat64(h.w.failures) != 3 {
		t.Errorf("gauge %v, failures %v", testutil.ToFloat64(h.w.pendingG), testutil.ToFloat64(h.w.failures))
	}
	if err := os.Rename(away, h.r.Bare); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(time.Minute)
	if l := h.wait(t); l.Commit == "" || l.Attempts != 4 {
		t.Fatalf("landed %+v", l)
	}
	if got := h.count(t); got != "2" {
		t.Errorf("%s commits, want 2 (fixture and one override)", got)
	}
}

func TestSupersede(t *testing.T) {
	h := newHarness(t, nil)
	first := kill(start)
	second := kill(start.Add(time.Minute))
	second.Serve, second.Reason = "on", "false alarm"
	// Queued before the worker runs: both are pending at once.
	for _, o := range []ruleset.Override{first, second} {
		if err := h.w.Set(t.Context(), "production", o, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.w.Set(t.Context(), "staging", kill(start), "carol"); err == nil {
		t.Fatal("an override of another environment was accepted")
	}
	if p := h.w.Pending(); len(p) != 1 {
		t.Fatalf("pending: %+v", p)
	}
	h.run(t)
	l := h.wait(t)
	if l.Override == nil || l.Override.Serve != "on" {
		t.Fatalf("landed %+v", l)
	}
	want, _ := Render(second)
	if got := h.r.Git("-C", h.r.Bare, "show", "main:overrides/production/checkout-v2.yaml"); got+"\n" != string(want) {
		t.Errorf("file:\n%s", got)
	}
	if got := h.count(t); got != "2" {
		t.Errorf("%s commits, want 2", got)
	}
	// A clear that supersedes a set leaves nothing to commit.
	h2 := newHarness(t, nil)
	h2.w.Set(t.Context(), "production", first, "alice")
	h2.w.Clear(t.Context(), "production", "checkout-v2", "alice", "oops")
	h2.run(t)
	if l := h2.wait(t); l.Action != ActionClear || l.Commit != "" {
		t.Fatalf("landed %+v", l)
	}
}

func TestDirectoryMode(t *testing.T) {
	dir := writeDir(t, fixture)
	landed := make(chan Landed, 4)
	w, err := New(Options{Dir: dir, Clock: clockwork.NewFakeClockAt(start), OnLanded: func(l Landed) { landed <- l }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	o := kill(start)
	w.Set(t.Context(), "production", o, "alice")
	if l := <-landed; l.Commit != "" {
		t.Errorf("directory mode committed %q", l.Commit)
	}
	repo, err := loader.Load(dir, loader.Options{Now: func() time.Time { return start }})
	if err != nil {
		t.Fatal(err)
	}
	if got := repo.Documents["production"].Overrides["checkout-v2"]; got == nil || got.Serve != "off" || got.By != "alice" {
		t.Fatalf("loaded override %+v", got)
	}
	w.Clear(t.Context(), "production", "checkout-v2", "bob", "recovered")
	<-landed
	if _, err := os.Stat(filepath.Join(dir, "overrides", "production")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("overrides/production left behind: %v", err)
	}
}

func TestErrorsHaveNoCredentials(t *testing.T) {
	const password, token = "hunter2-password", "ghp_secret-token-123"
	remote, err := gitx.NewRemote(gitx.Options{URL: "https://alice:" + password + "@127.0.0.1:1/acme/flags.git", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) { o.Remote = remote })
	h.run(t)
	h.w.Set(t.Context(), "production", kill(start), "alice")
	h.waitRetry(t)
	p := h.w.Pending()
	if len(p) != 1 || p[0].LastError == "" {
		t.Fatalf("pending %+v", p)
	}
	for _, text := range []string{p[0].LastError, h.logs.String(), h.w.String()} {
		if strings.Contains(text, password) || strings.Contains(text, token) {
			t.Errorf("credentials leaked: %s", text)
		}
	}
}

func TestBadWrites(t *testing.T) {
	w, err := New(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ok := kill(start)
	for name, o := range map[string]ruleset.Override{
		"no serve":     {Flag: "checkout-v2", Serve: "", At: start},
		"no at":        {Flag: "checkout-v2", Serve: "off"},
		"path in flag": {Flag: "../flagpole", Serve: "off", At: start},
		"other env":    ok,
	} {
		t.Run(name, func(t *testing.T) {
			if err := w.Set(t.Context(), "staging", o, "x"); err == nil {
				t.Error("accepted")
			}
		})
	}
	if err := w.Clear(t.Context(), "production", "a/b", "x", ""); err == nil {
		t.Error("Clear accepted a path")
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New accepted no repository")
	}
}
