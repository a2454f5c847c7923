package breaker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/loader/recorder"
	"github.com/flagpole/flagpole/loader/source"
	"github.com/flagpole/flagpole/loader/syncer"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// TestCommitTripDisablesInGit: a flag with on_trip: commit is tripped
// through the layer, the leader's recorder commits enabled: false into
// its production overlay on a real git remote (one commit, comments kept),
// the syncer publishes that commit and drops the layer entry, and the flag
// serves off with reason DISABLED; the breaker leaves it alone from then
// on.
func TestCommitTripDisablesInGit(t *testing.T) {
	g := gitrepo.New(t)
	const flagFile = "# the new checkout\nkey: checkout\nvariants: {on: true, off: false}\ndefault: on\n" +
		"breaker: {error_rate: 5, on_trip: commit}   # a person re-enables it\nenvironments:\n  staging:\n    default: off\n"
	g.CommitPush(map[string]string{
		"flagpole.yaml":       "version: 1\nenvironments: [production, staging]\n",
		"flags/checkout.yaml": flagFile,
	}, "initial")
	st := store.NewMemory()
	src, err := source.NewGit(source.GitOptions{URL: g.Bare, Poll: -1, WorkDir: t.TempDir(),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var sy *syncer.Syncer
	rec := gitRecorder(t, g, recorder.Options{Store: st,
		Settings:    func() (loader.Settings, bool) { return sy.Settings() },
		AfterLanded: func() { sy.Trigger() }})
	sy, err = syncer.New(syncer.Options{Source: src, Store: st, WhileLeading: func(ctx context.Context) { _ = rec.Run(ctx) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = sy.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the first sync", func() bool {
		_, err := st.Snapshot(ctx, "production")
		return err == nil
	})

	f := &runnerFixture{st: st, m: newCountingMetrics(), clock: clockwork.NewFakeClockAt(t0), locker: store.NewMemoryLocker()}
	r := f.runner(t)
	f.failTick(t, r)
	if e, _ := f.entry(t, "checkout"); e.Kind != store.KindDisable {
		t.Fatalf("no disable entry: %+v", e)
	}
	waitFor(t, "the layer entry dropped after the sync", func() bool {
		_, ok := f.entry(t, "checkout")
		return !ok
	})

	if n := g.Git("-C", g.Bare, "rev-list", "--count", "main"); n != "2" {
		t.Errorf("%s commits on main, want the initial one and the trip's", n)
	}
	msg := g.Git("-C", g.Bare, "log", "-1", "--format=%B", "main")
	if !strings.HasPrefix(msg, "breaker: disable checkout in production (error rate 50.0%") || !strings.Contains(msg, "Requested-by: breaker") {
		t.Errorf("commit message:\n%s", msg)
	}
	want := strings.Replace(flagFile, "environments:\n", "environments:\n  production: {enabled: false}\n", 1)
	if got := g.Git("-C", g.Bare, "show", "main:flags/checkout.yaml"); got+"\n" != want {
		t.Errorf("flag file:\n%s\nwant:\n%s", got, want)
	}

	snap, err := st.Snapshot(ctx, "production")
	if err != nil {
		t.Fatal(err)
	}
	l, err := st.Layer(ctx, "production")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := l.Apply(snap.Document)
	rs, err := ruleset.Compile(served)
	if err != nil {
		t.Fatal(err)
	}
	if res := rs.Evaluate("checkout", ruleset.Context{"key": "u1"}); res.Variant != "off" || res.Reason != ruleset.ReasonDisabled {
		t.Errorf("checkout in production: %+v", res)
	}

	// Disabled in git: however bad the calls, the breaker leaves it alone.
	f.clock.Advance(time.Second)
	f.failTick(t, r)
	if e, ok := f.entry(t, "checkout"); ok {
		t.Errorf("the breaker touched a flag disabled in git: %+v", e)
	}
}
