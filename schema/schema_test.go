package schema

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("test JSON: %v", err)
	}
	return v
}

func TestSchemasCompileAndAreListed(t *testing.T) {
	if _, err := compileAll(); err != nil {
		t.Fatal(err)
	}
	for _, n := range Names() {
		src := Source(n)
		if src == nil {
			t.Fatalf("Source(%q) = nil", n)
		}
		var m map[string]any
		if err := json.Unmarshal(src, &m); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if m["$id"] != ID(n) {
			t.Errorf("%s: $id = %v, want %s", n, m["$id"], ID(n))
		}
	}
	if Source("nope") != nil || ID("nope") != "" {
		t.Error("unknown schema has a source")
	}
	if got := Validate("nope", map[string]any{}); len(got) != 1 || !strings.Contains(got[0].Message, "unknown schema") {
		t.Errorf("Validate(nope) = %v", got)
	}
}

func TestValidate(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	tests := []struct {
		name, schema, doc string
		want              []Violation
	}{
		{"settings full", Flagpole, `{"version":1,"environments":["production","staging"],
			"keys":[{"name":"svc","environment":"production","kind":"server","sha256":"` + sha + `"},
				{"name":"oncall","kind":"admin","environments":["production"],"sha256":"` + sha + `"},{"name":"dash","kind":"viewer","sha256":"` + sha + `"}],
			"triggers":[{"name":"t","flag":"f","environment":"production","action":"serve blue","sha256":"` + sha + `"}],
			"breaker":{"window":"60s","min_requests":100,"error_rate":10,"slow":{"duration":"800ms","rate":50},"recovery":{"delay":"5m","start":10,"step":10,"every":"1m"},"on_trip":"override"},
			"writeback":{"branch":"main","author":{"name":"flagpole","email":"flagpole@localhost"}},
			"notify":[{"url":"${SLACK}","format":"slack","events":["trip","recover","override","sync_error"]}]}`, nil},
		{"settings bad", Flagpole, `{"version":2,"environments":[],"colour":1,
			"keys":[{"name":"svc","environment":"production","kind":"root","sha256":"AB"},{"name":"a","kind":"admin","environments":[],"sha256":"` + sha + `"}],
			"triggers":[{"name":"t","flag":"f","environment":"production","action":"serve","sha256":"` + sha + `"},{"name":"u","action":"kill"}],
			"notify":[{"url":"x","format":"xml","events":["boom"]}],
			"breaker":{"window":"60","on_trip":"panic","slow":{"duration":"fast","rate":0,"p99":1}}}`, []Violation{
			{"/breaker/on_trip", `value must be one of "override", "commit"`},
			{"/breaker/slow/duration", "must be a duration such as 60s, 5m or 1h30m"},
			{"/breaker/slow/p99", `unknown field "p99"`},
			{"/breaker/slow/rate", "must be > 0 but found 0"},
			{"/breaker/window", "must be a duration such as 60s, 5m or 1h30m"},
			{"/colour", `unknown field "colour"`},
			{"/environments", "minimum 1 items required, but found 0 items"},
			{"/keys/0/kind", `value must be one of "server", "client", "admin", "viewer"`},
			{"/keys/0/sha256", "must be 64 lowercase hex digits (the SHA-256 of the key)"},
			{"/keys/1/environments", "minimum 1 items required, but found 0 items"},
			{"/notify/0/events/0", `value must be one of "trip", "recover", "override", "sync_error"`},
			{"/notify/0/format", `value must be one of "slack", "json"`},
			{"/triggers/0/action", "must be off, clear or serve <variant>"},
			{"/triggers/1/action", "must be off, clear or serve <variant>"},
			{"/triggers/1/environment", `missing required field "environment"`},
			{"/triggers/1/flag", `missing required field "flag"`},
			{"/triggers/1/sha256", `missing required field "sha256"`},
			{"/version", "must be 1"},
		}},
		{"missing fields", Override, `{"serve":"off"}`, []Violation{
			{"/at", `missing required field "at"`},
			{"/environment", `missing required field "environment"`},
			{"/flag", `missing required field "flag"`},
		}},
		{"override formats", Override, `{"flag":"f","environment":"p","serve":"off","at":"2026-11-21 10:00",
			"recovery":{"start_at":"2026-11-21T10:05:00Z","start":10,"step":0,"every":"1m"}}`, []Violation{
			{"/at", "'2026-11-21 10:00' is not valid 'date-time'"},
			{"/recovery/step", "must be > 0 but found 0"},
		}},
		{"flag rollout decimals", Flag, `{"key":"f","expires":"2027-02-30","rules":[{"rollout":{"on":33.3333,"off":66.6667}},{"rollout":{"on":0.1,"off":99.9}}]}`, []Violation{
			{"/expires", "'2027-02-30' is not valid 'date'"},
			{"/rules/0/rollout/off", "must have at most 3 decimals, not 66.6667"},
			{"/rules/0/rollout/on", "must have at most 3 decimals, not 33.3333"},
		}},
		{"flag overlay", Flag, `{"key":"f","environments":{"staging":{"key":"g","rules":[{"serve":"on","colour":"x"}]}}}`, []Violation{
			{"/environments/staging/key", `unknown field "key"`},
			{"/environments/staging/rules/0/colour", `unknown field "colour"`},
		}},
		{"audience conditions", Audience, `{"key":"a","conditions":[{"audience":"b","attribute":"c"},{"attribute":"x"},{"attribute":"x","operator":"like","value":null}]}`, []Violation{
			{"/conditions/0", "an audience condition takes no other fields (attribute, operator, value, values)"},
			{"/conditions/1/operator", `missing required field "operator"`},
			{"/conditions/2/operator", `value must be one of "eq", "neq", "in", "not_in", "contains", "not_contains", "starts_with", "ends_with", "matches", "lt", "lte", "gt", "gte", "exists", "not_exists"`},
			{"/conditions/2/value", "expected string or number or boolean, but got null"},
		}},
		{"condition fields depend on each other", Flag, `{"key":"f","rules":[{"serve":"on","conditions":[{"operator":"eq","value":1},{"value":2},{}]}]}`, []Violation{
			{"/rules/0/conditions/0/attribute", `missing required field "attribute"`},
			{"/rules/0/conditions/1/attribute", `missing required field "attribute"`},
			{"/rules/0/conditions/2", "minimum 1 properties allowed, but found 0 properties"},
		}},
		{"attributes", Attributes, `{"attributes":[{"name":"9lives","type":"int"}]}`, []Violation{
			{"/attributes/0/name", "must be 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or '_'"},
			{"/attributes/0/type", `value must be one of "string", "boolean", "number", "semver", "datetime"`},
		}},
		{"root type", Flag, `[1]`, []Violation{{"", "expected object, but got array"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Validate(tc.schema, decode(t, tc.doc))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got:\n%s\nwant:\n%s", list(got), list(tc.want))
			}
		})
	}
}

func list(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString("  " + v.String() + "\n")
	}
	return b.String()
}

func TestValidateGoIntegers(t *testing.T) {
	v := map[string]any{"key": "f", "breaker": map[string]any{"min_requests": int64(0)}}
	got := Validate(Flag, v)
	if len(got) != 1 || got[0].Path != "/breaker/min_requests" {
		t.Fatalf("got %v", got)
	}
}

func TestOperatorEnumFromRuleset(t *testing.T) {
	for _, name := range []string{Audience, Flag} {
		src := string(Source(name))
		if strings.Contains(src, "$operators") || !strings.Contains(src, `"operator": {"enum": ["eq", "neq", "in", "not_in", "contains"`) {
			t.Errorf("%s: operator enum not filled in from ruleset.Operators:\n%s", name, src)
		}
	}
	if v := Validate(Flag, map[string]any{"key": "f", "rules": []any{map[string]any{"serve": "on",
		"conditions": []any{map[string]any{"attribute": "a", "operator": "like", "value": "x"}}}}}); len(v) != 1 {
		t.Errorf("unknown operator: %v, want one violation", v)
	}
}
