package loader

import (
	"encoding/json"
	"fmt"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/flagpole/flagpole/ruleset"
)

// TestOperandsAgree runs each operand through validation (Load) and
// through ruleset compilation and evaluation: both accept it or both
// reject it, and an accepted operand compares as documented.
func TestOperandsAgree(t *testing.T) {
	cases := []struct {
		attr, typ, yaml string
		ok              bool
		ctx             any // a context value that equals the operand
	}{
		{"app_version", "semver", `"1.2.3"`, true, "1.2.3"},
		{"app_version", "semver", `"v1.2.3"`, true, "1.2.3"},
		{"app_version", "semver", `v1.2.3-rc.1+build.5`, true, "1.2.3-rc.1"},
		{"app_version", "semver", `"1.2"`, false, nil},
		{"app_version", "semver", `1.2`, false, nil},
		{"app_version", "semver", `"01.2.3"`, false, nil},
		{"signup", "datetime", `2026-01-02`, true, "2026-01-02T00:00:00Z"},
		{"signup", "datetime", `"2026-01-02"`, true, "2026-01-02T00:00:00Z"},
		{"signup", "datetime", `2026-01-02T10:00:00+02:00`, true, "2026-01-02T08:00:00Z"},
		{"signup", "datetime", `"2026-02-30"`, false, nil},
		{"signup", "datetime", `yesterday`, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.typ+" "+tc.yaml, func(t *testing.T) {
			dir := writeRepo(t, map[string]string{
				"flagpole.yaml":   "version: 1\nenvironments: [production]\n",
				"attributes.yaml": fmt.Sprintf("attributes:\n  - {name: %s, type: %s}\n", tc.attr, tc.typ),
				"flags/f.yaml": fmt.Sprintf("key: f\nrules:\n  - conditions:\n      - {attribute: %s, operator: eq, value: %s}\n    serve: on\n",
					tc.attr, tc.yaml),
			})
			repo, err := Load(dir, Options{})
			if (err == nil) != tc.ok {
				t.Fatalf("validate: ok %v, want %v (%v)", err == nil, tc.ok, err)
			}
			// The same operand as the wire form carries it, compiled on its own.
			var v any
			if err := json.Unmarshal([]byte(operandJSON(yamlNode(t, tc.yaml))), &v); err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(v)
			doc := &ruleset.Document{Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{"f": {Key: "f", Enabled: true, Off: "off", Default: "off",
				Rules: []ruleset.Rule{{Serve: "on", Conditions: []ruleset.Condition{{Attribute: tc.attr,
					Type: ruleset.AttrType(tc.typ), Operator: ruleset.OpEq, Values: []json.RawMessage{raw}}}}}}})}
			rs, cerr := ruleset.Compile(doc)
			if (cerr == nil) != tc.ok {
				t.Fatalf("compile: ok %v, want %v (%v)", cerr == nil, tc.ok, cerr)
			}
			if !tc.ok {
				return
			}
			for _, set := range []*ruleset.RuleSet{rs, repo.RuleSets["production"]} {
				if got := set.Evaluate("f", ruleset.Context{tc.attr: tc.ctx}); got.Variant != "on" {
					t.Errorf("%s eq %s: got %+v, want the rule to match", tc.ctx, tc.yaml, got)
				}
			}
		})
	}
}

// yamlNode parses one YAML scalar.
func yamlNode(t *testing.T, text string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}
