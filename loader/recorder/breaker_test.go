package recorder

import (
	"context"
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
