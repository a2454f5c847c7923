package sdk

import (
	"time"

	"github.com/jonboulle/clockwork"
)

// minClockTick is the shortest time between two clock changes a client
// reports: boundaries closer than that are reported together.
const minClockTick = 250 * time.Millisecond

// clockLoop tells subscribers when the client's clock passes a boundary of
// the rule set served (ruleset.RuleSet.NextChange): a schedule step, a
// ramp step, an override's expiry, ... Evaluation needs none of this (it
// reads the clock at every call); the loop exists so that listeners (and
// OpenFeature's PROVIDER_CONFIGURATION_CHANGED) hear of the change at
// once, also while the bearer is unreachable. It runs until Close.
func (c *Client) clockLoop() {
	defer close(c.clockDone)
	var t clockwork.Timer
	var fire <-chan time.Time
	// Boundaries after from are not reported yet; from moves only when a
	// fire is reported, so a new rule set arriving as the timer fires
	// loses no boundary.
	from := c.clock.Now()
	arm := func() {
		if t != nil {
			t.Stop()
			t, fire = nil, nil
		}
		snap := c.snap.Load()
		if snap == nil {
			return
		}
		next, ok := snap.rs.NextChange(from)
		if !ok {
			return
		}
		d := next.Sub(c.clock.Now())
		if d > 0 {
			d = max(d, minClockTick)
		}
		t = c.clock.NewTimer(max(d, 0))
		fire = t.Chan()
	}
	arm()
	for {
		select {
		case <-c.clockStop:
			if t != nil {
				t.Stop()
			}
			return
		case <-c.rearm:
			arm()
		case <-fire:
			snap, now := c.snap.Load(), c.clock.Now()
			if flags := snap.rs.ChangedBetween(from, now); len(flags) > 0 {
				c.log.Debug("flagpole: clock boundary passed", "version", snap.doc.Version, "flags", len(flags))
				c.changes.publish(Change{Version: snap.doc.Version, Flags: flags, Clock: true})
			}
			from = now
			arm()
		}
	}
}
