package openfeature_test

import (
	"context"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	flagpoleof "github.com/flagpole/flagpole/sdk/openfeature"
	"github.com/flagpole/flagpole/store"
)

// Tracking events reach the bearer as outcome counts of the flag named in
// their details; other events and events without a flag are ignored.
func TestTrack(t *testing.T) {
	f, _, c, _, client := setup(t)
	track := func(event string, flag any) {
		d := of.NewTrackingEventDetails(1)
		if flag != nil {
			d = d.Add(flagpoleof.FlagAttribute, flag)
		}
		client.Track(context.Background(), event, of.EvaluationContext{}, d)
	}
	track(flagpoleof.SuccessEvent, "checkout-v2")
	track(flagpoleof.SuccessEvent, "checkout-v2")
	track(flagpoleof.FailureEvent, "checkout-v2")
	track(flagpoleof.FailureEvent, "banner-text")
	track("checkout", "checkout-v2")          // not a Flagpole event
	track(flagpoleof.FailureEvent, nil)       // no flag
	track(flagpoleof.FailureEvent, 42)        // not a flag key
	track(flagpoleof.FailureEvent, "no-such") // not in the rule set
	c.Close()                                 // sends what was recorded

	got, err := f.Store.WindowCounts(context.Background(), "production", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.Counts{"checkout-v2": {Success: 2, Failure: 1}, "banner-text": {Failure: 1}}
	if len(got) != len(want) || got["checkout-v2"] != want["checkout-v2"] || got["banner-text"] != want["banner-text"] {
		t.Fatalf("counts = %v, want %v", got, want)
	}
	if st := c.MetricsStats(); st.UnknownCalls != 1 || st.SentCalls != 4 {
		t.Fatalf("stats = %+v, want 4 calls sent and 1 unknown", st)
	}
}
