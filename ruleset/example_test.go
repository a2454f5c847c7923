package ruleset_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

// A server SDK compiles the document a bearer streams, then evaluates flags
// for each request's context.
func Example() {
	const wire = `{
	  "version": "3f2a9c1", "environment": "production",
	  "audiences": {"west-coast-students": {"key": "west-coast-students", "conditions": [
	    {"attribute": "state", "type": "string", "operator": "in", "values": ["CA", "WA", "OR"]},
	    {"attribute": "student", "type": "boolean", "operator": "eq", "values": [true]}]}},
	  "flags": {"west-coast-student-banner": {
	    "key": "west-coast-student-banner", "type": "boolean",
	    "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
	    "enabled": true, "off": "off", "default": "off",
	    "rules": [
	      {"name": "internal testers", "users": ["audrey", "rob"], "serve": "on"},
	      {"name": "west coast students", "audiences": ["west-coast-students"], "serve": "on"},
	      {"name": "everyone else", "rollout": [{"variant": "on", "weight": 25000}, {"variant": "off", "weight": 75000}]}]}}
	}`
	var doc ruleset.Document
	if err := json.Unmarshal([]byte(wire), &doc); err != nil {
		panic(err)
	}
	rs, err := ruleset.Compile(&doc)
	if err != nil {
		panic(err)
	}
	for _, ctx := range []ruleset.Context{
		{"key": "rob"},
		{"key": "mei", "state": "WA", "student": true},
		{"key": "juan", "state": "NY"},
		{"key": "user-2"},
		{},
	} {
		res := rs.Evaluate("west-coast-student-banner", ctx)
		fmt.Printf("%-6v %v %-15v rule %d %s\n", ctx["key"], res.Value, res.Reason, res.Rule, res.RuleName)
	}
	// Output:
	// rob    true TARGETING_MATCH rule 0 internal testers
	// mei    true TARGETING_MATCH rule 1 west coast students
	// juan   true SPLIT           rule 2 everyone else
	// user-2 false SPLIT           rule 2 everyone else
	// <nil>  false DEFAULT         rule -1
}

// Explain tells why a context got its variant.
func ExampleRuleSet_Explain() {
	doc := &ruleset.Document{Version: "v1", Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{
		"new-checkout": {
			Key: "new-checkout", Type: ruleset.TypeBoolean, Enabled: true, Off: "off", Default: "off",
			Variants: []ruleset.Variant{{Name: "on", Value: json.RawMessage("true")}, {Name: "off", Value: json.RawMessage("false")}},
			Rules: []ruleset.Rule{{
				Name: "recent apps",
				Conditions: []ruleset.Condition{
					{Attribute: "app_version", Type: ruleset.AttrSemver, Operator: ruleset.OpGte, Values: []json.RawMessage{json.RawMessage(`"2.0.0"`)}},
				},
				Serve: "on",
			}},
		},
	})}
	rs, err := ruleset.Compile(doc)
	if err != nil {
		panic(err)
	}
	_, trace := rs.Explain("new-checkout", ruleset.Context{"key": "u1", "app_version": "2.0.0-rc.3"})
	fmt.Print(trace)
	// Output:
	// flag new-checkout: variant "off" = false (DEFAULT)
	//   override: none
	//   rule[0] "recent apps": no match
	//     conditions (all): no
	//       app_version is at least 2.0.0: app_version = "2.0.0-rc.3" → no
	//   default: serve "off"
}

// The recovery ramp of an override is computed from the clock: here the
// ramp started 3 minutes ago at 10% plus 10% a minute, so 40% of users are
// evaluated normally again.
func ExampleCompileWith_recovery() {
	start := time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC)
	doc := &ruleset.Document{Version: "v2", Environment: "production",
		Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{"checkout-v2": {Key: "checkout-v2", Enabled: true, Off: "off", Default: "on"}}),
		Overrides: map[string]*ruleset.Override{"checkout-v2": {
			Flag: "checkout-v2", Serve: "off", At: start.Add(-5 * time.Minute),
			Recovery: &ruleset.Recovery{StartAt: start, Start: 10, Step: 10, Every: ruleset.Duration(time.Minute)},
		}},
	}
	clock := func() time.Time { return start.Add(3 * time.Minute) }
	rs, err := ruleset.CompileWith(doc, ruleset.Options{Now: clock})
	if err != nil {
		panic(err)
	}
	normal := 0
	for i := 0; i < 10000; i++ {
		if rs.Evaluate("checkout-v2", ruleset.Context{"key": fmt.Sprint("user-", i)}).Reason != ruleset.ReasonOverride {
			normal++
		}
	}
	fmt.Printf("cap 40%%: %d of 10000 users evaluated normally\n", normal)
	// Output:
	// cap 40%: 4061 of 10000 users evaluated normally
}

func ExampleBucket() {
	fmt.Println(ruleset.Hash("checkout-v2", "user-1"), ruleset.Bucket("checkout-v2", "user-1"))
	// Output:
	// 2846312092 66270
}

func ExampleParseContext() {
	_, err := ruleset.ParseContext([]byte(`{"key": "u1", "tags": ["a", "b"]}`))
	fmt.Println(err)
	ctx, _ := ruleset.ParseContext([]byte(`{"key": "u1", "age": 42, "student": true}`))
	fmt.Println(ctx["key"], ctx["age"], ctx["student"])
	// Output:
	// context.tags: must be a string, number, boolean or null
	// u1 42 true
}
