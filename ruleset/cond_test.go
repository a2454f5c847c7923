package ruleset

import (
	"encoding/json"
	"testing"
	"time"
)

// absent marks a context attribute left out.
type absent struct{}

func TestOperators(t *testing.T) {
	t0 := mustTime(t, "2026-11-21T10:00:00Z")
	type tc struct {
		name  string
		c     Condition
		value any
		want  bool
	}
	str := func(op string, v ...string) Condition { return cond("a", AttrString, op, v...) }
	boo := func(op string, v ...string) Condition { return cond("a", AttrBoolean, op, v...) }
	num := func(op string, v ...string) Condition { return cond("a", AttrNumber, op, v...) }
	ver := func(op string, v ...string) Condition { return cond("a", AttrSemver, op, v...) }
	dt := func(op string, v ...string) Condition { return cond("a", AttrDatetime, op, v...) }
	var long []string
	for _, s := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r"} {
		long = append(long, `"`+s+`"`)
	}
	tests := []tc{
		// string
		{"string eq", str("eq", `"x"`), "x", true},
		{"string eq other", str("eq", `"x"`), "y", false},
		{"string eq case", str("eq", `"x"`), "X", false},
		{"string eq wrong type", str("eq", `"1"`), 1.0, false},
		{"string eq missing", str("eq", `"x"`), absent{}, false},
		{"string eq null", str("eq", `"x"`), nil, false},
		{"string neq", str("neq", `"x"`), "y", true},
		{"string neq same", str("neq", `"x"`), "x", false},
		{"string neq wrong type", str("neq", `"x"`), true, false},
		{"string neq missing", str("neq", `"x"`), absent{}, false},
		{"string in", str("in", `"CA"`, `"WA"`), "WA", true},
		{"string in not", str("in", `"CA"`, `"WA"`), "NY", false},
		{"string in long", str("in", long...), "q", true},
		{"string in long not", str("in", long...), "z", false},
		{"string in wrong type", str("in", `"CA"`), 3, false},
		{"string not_in", str("not_in", `"CA"`, `"WA"`), "NY", true},
		{"string not_in member", str("not_in", `"CA"`, `"WA"`), "CA", false},
		{"string not_in long", str("not_in", long...), "z", true},
		{"string not_in wrong type", str("not_in", `"CA"`), false, false},
		{"string not_in missing", str("not_in", `"CA"`), absent{}, false},
		{"string contains", str("contains", `"ell"`), "hello", true},
		{"string contains not", str("contains", `"xyz"`), "hello", false},
		{"string contains wrong type", str("contains", `"1"`), 12, false},
		{"string not_contains", str("not_contains", `"xyz"`), "hello", true},
		{"string not_contains has", str("not_contains", `"ell"`), "hello", false},
		{"string not_contains wrong type", str("not_contains", `"x"`), 1.5, false},
		{"string not_contains missing", str("not_contains", `"x"`), absent{}, false},
		{"string starts_with", str("starts_with", `"he"`), "hello", true},
		{"string starts_with not", str("starts_with", `"lo"`), "hello", false},
		{"string ends_with", str("ends_with", `"lo"`), "hello", true},
		{"string ends_with not", str("ends_with", `"he"`), "hello", false},
		{"string ends_with wrong type", str("ends_with", `"e"`), true, false},
		{"string matches", str("matches", `"@example\\.com$"`), "ann@example.com", true},
		{"string matches not", str("matches", `"@example\\.com$"`), "ann@example.org", false},
		{"string matches unanchored", str("matches", `"amp"`), "example", true},
		{"string matches wrong type", str("matches", `"."`), 1, false},
		{"string matches missing", str("matches", `".*"`), absent{}, false},
		{"string exists", str("exists"), "", true},
		{"string exists missing", str("exists"), absent{}, false},
		{"string exists null", str("exists"), nil, false},
		{"string exists wrong type", str("exists"), 5, true},
		{"string not_exists", str("not_exists"), absent{}, true},
		{"string not_exists null", str("not_exists"), nil, true},
		{"string not_exists present", str("not_exists"), "x", false},
		// boolean
		{"bool eq true", boo("eq", "true"), true, true},
		{"bool eq false", boo("eq", "true"), false, false},
		{"bool eq string", boo("eq", "true"), "true", false},
		{"bool eq missing", boo("eq", "false"), absent{}, false},
		{"bool neq", boo("neq", "true"), false, true},
		{"bool neq same", boo("neq", "true"), true, false},
		{"bool neq wrong type", boo("neq", "true"), 0, false},
		{"bool in", boo("in", "false"), false, true},
		{"bool in not", boo("in", "false"), true, false},
		{"bool not_in", boo("not_in", "false"), true, true},
		{"bool not_in member", boo("not_in", "false"), false, false},
		{"bool not_in wrong type", boo("not_in", "false"), "true", false},
		{"bool exists", boo("exists"), false, true},
		{"bool not_exists", boo("not_exists"), absent{}, true},
		// number
		{"number eq", num("eq", "42"), 42.0, true},
		{"number eq int", num("eq", "42"), 42, true},
		{"number eq int8", num("eq", "42"), int8(42), true},
		{"number eq int16", num("eq", "42"), int16(42), true},
		{"number eq int32", num("eq", "42"), int32(42), true},
		{"number eq int64", num("eq", "42"), int64(42), true},
		{"number eq uint", num("eq", "42"), uint(42), true},
		{"number eq uint8", num("eq", "42"), uint8(42), true},
		{"number eq uint16", num("eq", "42"), uint16(42), true},
		{"number eq uint32", num("eq", "42"), uint32(42), true},
		{"number eq uint64", num("eq", "42"), uint64(42), true},
		{"number eq float32", num("eq", "0.5"), float32(0.5), true},
		{"number eq json.Number", num("eq", "42"), json.Number("42.0"), true},
		{"number eq other", num("eq", "42"), 41.0, false},
		{"number eq string", num("eq", "42"), "42", false},
		{"number eq missing", num("eq", "42"), absent{}, false},
		{"number neq", num("neq", "42"), 41, true},
		{"number neq same", num("neq", "42"), 42, false},
		{"number neq string", num("neq", "42"), "41", false},
		{"number in", num("in", "1", "2", "3"), 2, true},
		{"number in not", num("in", "1", "2", "3"), 4, false},
		{"number not_in", num("not_in", "1", "2"), 3, true},
		{"number not_in member", num("not_in", "1", "2"), 1, false},
		{"number not_in wrong type", num("not_in", "1"), "3", false},
		{"number lt", num("lt", "18"), 17, true},
		{"number lt equal", num("lt", "18"), 18, false},
		{"number lte equal", num("lte", "18"), 18, true},
		{"number lte more", num("lte", "18"), 18.5, false},
		{"number gt", num("gt", "18"), 18.01, true},
		{"number gt equal", num("gt", "18"), 18, false},
		{"number gte equal", num("gte", "18"), uint8(18), true},
		{"number gte less", num("gte", "18"), -1, false},
		{"number gte bool", num("gte", "0"), true, false},
		{"number lt missing", num("lt", "18"), absent{}, false},
		{"number exists", num("exists"), 0, true},
		{"number not_exists present", num("not_exists"), 0, false},
		// semver
		{"semver eq", ver("eq", `"1.2.3"`), "v1.2.3", true},
		{"semver eq build", ver("eq", `"1.2.3+a"`), "1.2.3+b", true},
		{"semver eq other", ver("eq", `"1.2.3"`), "1.2.4", false},
		{"semver eq not semver", ver("eq", `"1.2.3"`), "1.2", false},
		{"semver eq number", ver("eq", `"1.2.3"`), 1.2, false},
		{"semver neq", ver("neq", `"1.2.3"`), "1.2.4", true},
		{"semver neq bad", ver("neq", `"1.2.3"`), "banana", false},
		{"semver in", ver("in", `"1.0.0"`, `"2.0.0"`), "2.0.0", true},
		{"semver in not", ver("in", `"1.0.0"`, `"2.0.0"`), "3.0.0", false},
		{"semver not_in", ver("not_in", `"1.0.0"`), "1.0.1", true},
		{"semver not_in member", ver("not_in", `"1.0.0"`), "v1.0.0", false},
		{"semver lt numeric", ver("lt", `"1.10.0"`), "1.9.0", true},
		{"semver lt prerelease", ver("lt", `"2.0.0"`), "2.0.0-rc.1", true},
		{"semver lt equal", ver("lt", `"2.0.0"`), "2.0.0", false},
		{"semver lte equal", ver("lte", `"2.0.0"`), "2.0.0", true},
		{"semver gt", ver("gt", `"2.0.0-rc.1"`), "2.0.0", true},
		{"semver gt prerelease numeric", ver("gt", `"1.0.0-beta.2"`), "1.0.0-beta.11", true},
		{"semver gte", ver("gte", `"1.2.3"`), "1.2.2", false},
		{"semver gte bad", ver("gte", `"1.2.3"`), "9", false},
		{"semver missing", ver("gte", `"1.2.3"`), absent{}, false},
		{"semver not_exists", ver("not_exists"), absent{}, true},
		// datetime
		{"datetime eq", dt("eq", `"2026-11-21T10:00:00Z"`), "2026-11-21T12:00:00+02:00", true},
		{"datetime eq time.Time", dt("eq", `"2026-11-21T10:00:00Z"`), t0.In(time.FixedZone("x", 3600)), true},
		{"datetime eq other", dt("eq", `"2026-11-21T10:00:00Z"`), "2026-11-21T10:00:01Z", false},
		{"datetime eq bad", dt("eq", `"2026-11-21T10:00:00Z"`), "yesterday", false},
		{"datetime eq number", dt("eq", `"2026-11-21T10:00:00Z"`), 1.7e9, false},
		{"datetime neq", dt("neq", `"2026-11-21T10:00:00Z"`), "2026-11-22", true},
		{"datetime neq bad", dt("neq", `"2026-11-21T10:00:00Z"`), "soon", false},
		{"datetime in", dt("in", `"2026-01-01"`, `"2026-11-21T10:00:00Z"`), t0, true},
		{"datetime not_in", dt("not_in", `"2026-01-01"`), t0, true},
		{"datetime lt", dt("lt", `"2026-11-21T10:00:00Z"`), "2026-11-21T09:59:59Z", true},
		{"datetime lt equal", dt("lt", `"2026-11-21T10:00:00Z"`), t0, false},
		{"datetime lte", dt("lte", `"2026-11-21T10:00:00Z"`), t0, true},
		{"datetime gt", dt("gt", `"2026-01-01"`), t0, true},
		{"datetime gte", dt("gte", `"2027-01-01"`), t0, false},
		{"datetime gt missing", dt("gt", `"2026-01-01"`), absent{}, false},
		{"datetime exists", dt("exists"), "not a date", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := Context{"key": "u"}
			if _, ok := tt.value.(absent); !ok {
				ctx["a"] = tt.value
			}
			if got := condMatches(t, tt.c, ctx, t0); got != tt.want {
				t.Errorf("%s %s %s with a=%#v: got %v, want %v", tt.c.Type, tt.c.Operator, tt.c.Values, tt.value, got, tt.want)
			}
		})
	}
}

// condMatches evaluates a one-rule flag with condition c for ctx.
func condMatches(t *testing.T, c Condition, ctx Context, now time.Time) bool {
	t.Helper()
	doc := &Document{Version: "v1", Flags: NewFlagMap(map[string]*Flag{"f": boolFlag("f", Rule{Conditions: []Condition{c}, Serve: "on"})})}
	rs, err := CompileWith(doc, Options{Now: fixedClock(now)})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	res := rs.Evaluate("f", ctx)
	if res.Reason == ReasonError {
		t.Fatalf("evaluation error: %v", res.ErrorCode)
	}
	return res.Variant == "on"
}

func TestNowAttribute(t *testing.T) {
	clock := mustTime(t, "2026-11-21T10:00:00Z")
	after := cond("now", "", OpGte, `"2026-11-21T00:00:00Z"`)
	tests := []struct {
		name string
		c    Condition
		ctx  Context
		want bool
	}{
		{"clock when missing", after, Context{}, true},
		{"context wins", after, Context{"now": "2026-11-20T23:00:00Z"}, false},
		{"context time.Time", after, Context{"now": clock.Add(-11 * time.Hour)}, false},
		{"bad context now is wrong type", after, Context{"now": "later"}, false},
		{"exists without context", cond("now", "", OpExists), Context{}, true},
		{"not_exists without context", cond("now", "", OpNotExists), Context{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := condMatches(t, tt.c, tt.ctx, clock); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
