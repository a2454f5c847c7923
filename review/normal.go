package review

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

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
	Ramp       *ruleset.Ramp
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
	if r.Ramp != nil {
		rp := *r.Ramp
		rp.Start = rp.Start.UTC()
		n.Ramp = &rp
	}
	if len(r.Rollout) > 0 || r.Ramp != nil {
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
	Kind                     ruleset.Kind
	Requires                 []ruleset.Prerequisite
	Schedule                 []normStep
	Metadata                 map[string]any
}

// normStep is a schedule step as evaluation sees it.
type normStep struct {
	At           string
	Enabled      *bool
	Off, Default string
	Rules        *[]normRule
	Requires     *[]ruleset.Prerequisite
}

// normPrereqs sorts prerequisites by flag and their variants.
func normPrereqs(ps []ruleset.Prerequisite) []ruleset.Prerequisite {
	out := make([]ruleset.Prerequisite, len(ps))
	for i, p := range ps {
		out[i] = ruleset.Prerequisite{Flag: p.Flag, Variants: sortedSet(p.Variants)}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Flag < out[j].Flag })
	return out
}

func normRules(rs []ruleset.Rule) []normRule {
	out := make([]normRule, len(rs))
	for i, r := range rs {
		out[i] = normalizeRule(r)
	}
	return out
}

func normalizeFlag(f *ruleset.Flag) normFlag {
	n := normFlag{Name: f.Name, Description: f.Description, Owner: f.Owner, Client: f.Client, Type: f.Type,
		Variants: map[string]string{}, Enabled: f.Enabled, Off: f.Off, Default: f.Default,
		Breaker: f.Breaker, Expires: f.Expires, Kind: f.Kind, Metadata: f.Metadata}
	if len(f.Requires) > 0 {
		n.Requires = normPrereqs(f.Requires)
	}
	for _, st := range f.Schedule {
		ns := normStep{At: st.At.UTC().Format(time.RFC3339Nano), Enabled: st.Enabled, Off: st.Off, Default: st.Default}
		if st.Rules != nil {
			rs := normRules(*st.Rules)
			ns.Rules = &rs
		}
		if st.Requires != nil {
			ps := normPrereqs(*st.Requires)
			ns.Requires = &ps
		}
		n.Schedule = append(n.Schedule, ns)
	}
	for _, v := range f.Variants {
		n.Variants[v.Name] = canonValue(v.Value)
	}
	n.Rules = normRules(f.Rules)
	return n
}

// sameButKey reports whether two flags differ at most in key and name.
func sameButKey(a, b *ruleset.Flag) bool {
	na, nb := normalizeFlag(a), normalizeFlag(b)
	na.Name, nb.Name = "", ""
	return canonical(na) == canonical(nb)
}
