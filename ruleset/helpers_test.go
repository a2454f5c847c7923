package ruleset

import (
	"encoding/json"
	"testing"
	"time"
)

// fixedClock returns a clock that always says t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// mustTime parses an RFC 3339 time or fails the test.
func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// decodeDoc decodes a JSON Document (the wire form) or fails the test.
func decodeDoc(t testing.TB, s string) *Document {
	t.Helper()
	var doc Document
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatalf("decoding test document: %v", err)
	}
	return &doc
}

// compileJSON decodes and compiles a JSON Document with a fixed clock.
func compileJSON(t testing.TB, s string, now time.Time) *RuleSet {
	t.Helper()
	rs, err := CompileWith(decodeDoc(t, s), Options{Now: fixedClock(now)})
	if err != nil {
		t.Fatalf("compiling test document: %v", err)
	}
	return rs
}

// cond builds a Condition from raw JSON operands.
func cond(attr string, typ AttrType, op string, values ...string) Condition {
	c := Condition{Attribute: attr, Type: typ, Operator: op}
	for _, v := range values {
		c.Values = append(c.Values, json.RawMessage(v))
	}
	return c
}

// boolFlag is an enabled boolean flag whose rules serve on.
func boolFlag(key string, rules ...Rule) *Flag {
	return &Flag{
		Key: key, Type: TypeBoolean, Enabled: true, Off: "off", Default: "off",
		Variants: []Variant{{Name: "on", Value: json.RawMessage("true")}, {Name: "off", Value: json.RawMessage("false")}},
		Rules:    rules,
	}
}
