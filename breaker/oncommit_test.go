package breaker

import (
	"context"
	"testing"
	"time"

	"github.com/flagpole/flagpole/store"
)

// publishCommit republishes production with checkout's on_trip: commit and
// enabled as given, as a sync of that commit would.
func (f *runnerFixture) publishCommit(t *testing.T, version string, enabled bool) {
	t.Helper()
	d := doc()
	d.Version = version
	d.Flags.Get("checkout").Breaker.OnTrip = "commit"
	d.Flags.Get("checkout").Enabled = enabled
	if err := f.st.Publish(context.Background(), &store.Snapshot{Environment: "production", Version: version, Document: d}); err != nil {
		t.Fatal(err)
	}
}

func (f *runnerFixture) state(t *testing.T, r *Runner) State {
	t.Helper()
	for _, st := range r.Status() {
		if st.Flag == "checkout" {
			return st.State
		}
	}
	t.Fatal("no status of checkout")
	return 0
}

// TestRunnerCommitMode: a flag with on_trip: commit trips with a disable
// entry without a ramp, stays open however long it waits, is left alone
// once git has it disabled, and after a person enables it again is judged
// on calls made after that.
func TestRunnerCommitMode(t *testing.T) {
	f := newRunnerFixture(t)
	f.publishCommit(t, "v1", true)
	r := f.runner(t)
	ctx := context.Background()
	f.failTick(t, r)
	e, _ := f.entry(t, "checkout")
	if e.Kind != store.KindDisable || e.Override == nil || e.Override.Recovery != nil || e.Override.Serve != "off" ||
		e.By != By || e.Requester != By {
		t.Fatalf("trip entry: %+v", e)
	}
	if got := f.state(t, r); got != Open {
		t.Fatalf("state after the trip: %s", got)
	}

	// No ramp: long after a recovery delay, the entry is untouched.
	f.clock.Advance(time.Hour)
	r.Tick(ctx)
	if again, _ := f.entry(t, "checkout"); again.Seq != e.Seq {
		t.Fatalf("the entry changed without a ramp: %+v", again)
	}
	if got := f.state(t, r); got != Open {
		t.Fatalf("state an hour after the trip: %s", got)
	}

	// The write-back landed and the sync dropped the entry: git says
	// enabled: false. Bad calls trip nothing.
	f.publishCommit(t, "v2", false)
	if err := f.st.DropOverride(ctx, "production", "checkout", e.Seq); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		f.clock.Advance(time.Minute)
		f.failTick(t, r)
		if e, ok := f.entry(t, "checkout"); ok {
			t.Fatalf("a flag disabled in git was touched: %+v", e)
		}
	}
	if got := f.state(t, r); got != Disabled {
		t.Fatalf("state while disabled in git: %s", got)
	}

	// A person enables it: the window's older calls do not trip it...
	f.publishCommit(t, "v3", true)
	f.failTick(t, r)
	f.wantNoTrip(t, "tripped on calls from before the person enabled the flag")
	// ...the calls after it do.
	f.clock.Advance(time.Minute)
	f.failTick(t, r)
	f.wantTrip(t, "no trip on bad calls a window after the flag was enabled")
	if e, _ := f.entry(t, "checkout"); e.Kind != store.KindDisable {
		t.Fatalf("second trip: %+v", e)
	}
}
