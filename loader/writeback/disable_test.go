package writeback

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

// trip is the layer's override of a breaker trip with on_trip: commit.
func trip(at time.Time) ruleset.Override {
	return ruleset.Override{Flag: "checkout-v2", Environment: "production", Serve: "off",
		Reason: "breaker: error rate 12.4% (412 of 3310 calls in 60s) ≥ 5%", By: "breaker", At: at}
}

// checkDisabled loads the repository at the remote's main and checks that
// checkout-v2 is disabled in production only.
func checkDisabled(t *testing.T, h *harness) {
	t.Helper()
	h.r.Git("pull", "--quiet", "origin", "main")
	repo, err := loader.Load(h.r.Work, loader.Options{})
	if err != nil {
		t.Fatalf("the edited repository does not load: %v", err)
	}
	if f := repo.Documents["production"].Flags.Get("checkout-v2"); f.Enabled {
		t.Error("checkout-v2 is enabled in production")
	}
	if f := repo.Documents["staging"].Flags.Get("checkout-v2"); !f.Enabled {
		t.Error("checkout-v2 is disabled in staging")
	}
}

func TestDisableCommits(t *testing.T) {
	h := newHarness(t, nil)
	h.r.CommitPush(map[string]string{"flags/checkout-v2.yaml": "# the new checkout\nkey: checkout-v2\n" +
		"variants: {on: true, off: false}   # boolean\ndefault: on\nenvironments:\n  staging: {default: on}\n"}, "overlay")
	h.run(t)
	if err := h.w.Disable(t.Context(), "production", trip(start), "breaker"); err != nil {
		t.Fatal(err)
	}
	l := h.wait(t)
	if l.Commit == "" || l.Action != ActionDisable || l.Override == nil || !l.Override.At.Equal(start) || l.Dropped != nil {
		t.Fatalf("landed %+v", l)
	}
	bare := h.r.Bare
	if got := h.r.Git("-C", bare, "log", "-1", "--format=%s", "main"); got != "breaker: disable checkout-v2 in production (error rate 12.4% (412 of 3…)" {
		t.Errorf("subject: %s", got)
	}
	body := h.r.Git("-C", bare, "log", "-1", "--format=%b", "main")
	for _, want := range []string{`checkout-v2 serves its off variant "off" to everyone in production`, "By: breaker",
		"At: 2026-11-21T10:00:00Z", "Recovery: none", "File: flags/checkout-v2.yaml", "Requested-by: breaker"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if got := h.r.Git("-C", bare, "show", "--stat", "--format=", "main"); !strings.Contains(got, "flags/checkout-v2.yaml") || !strings.Contains(got, "1 file changed") {
		t.Errorf("the commit touches more than the flag file:\n%s", got)
	}
	want := "# the new checkout\nkey: checkout-v2\nvariants: {on: true, off: false}   # boolean\ndefault: on\n" +
		"environments:\n  production: {enabled: false}\n  staging: {default: on}"
	if got := h.r.Git("-C", bare, "show", "main:flags/checkout-v2.yaml"); got != want {
		t.Errorf("flag file:\n%s\nwant:\n%s", got, want)
	}
	checkDisabled(t, h)

	// Again: the branch already says so, nothing is committed.
	before := h.count(t)
	if err := h.w.Disable(t.Context(), "production", trip(start.Add(time.Minute)), "breaker"); err != nil {
		t.Fatal(err)
	}
	if l := h.wait(t); l.Commit != "" {
		t.Errorf("a second disable committed %s", l.Commit)
	}
	if h.count(t) != before {
		t.Error("a second disable made a commit")
	}
}

// TestDisableYml edits a flag file named .yml.
func TestDisableYml(t *testing.T) {
	h := newHarness(t, nil)
	h.r.Git("mv", "flags/checkout-v2.yaml", "flags/checkout-v2.yml")
	h.r.CommitPush(nil, "rename")
	h.run(t)
	if err := h.w.Disable(t.Context(), "production", trip(start), "breaker"); err != nil {
		t.Fatal(err)
	}
	if l := h.wait(t); l.Commit == "" {
		t.Fatalf("landed %+v", l)
	}
	if got := h.r.Git("-C", h.r.Bare, "log", "-1", "--format=%b", "main"); !strings.Contains(got, "File: flags/checkout-v2.yml") {
		t.Errorf("body:\n%s", got)
	}
	checkDisabled(t, h)
}

// TestDisableHumanEditBeforePush: a person edits the same flag file
// between the Writer's fetch and its push; the edit is re-applied on the
// new head and both commits are kept.
func TestDisableHumanEditBeforePush(t *testing.T) {
	h := newHarness(t, nil)
	var human string
	h.w.beforePush = func() {
		if human == "" {
			human = h.r.CommitPush(map[string]string{"flags/checkout-v2.yaml": "key: checkout-v2\n" +
				"description: the new checkout   # a person's edit\nvariants: {on: true, off: false}\ndefault: on\n"}, "a human's edit")
		}
	}
	h.run(t)
	if err := h.w.Disable(t.Context(), "production", trip(start), "breaker"); err != nil {
		t.Fatal(err)
	}
	h.waitRetry(t)
	h.clk.Advance(time.Minute)
	l := h.wait(t)
	if l.Attempts != 2 || l.Commit == "" {
		t.Fatalf("landed %+v", l)
	}
	if got := h.r.Git("-C", h.r.Bare, "log", "--format=%H", "main"); got != l.Commit+"\n"+human+"\n"+h.base {
		t.Errorf("history:\n%s", got)
	}
	got := h.r.Git("-C", h.r.Bare, "show", "main:flags/checkout-v2.yaml")
	if !strings.Contains(got, "description: the new checkout   # a person's edit") || !strings.Contains(got, "production: {enabled: false}") {
		t.Errorf("flag file:\n%s", got)
	}
	checkDisabled(t, h)
}

// TestDisableFlagRemoved: the flag's file is gone at the head; the write
// is given up at once, reported as dropped and logged, and the Writer goes
// on with the next write.
func TestDisableFlagRemoved(t *testing.T) {
	h := newHarness(t, nil)
	h.r.Git("rm", "--quiet", "flags/checkout-v2.yaml")
	h.r.CommitPush(nil, "remove checkout-v2")
	h.run(t)
	before := h.count(t)
	if err := h.w.Disable(t.Context(), "production", trip(start), "breaker"); err != nil {
		t.Fatal(err)
	}
	l := h.wait(t)
	if !errors.Is(l.Dropped, ErrPermanent) || l.Commit != "" || !strings.Contains(l.Dropped.Error(), "flags/checkout-v2.yaml") {
		t.Fatalf("landed %+v", l)
	}
	if p := h.w.Pending(); len(p) != 0 {
		t.Errorf("still pending: %+v", p)
	}
	if h.count(t) != before {
		t.Error("a commit was made")
	}
	if !strings.Contains(h.logs.String(), "write given up") {
		t.Errorf("not logged:\n%s", h.logs)
	}
}

func TestDisableDirectoryMode(t *testing.T) {
	dir := writeDir(t, fixture)
	w, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	wr := &write{env: "production", flag: "checkout-v2", action: ActionDisable, override: trip(start)}
	if _, err := w.attempt(t.Context(), wr); err != nil {
		t.Fatal(err)
	}
	repo, err := loader.Load(dir, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if repo.Documents["production"].Flags.Get("checkout-v2").Enabled {
		t.Error("still enabled")
	}
	wr.flag = "gone"
	if _, err := w.attempt(t.Context(), wr); !errors.Is(err, ErrPermanent) {
		t.Errorf("missing flag file: %v", err)
	}
}
