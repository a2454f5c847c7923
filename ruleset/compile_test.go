package ruleset

import (
	"errors"
	"strings"
	"testing"
)

const brokenDoc = `{
  "version": "bad", "environment": "production",
  "audiences": {
    "a": {"key": "a", "conditions": [{"audience": "b"}]},
    "b": {"key": "b", "conditions": [{"audience": "a"}]},
    "self": {"key": "self", "conditions": [{"audience": "self"}]},
    "typo": {"key": "typ0", "match": "some", "conditions": [
      {"attribute": "age", "type": "number", "operator": "contains", "values": [1]},
      {"attribute": "email", "type": "string", "operator": "matches", "values": ["("]},
      {"attribute": "v", "type": "semver", "operator": "gt", "values": ["1.2"]},
      {"attribute": "d", "type": "datetime", "operator": "lt", "values": ["tomorrow"]},
      {"attribute": "n", "type": "number", "operator": "eq", "values": ["12"]},
      {"attribute": "s", "type": "string", "operator": "eq", "values": ["x", "y"]},
      {"attribute": "s", "type": "string", "operator": "exists", "values": ["x"]},
      {"attribute": "s", "type": "string", "operator": "in"},
      {"attribute": "s", "type": "colour", "operator": "eq", "values": ["x"]},
      {"attribute": "s", "type": "string", "operator": "like", "values": ["x"]},
      {"attribute": "b", "type": "boolean", "operator": "lt", "values": [true]},
      {"attribute": "", "operator": "eq", "values": ["x"]},
      {"audience": "ghost"},
      {"attribute": "untyped", "operator": "exists"}
    ]}
  },
  "flags": {
    "checkout-v2": {
      "key": "checkout-v2", "type": "boolean",
      "variants": [{"name": "on", "value": true}, {"name": "off", "value": "no"}],
      "enabled": true, "off": "of", "default": "off",
      "rules": [
        {"serve": "on", "audiences": ["nobody"]},
        {"rollout": [{"variant": "on", "weight": 25000}, {"variant": "off", "weight": 70000}]},
        {"rollout": [{"variant": "maybe", "weight": 100000}]},
        {"serve": "on", "rollout": [{"variant": "on", "weight": 100000}]},
        {"name": "nothing"}
      ]
    },
    "mismatch": {"key": "other", "type": "number", "variants": [{"name": "one", "value": 1}, {"name": "one", "value": 2}], "off": "one", "default": "one"},
    "colour": {"key": "colour", "type": "colour", "off": "a", "default": "a"}
  },
  "overrides": {
    "ghost-flag": {"flag": "ghost-flag", "serve": "off"},
    "mismatch": {"flag": "mismatch", "environment": "staging", "serve": "two",
      "recovery": {"start_at": "2026-11-21T10:00:00Z", "start": 120, "step": -1, "every": "0s"}}
  }
}`

func TestCompileErrors(t *testing.T) {
	_, err := Compile(decodeDoc(t, brokenDoc))
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("Compile returned %v, want a *CompileError", err)
	}
	want := []string{
		`audiences.a.conditions[0].audience: audience cycle: a → b → a`,
		`audiences.self.conditions[0].audience: audience cycle: self → self`,
		`audiences.typo.conditions[0].operator: operator contains does not apply to number attribute "age" (it takes string attributes)`,
		`audiences.typo.conditions[1].values[0]: invalid regular expression: missing closing ): ` + "`(`",
		`audiences.typo.conditions[2].values[0]: v is a semver attribute: value "1.2" must be a semantic version such as "2.3.0" or "v2.3.0-rc.1" (quoted when it has fewer than three parts)`,
		`audiences.typo.conditions[3].values[0]: d is a datetime attribute: value "tomorrow" must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z or a date such as 2026-01-02 (midnight UTC)`,
		`audiences.typo.conditions[4].values[0]: n is a number attribute: value "12" must be a number`,
		`audiences.typo.conditions[5].values: operator eq takes one value, not 2`,
		`audiences.typo.conditions[6].values: operator exists takes no value`,
		`audiences.typo.conditions[7].values: operator in needs values: a list`,
		`audiences.typo.conditions[8].type: unknown attribute type "colour" (want string, boolean, number, semver or datetime)`,
		`audiences.typo.conditions[9].operator: unknown operator "like"`,
		`audiences.typo.conditions[10].operator: operator lt does not apply to boolean attribute "b" (it takes number, semver or datetime attributes)`,
		`audiences.typo.conditions[11]: needs an attribute or an audience`,
		`audiences.typo.conditions[12].audience: unknown audience "ghost"`,
		`audiences.typo.conditions[13].type: attribute "untyped" has no type`,
		`audiences.typo.key: "typ0" does not match the audience's key "typo"`,
		`audiences.typo.match: unknown match "some" (want all or any)`,
		`flags.checkout-v2.off: unknown variant "of" (variants: on, off)`,
		`flags.checkout-v2.rules[0].audiences[0]: unknown audience "nobody"`,
		`flags.checkout-v2.rules[1].rollout: rollout percentages sum to 95, not 100`,
		`flags.checkout-v2.rules[2].rollout[0].variant: unknown variant "maybe" (variants: on, off)`,
		`flags.checkout-v2.rules[3]: a rule has serve or rollout, not both`,
		`flags.checkout-v2.rules[4]: a rule needs serve (one variant), rollout (a split) or ramp (a split growing by the clock)`,
		`flags.checkout-v2.variants[1].value: variant "off" of a boolean flag must be a boolean, not "no"`,
		`flags.colour.type: unknown flag type "colour" (want boolean, string, number or json)`,
		`flags.mismatch.key: "other" does not match the flag's key "mismatch"`,
		`flags.mismatch.variants[1].name: duplicate variant "one"`,
		`overrides.ghost-flag.flag: unknown flag "ghost-flag"`,
		`overrides.mismatch.environment: "staging" is not this rule set's environment "production"`,
		`overrides.mismatch.recovery.every: must be a positive duration such as 1m, not 0s`,
		`overrides.mismatch.recovery.start: 120 is outside 0..100 (percent)`,
		`overrides.mismatch.recovery.step: -1 is outside 0..100 (percent)`,
		`overrides.mismatch.serve: unknown variant "two" of flag mismatch (variants: one, one)`,
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasPrefix(err.Error(), "invalid rule set: 34 problems\n\taudiences.a.conditions[0].audience: audience cycle") {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestCompileOverrideProblems(t *testing.T) {
	doc := decodeDoc(t, fixtureDoc)
	o := *doc.Overrides["new-search"]
	rec := *o.Recovery
	rec.Every, rec.Start, rec.Step = 0, 120, -1
	o.Recovery, o.Serve = &rec, "sideways"
	doc.Overrides["new-search"] = &o
	_, err := Compile(doc)
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want *CompileError", err)
	}
	want := []string{
		`overrides.new-search.recovery.every: must be a positive duration such as 1m, not 0s`,
		`overrides.new-search.recovery.start: 120 is outside 0..100 (percent)`,
		`overrides.new-search.recovery.step: -1 is outside 0..100 (percent)`,
		`overrides.new-search.serve: unknown variant "sideways" of flag new-search (variants: on, off)`,
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCompileDefaults(t *testing.T) {
	doc := &Document{Version: "v", Flags: NewFlagMap(map[string]*Flag{
		"implied": {Key: "implied", Enabled: true, Off: "off", Default: "on"},
	})}
	rs, err := Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.Evaluate("implied", nil); got.Value != true || got.Variant != "on" {
		t.Errorf("implied boolean variants: got %+v", got)
	}
	if _, err := Compile(nil); err == nil {
		t.Error("Compile(nil) succeeded")
	}
}

func TestAccessors(t *testing.T) {
	rs := compileJSON(t, fixtureDoc, mustTime(t, "2026-11-21T10:00:00Z"))
	if rs.Version() != "v1" || rs.Environment() != "production" || rs.Document().Commit != "abc123" {
		t.Errorf("Version %q Environment %q", rs.Version(), rs.Environment())
	}
	want := "button-color checkout-v2 max-items new-search theme west-coast-student-banner"
	keys := rs.Keys()
	if strings.Join(keys, " ") != want {
		t.Errorf("Keys() = %v", keys)
	}
	keys[0] = "changed"
	if rs.Keys()[0] != "button-color" {
		t.Error("Keys() returned a shared slice")
	}
	if f, ok := rs.Flag("theme"); !ok || f.Type != TypeJSON {
		t.Errorf("Flag(theme) = %v, %v", f, ok)
	}
	if _, ok := rs.Flag("nope"); ok {
		t.Error("Flag(nope) found")
	}
}

func TestNaturalLess(t *testing.T) {
	in := []string{"rules[10]", "rules[2]", "rules[1].x", "rules[1]", "a", "rules[02]"}
	want := []string{"a", "rules[1]", "rules[1].x", "rules[2]", "rules[02]", "rules[10]"}
	ps := problems{}
	for _, s := range in {
		ps.addPath([]any{s}, "m")
	}
	var ce *CompileError
	errors.As(ps.err(), &ce)
	for i, p := range ce.Problems {
		if p.PathString() != want[i] {
			t.Errorf("position %d: %s, want %s", i, p.PathString(), want[i])
		}
	}
}
