package ruleset

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestLimits(t *testing.T) {
	regexCond := func(pattern string) Condition {
		return cond("email", AttrString, OpMatches, fmt.Sprintf("%q", pattern))
	}
	nRules := func(n int, r Rule) []Rule {
		rules := make([]Rule, n)
		for i := range rules {
			rules[i] = r
		}
		return rules
	}
	// An audience of 100 short regular expressions costs about 100 × 12.
	costly := &Audience{Key: "costly"}
	for i := 0; i < MaxConditions; i++ {
		costly.Conditions = append(costly.Conditions, regexCond(fmt.Sprintf("^user-%d@", i)))
	}
	tests := []struct {
		name string
		flag *Flag
		path string // "" when it compiles
		want string
	}{
		{"rules at the limit", boolFlag("f", nRules(MaxRules, Rule{Serve: "on", Users: []string{"a"}})...), "", ""},
		{"rules over", boolFlag("f", nRules(MaxRules+1, Rule{Serve: "on", Users: []string{"a"}})...), "flags.f.rules", "1001 rules, over the limit of 1000"},
		{"conditions over", boolFlag("f", Rule{Serve: "on", Conditions: make([]Condition, MaxConditions+1)}), "flags.f.rules[0].conditions", "101 conditions, over the limit of 100"},
		{"long pattern", boolFlag("f", Rule{Serve: "on", Conditions: []Condition{regexCond(strings.Repeat("a", MaxRegexBytes+1))}}), "flags.f.rules[0].conditions[0].values[0]", "regular expression of 1025 bytes"},
		{"big program", boolFlag("f", Rule{Serve: "on", Conditions: []Condition{regexCond("x{600}y{600}")}}), "flags.f.rules[0].conditions[0].values[0]", "instructions, over the limit of 1000"},
		{"a costly audience used once", boolFlag("f", Rule{Serve: "on", Audiences: []string{"costly"}}), "", ""},
		{"a costly audience used in many rules", boolFlag("f", nRules(30, Rule{Serve: "on", Audiences: []string{"costly"}})...), "flags.f.rules", "over the limit of 20000"},
		{"many regex rules", boolFlag("f", nRules(MaxRules, Rule{Serve: "on", Conditions: []Condition{regexCond("^(a|b|c)+@example[.]com$")}})...), "flags.f.rules", "over the limit of 20000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := &Document{Version: "v", Environment: "production", Flags: NewFlagMap(map[string]*Flag{"f": tc.flag}),
				Audiences: map[string]*Audience{"costly": costly}}
			_, err := Compile(doc)
			if tc.path == "" {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				return
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile = %v, want a CompileError", err)
			}
			for _, p := range ce.Problems {
				if p.PathString() == tc.path && strings.Contains(p.Message, tc.want) {
					return
				}
			}
			t.Errorf("no problem at %s containing %q in:\n%v", tc.path, tc.want, err)
		})
	}
}
