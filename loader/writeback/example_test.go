package writeback_test

import (
	"fmt"
	"time"

	"github.com/flagpole/flagpole/loader/writeback"
	"github.com/flagpole/flagpole/ruleset"
)

// Message is the commit message of the Writer's commits; `flagpole override
// --repo` commits with it too.
func ExampleMessage() {
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	exp := at.Add(2 * time.Hour)
	o := ruleset.Override{Flag: "checkout-v2", Environment: "production", Serve: "off",
		Reason: "5xx spike", By: "alice", At: at, Expires: &exp}
	fmt.Print(writeback.Message(writeback.ActionSet, "production", "checkout-v2", o, "alice", o.Reason))
	fmt.Println("---")
	fmt.Print(writeback.Message(writeback.ActionClear, "production", "checkout-v2", ruleset.Override{}, "bob", "fixed"))
	// Output:
	// override: checkout-v2 off in production (5xx spike)
	//
	// checkout-v2 serves "off" to everyone in production.
	// Reason: 5xx spike
	// By: alice
	// At: 2026-11-21T10:00:00Z
	// Expires: 2026-11-21T12:00:00Z
	// File: overrides/production/checkout-v2.yaml
	//
	// Requested-by: alice
	// ---
	// override: clear checkout-v2 in production (fixed)
	//
	// checkout-v2 in production is evaluated by its rules again.
	// Reason: fixed
	// File: overrides/production/checkout-v2.yaml
	//
	// Requested-by: bob
}
