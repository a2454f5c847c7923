package breaker_test

import (
	"fmt"
	"time"

	"github.com/flagpole/flagpole/breaker"
	"github.com/flagpole/flagpole/store"
)

// A flag with `breaker: {error_rate: 5}` fails 412 of 3310 calls in its
// window: the breaker trips it, then ramps it back by the clock.
func ExampleDecide() {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	in := breaker.Input{
		Flag: "checkout-v2", Environment: "production", Off: "off",
		Settings: breaker.Settings{ErrorRate: 5}, // the other settings take their defaults
		Counts:   store.Counts{Success: 2898, Failure: 412},
		Now:      now,
	}
	d := breaker.Decide(in)
	fmt.Println(d.Action, d.State, d.Override.Reason)
	fmt.Println("recovery from", d.Override.Recovery.StartAt.Format(time.Kitchen))

	// Seven minutes later the override lets 30% of users through.
	in.Override, in.Now = d.Override, now.Add(7*time.Minute)
	in.Counts = store.Counts{Success: 400}
	d = breaker.Decide(in)
	fmt.Println(d.Action, d.State, d.Cap, "next step", d.NextStep.Format(time.Kitchen))

	// At 100% the breaker removes its override.
	in.Now = now.Add(14 * time.Minute)
	d = breaker.Decide(in)
	fmt.Println(d.Action, d.State, d.Reason)
	// Output:
	// trip open breaker: error rate 12.4% (412 of 3310 calls in 60s) ≥ 5%
	// recovery from 10:05AM
	// stay recovering 30 next step 10:08AM
	// recover closed breaker: recovered (10% to 100% of users from 2026-11-21T10:05:00Z)
}
