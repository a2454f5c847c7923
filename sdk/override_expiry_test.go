package sdk

import (
	"testing"
	"time"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/jonboulle/clockwork"
)

// TestOverrideExpiresWhileBearerDown: the client holds a rule set whose
// override of checkout-v2 expires while no bearer answers. The client
// stops applying it by its own clock, with nothing new from the bearer:
// the flag is evaluated by its rules again.
func TestOverrideExpiresWhileBearerDown(t *testing.T) {
	clk := clockwork.NewFakeClockAt(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC))
	expires := clk.Now().Add(2 * time.Hour)
	d := doc("v1", boolFlag("checkout-v2", true))
	d.Overrides = map[string]*ruleset.Override{"checkout-v2": {
		Flag: "checkout-v2", Environment: "production", Serve: "off", Reason: "5xx spike",
		By: "alice", At: clk.Now().Add(-time.Minute), Expires: &expires,
	}}
	f := newFleet(t)
	f.Publish(d)
	b := f.Start("127.0.0.1:0")
	c, err := newClient(t, b.URL(), f.ServerKey, func(o *Options) { o.Clock, o.InitTimeout = clk, -1 })
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// A first attempt may find the bearer still loading; its retry waits
	// on the fake clock.
	waitFor(t, "the rule set", func() bool { clk.Advance(DefaultReconnectMax / 100); return c.Version() == "v1" })
	user := Context{"key": "user-1"}
	if got := c.BoolDetail("checkout-v2", user, true); got.Value || got.Reason != ruleset.ReasonOverride {
		t.Fatalf("before expiry: %+v, want false by OVERRIDE", got)
	}

	// The bearer goes away; the client notices and keeps the last rules.
	b.Stop()
	waitFor(t, "the client to see the bearer gone", func() bool { return c.State() == StateStale })
	if c.Bool("checkout-v2", user, true) {
		t.Fatal("the override stopped applying when the bearer went down, before its expiry")
	}

	// One millisecond before the expiry it still applies; at the expiry
	// it no longer does.
	clk.Advance(expires.Sub(clk.Now()) - time.Millisecond)
	if c.Bool("checkout-v2", user, true) {
		t.Error("the override stopped applying before its expiry")
	}
	clk.Advance(time.Millisecond)
	got := c.BoolDetail("checkout-v2", user, false)
	if !got.Value || got.Reason == ruleset.ReasonOverride || got.Reason == ruleset.ReasonError {
		t.Errorf("after expiry: %+v, want true by the flag's rules", got)
	}
	if c.Version() != "v1" || c.State() == StateReady {
		t.Errorf("version %q, state %s: the bearer was down, nothing new should have come", c.Version(), c.State())
	}
}
