package recorder

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// TestBreakerEntriesAreTripAndRecover: the breaker's trip (a layer entry by
// "breaker") lands as a commit and is announced as a trip with its figures;
// its tombstone at the end of recovery lands as a "recovered" commit and is
// announced as a recovery.
func TestBreakerEntriesAreTripAndRecover(t *testing.T) {
	f := newFixture(t)
	g := gitrepo.New(t)
	g.CommitPush(map[string]string{"README": "flags\n"}, "initial")
	f.run(t, g.Bare, Options{NotifyDelay: time.Minute, CheckInterval: 20 * time.Millisecond})
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second)
	reason := "breaker: error rate 12.4% (412 of 3310 calls in 60s) ≥ 5%"
	o := &ruleset.Override{Flag: "checkout-v2", Environment: "production", Serve: "off", Reason: reason, By: breakerBy, At: at,
		Recovery: &ruleset.Recovery{StartAt: at.Add(5 * time.Minute), Start: 10, Step: 10, Every: ruleset.Duration(time.Minute)}}
	if _, err := f.st.SetOverride(ctx, "production", store.LayerEntry{Flag: "checkout-v2", Override: o, By: breakerBy, Requester: breakerBy}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the trip's notification", func() bool { return len(f.notes()) == 1 })
	n := f.notes()[0]
	head := g.Git("-C", g.Bare, "rev-parse", "main")
	if n.Event != "trip" || n.Reason != reason || n.Variant != "off" || n.Commit != head || n.Who != breakerBy {
		t.Errorf("trip notification %+v (commit %s)", n, head)
	}
	if file := g.Git("-C", g.Bare, "show", "main:overrides/production/checkout-v2.yaml"); !strings.Contains(file, "by: breaker") {
		t.Errorf("override file:\n%s", file)
	}

	// The sync catches up (git has the override), then the breaker recovers.
	doc := *f.snap.Document
	doc.Overrides = map[string]*ruleset.Override{"checkout-v2": o}
	if err := f.st.Publish(ctx, &store.Snapshot{Environment: "production", Version: "v2", Document: &doc}); err != nil {
		t.Fatal(err)
	}
	rec := "breaker: recovered (10% to 100% of users from " + o.Recovery.StartAt.Format(time.RFC3339) + ")"
	if _, err := f.st.SetOverride(ctx, "production", store.LayerEntry{Flag: "checkout-v2", At: time.Now().UTC(),
		By: breakerBy, Requester: breakerBy, Reason: rec}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the recovery's notification", func() bool { return len(f.notes()) == 2 })
	n = f.notes()[1]
	if n.Event != "recover" || n.Reason != rec {
		t.Errorf("recover notification %+v", n)
	}
	if msg := g.Git("-C", g.Bare, "log", "-1", "--format=%B", "main"); !strings.Contains(msg, "recovered") {
		t.Errorf("last commit:\n%s", msg)
	}
}

// disableEntry is the breaker's trip of checkout-v2 with on_trip: commit.
func disableEntry(at time.Time) store.LayerEntry {
	o := &ruleset.Override{Flag: "checkout-v2", Environment: "production", Serve: "off", By: breakerBy, At: at,
		Reason: "breaker: error rate 12.4% (412 of 3310 calls in 60s) ≥ 5%"}
	return store.LayerEntry{Flag: "checkout-v2", Override: o, By: breakerBy, Requester: breakerBy, Kind: store.KindDisable}
}

// TestDisableEntryEditsTheFlagFile: a disable entry becomes one commit of
// the flag file, announced as a trip that leaves recovery to a person;
// once the published rule set has the flag disabled, the recorder is done
// with it.
func TestDisableEntryEditsTheFlagFile(t *testing.T) {
	f := newFixture(t)
	g := gitrepo.New(t)
	file, err := os.ReadFile("../../flags.example/flags/checkout-v2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g.CommitPush(map[string]string{"flags/checkout-v2.yaml": string(file)}, "initial")
	r := f.run(t, g.Bare, Options{NotifyDelay: time.Minute, CheckInterval: 20 * time.Millisecond})
	ctx := context.Background()
	e := disableEntry(time.Now().UTC().Truncate(time.Second))
	if _, err := f.st.SetOverride(ctx, "production", e); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the trip's notification", func() bool { return len(f.notes()) == 1 })
	n := f.notes()[0]
	head := g.Git("-C", g.Bare, "rev-parse", "main")
	if n.Event != "trip" || n.Commit != head || !strings.Contains(n.Reason, "recovery is left to a person") ||
		!strings.HasPrefix(n.Reason, e.Override.Reason) {
		t.Errorf("trip notification %+v (commit %s)", n, head)
	}
	got := g.Git("-C", g.Bare, "show", "main:flags/checkout-v2.yaml")
	want := strings.Replace(string(file), "environments:\n", "environments:\n  production: {enabled: false}\n", 1)
	if got+"\n" != want {
		t.Errorf("flag file:\n%s", got)
	}

	// The sync publishes the commit: the recorder leaves the entry to the
	// syncer, which drops it, and forgets it.
	doc := *f.snap.Document
	doc.Flags = ruleset.NewFlagMap(map[string]*ruleset.Flag{})
	for k, v := range f.snap.Document.Flags.All() {
		doc.Flags = doc.Flags.With(map[string]*ruleset.Flag{k: v})
	}
	off := *doc.Flags.Get("checkout-v2")
	off.Enabled = false
	doc.Flags = doc.Flags.With(map[string]*ruleset.Flag{"checkout-v2": &off})
	if err := f.st.Publish(ctx, &store.Snapshot{Environment: "production", Version: "v2", Document: &doc}); err != nil {
		t.Fatal(err)
	}
	if e := f.dropEntry(t, r); !e.InGit(&doc) {
		t.Fatal("the disable entry is not in git by the published rule set")
	}
	if c := g.Git("-C", g.Bare, "rev-list", "--count", "main"); c != "2" {
		t.Errorf("%s commits", c)
	}
}

// TestDisableOfARemovedFlagIsGivenUp: the flag file is gone at the head;
// the write is given up, and the entry is not restored when the store
// loses it.
func TestDisableOfARemovedFlagIsGivenUp(t *testing.T) {
	f := newFixture(t)
	g := gitrepo.New(t)
	g.CommitPush(map[string]string{"README": "flags\n"}, "initial")
	r := f.run(t, g.Bare, Options{CheckInterval: 20 * time.Millisecond})
	ctx := context.Background()
	if _, err := f.st.SetOverride(ctx, "production", disableEntry(time.Now().UTC().Truncate(time.Second))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the write given up", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		h := r.handed[key{"production", "checkout-v2"}]
		return h != nil && h.dropped
	})
	if p := r.Pending(); len(p) != 0 {
		t.Errorf("pending: %+v", p)
	}
	f.dropEntry(t, r)
	if c := g.Git("-C", g.Bare, "rev-list", "--count", "main"); c != "1" {
		t.Errorf("%s commits", c)
	}
}

// dropEntry drops checkout-v2's entry from production's layer, as the
// syncer (or a flushed Redis) would, returns it, and checks that r does
// not set it again.
func (f *fixture) dropEntry(t *testing.T, r *Recorder) store.LayerEntry {
	t.Helper()
	ctx := context.Background()
	l, err := f.st.Layer(ctx, "production")
	if err != nil {
		t.Fatal(err)
	}
	e := l.Entries["checkout-v2"]
	if err := f.st.DropOverride(ctx, "production", "checkout-v2", e.Seq); err != nil {
		t.Fatal(err)
	}
	morePasses(t, r, 3)
	if l, _ := f.st.Layer(ctx, "production"); len(l.Entries) != 0 {
		t.Errorf("the recorder set the dropped entry again: %+v", l.Entries)
	}
	return e
}
