package review

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"github.com/flagpole/flagpole/ruleset"
)

// This file reduces the model to what evaluation sees, so that a commit
// that only reorders or reformats YAML compares equal: the order of
// variants, users, audiences and conditions does not matter (the order of
// rules and of rollout weights does), nor does JSON formatting of values,
// nor a default written out (match: all, by: key).

// canonical is v's JSON, for equality of normalized values.
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "!" + err.Error()
	}
	return string(b)
}

// canonValue re-encodes a JSON value with sorted object keys and no spaces.
func canonValue(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	return canonical(v)
}

// condKey identifies a condition by what it tests, ignoring the attribute's
// type (a retyped attribute shows as an attribute change) and the order of
// in/not_in operands.
func condKey(c ruleset.Condition) string {
	if c.Audience != "" {
		return "audience\x00" + c.Audience
	}
	vals := make([]string, len(c.Values))
	for i, v := range c.Values {
		vals[i] = canonValue(v)
	}
	if c.Operator == ruleset.OpIn || c.Operator == ruleset.OpNotIn {
		sort.Strings(vals)
		vals = slices.Compact(vals)
	}
	return c.Attribute + "\x00" + c.Operator + "\x00" + strings.Join(vals, "\x00")
}

// normRule is a rule as evaluation sees it.
type normRule struct {
	Name       string
	Users      []string
	Audiences  []string
	Any        bool
	Conditions []string
	Serve      string
	Rollout    []ruleset.Weight
	By         string
}

func normalizeRule(r ruleset.Rule) normRule {
	n := normRule{Name: r.Name, Serve: r.Serve, Rollout: r.Rollout}
	n.Users = sortedSet(r.Users)
	n.Audiences = sortedSet(r.Audiences)
	for _, c := range r.Conditions {
		n.Conditions = append(n.Conditions, condKey(c))
	}
	n.Conditions = sortedSet(n.Conditions)
	// With one condition, all and any are the same.
	n.Any = r.Match == ruleset.MatchAny && len(n.Conditions) > 1
	if len(r.Rollout) > 0 {
		n.By = byOrKey(r.By)
	}
	return n
}

func sortedSet(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}

// normFlag is a flag as evaluation sees it, without its key.
type normFlag struct {
	Name, Description, Owner string
	Client                   bool
	Type                     ruleset.FlagType
	Variants                 map[string]string
	Enabled                  bool
	Off, Default             string
	Rules                    []normRule
	Breaker                  *ruleset.Breaker
	Expires                  string
}

func normalizeFlag(f *ruleset.Flag) normFlag {
	n := normFlag{Name: f.Name, Description: f.Description, Owner: f.Owner, Client: f.Client, Type: f.Type,
		Variants: map[string]string{}, Enabled: f.Enabled, Off: f.Off, Default: f.Default,
		Breaker: f.Breaker, Expires: f.Expires}
	for _, v := range f.Variants {
		n.Variants[v.Name] = canonValue(v.Value)
	}
	for _, r := range f.Rules {
		n.Rules = append(n.Rules, normalizeRule(r))
	}
	return n
}

// sameButKey reports whether two flags differ at most in key and name.
func sameButKey(a, b *ruleset.Flag) bool {
	na, nb := normalizeFlag(a), normalizeFlag(b)
	na.Name, nb.Name = "", ""
	return canonical(na) == canonical(nb)
}
