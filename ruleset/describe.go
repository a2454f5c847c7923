package ruleset

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file puts rules in plain words. The same wording serves
// `flagpole eval --explain` (the subjects of a Trace's steps), `flagpole diff`
// and the dashboard, so a reader meets one phrasing everywhere:
//
//	state is one of CA, WA, OR
//	email ends with "@flagpole.dev"
//	users audrey, rob
//	rollout on 25%, off 75% by key
//
// The functions are pure and work on the wire model (Document and its
// parts), valid or not: they never fail, and an unusual input (an unknown
// operator, a missing operand) is shown as it is rather than hidden.

// MaxDescribedUsers is how many users DescribeUsers names before it counts
// the rest ("and 40 more").
const MaxDescribedUsers = 10

// DescribeValue renders a JSON value for people: a string that reads as a
// plain word (CA, user-1, team@x.dev) bare, any other string quoted, and
// numbers, booleans, arrays and objects as compact JSON.
func DescribeValue(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return describeString(s)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return string(raw)
	}
	return string(out)
}

// describeString writes s bare when that cannot be misread: non-empty, only
// letters, digits and -_.:/@+, and not a JSON literal or number.
func describeString(s string) string {
	if s == "" || s == "true" || s == "false" || s == "null" {
		return strconv.Quote(s)
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.Quote(s)
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("-_.:/@+", r):
		default:
			return strconv.Quote(s)
		}
	}
	return s
}

// DescribeCondition puts one condition in words, e.g. "state is one of CA,
// WA, OR", "age is at least 18", "signup is before 2026-01-01",
// `email ends with "@flagpole.dev"`, "beta is set" or "in audience
// beta-testers".
func DescribeCondition(c Condition) string {
	if c.Audience != "" {
		return "in audience " + c.Audience
	}
	vals := make([]string, len(c.Values))
	for i, v := range c.Values {
		vals[i] = DescribeValue(v)
	}
	first := ""
	if len(vals) > 0 {
		first = vals[0]
	}
	quoted := func() string { // string operators: the exact text matters
		if len(c.Values) == 0 {
			return ""
		}
		var s string
		if json.Unmarshal(c.Values[0], &s) == nil {
			return strconv.Quote(s)
		}
		return string(c.Values[0])
	}
	a := c.Attribute
	switch c.Operator {
	case OpEq:
		return a + " is " + first
	case OpNeq:
		return a + " is not " + first
	case OpIn:
		if len(vals) == 1 {
			return a + " is " + first
		}
		return a + " is one of " + strings.Join(vals, ", ")
	case OpNotIn:
		if len(vals) == 1 {
			return a + " is not " + first
		}
		return a + " is none of " + strings.Join(vals, ", ")
	case OpContains:
		return a + " contains " + quoted()
	case OpNotContains:
		return a + " does not contain " + quoted()
	case OpStartsWith:
		return a + " starts with " + quoted()
	case OpEndsWith:
		return a + " ends with " + quoted()
	case OpMatches:
		return a + " matches regexp " + quoted()
	case OpLt, OpLte, OpGt, OpGte:
		return a + " " + orderWords(c.Type, c.Operator) + " " + first
	case OpExists:
		return a + " is set"
	case OpNotExists:
		return a + " is not set"
	}
	return strings.TrimSpace(a + " " + c.Operator + " " + strings.Join(vals, ", "))
}

// orderWords names a comparison for the attribute's type: times are before
// and after, versions and numbers below and above.
func orderWords(t AttrType, op string) string {
	if t == AttrDatetime {
		return map[string]string{OpLt: "is before", OpLte: "is at or before", OpGt: "is after", OpGte: "is at or after"}[op]
	}
	return map[string]string{OpLt: "is below", OpLte: "is at most", OpGt: "is above", OpGte: "is at least"}[op]
}

// DescribeConditions joins conditions with "and" (match all, the default)
// or "or" (match any). Nothing at all is "everyone".
func DescribeConditions(m Match, conds []Condition) string {
	if len(conds) == 0 {
		return "everyone"
	}
	parts := make([]string, len(conds))
	for i, c := range conds {
		parts[i] = DescribeCondition(c)
	}
	sep := " and "
	if m == MatchAny {
		sep = " or "
	}
	return strings.Join(parts, sep)
}

// DescribeAudience says who an audience matches, e.g. "state is one of CA,
// WA, OR and student is true and in audience beta-testers".
func DescribeAudience(a *Audience) string {
	return DescribeConditions(a.Match, a.Conditions)
}

// DescribeUsers lists a rule's users, e.g. "users audrey, rob"; past
// MaxDescribedUsers the rest are counted: "users a, b, …, j and 40 more".
func DescribeUsers(users []string) string {
	word := "users "
	if len(users) == 1 {
		word = "user "
	}
	if len(users) <= MaxDescribedUsers {
		return word + strings.Join(users, ", ")
	}
	return fmt.Sprintf("%s%s and %d more", word, strings.Join(users[:MaxDescribedUsers], ", "), len(users)-MaxDescribedUsers)
}

// DescribeRollout puts a split in words, e.g. "rollout on 25%, off 75% by
// key"; an empty by is the default, key.
func DescribeRollout(weights []Weight, by string) string {
	if by == "" {
		by = "key"
	}
	parts := make([]string, len(weights))
	for i, w := range weights {
		parts[i] = w.Variant + " " + Percent(w.Weight) + "%"
	}
	return "rollout " + strings.Join(parts, ", ") + " by " + by
}

// Percent formats a weight in thousandths of a percent as a percentage
// without trailing zeros: 66271 is "66.271", 25000 is "25".
func Percent(weight int) string { return thousandths(weight) }

// DescribeSelectors says whom a rule matches: its users, audiences and
// conditions joined with "and", or "everyone" when it has none of them.
func DescribeSelectors(r Rule) string {
	var parts []string
	if len(r.Users) > 0 {
		parts = append(parts, DescribeUsers(r.Users))
	}
	switch len(r.Audiences) {
	case 0:
	case 1:
		parts = append(parts, "in audience "+r.Audiences[0])
	default:
		parts = append(parts, "in audience "+strings.Join(r.Audiences, " or "))
	}
	if len(r.Conditions) > 0 {
		s := DescribeConditions(r.Match, r.Conditions)
		if len(r.Conditions) > 1 && len(parts) > 0 {
			s = "(" + s + ")"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "everyone"
	}
	return strings.Join(parts, " and ")
}

// DescribeRamp puts a ramp in words, e.g. "ramp on from 5% +5% every 1h0m0s
// since 2026-12-01T09:00:00Z by key, others off"; an empty by is key.
func DescribeRamp(rp *Ramp, by string) string {
	if by == "" {
		by = "key"
	}
	return fmt.Sprintf("ramp %s from %g%% +%g%% every %s since %s by %s, others %s", rp.Serve, rp.From, rp.Step,
		time.Duration(rp.Every), rp.Start.UTC().Format(time.RFC3339), by, rp.Otherwise)
}

// DescribePrerequisite puts a prerequisite in words, e.g. "requires
// new-checkout-api to serve on" or "... to serve one of on, beta".
func DescribePrerequisite(p Prerequisite) string {
	if len(p.Variants) == 1 {
		return "requires " + p.Flag + " to serve " + p.Variants[0]
	}
	return "requires " + p.Flag + " to serve one of " + strings.Join(p.Variants, ", ")
}

// DescribeScheduleStep puts a schedule step in words, e.g. "from
// 2026-12-24T00:00:00Z: enabled, default on, 2 rules".
func DescribeScheduleStep(s ScheduleStep) string {
	var parts []string
	if s.Enabled != nil {
		if *s.Enabled {
			parts = append(parts, "enabled")
		} else {
			parts = append(parts, "disabled")
		}
	}
	if s.Off != "" {
		parts = append(parts, "off variant "+s.Off)
	}
	if s.Default != "" {
		parts = append(parts, "default "+s.Default)
	}
	if s.Rules != nil {
		parts = append(parts, countOf(len(*s.Rules), "rule"))
	}
	if s.Requires != nil {
		parts = append(parts, countOf(len(*s.Requires), "prerequisite"))
	}
	if len(parts) == 0 {
		parts = append(parts, "no change")
	}
	return "from " + s.At.UTC().Format(time.RFC3339) + ": " + strings.Join(parts, ", ")
}

// DescribeOutcome says what a matching rule serves: "serve on", a rollout
// or a ramp in words.
func DescribeOutcome(r Rule) string {
	if r.Ramp != nil {
		return DescribeRamp(r.Ramp, r.By)
	}
	if len(r.Rollout) > 0 {
		return DescribeRollout(r.Rollout, r.By)
	}
	return "serve " + r.Serve
}

// DescribeRule puts a rule in one line: whom it matches, then what it
// serves, e.g. "users audrey, rob → serve on" or "everyone → rollout on
// 25%, off 75% by key".
func DescribeRule(r Rule) string {
	return DescribeSelectors(r) + " → " + DescribeOutcome(r)
}

// RuleLabel names rule i (counted from 0) for people, from 1 as reviewers
// count: `rule 2 "west coast students"`, or "rule 2" when it has no name.
func RuleLabel(i int, r Rule) string {
	s := "rule " + strconv.Itoa(i+1)
	if r.Name != "" {
		s += " " + strconv.Quote(r.Name)
	}
	return s
}

// DescribeOverride puts an override in words, e.g. `serve off to everyone
// (by breaker at 2026-11-21T10:00:00Z: "error rate 12.4%"; recovery from
// 2026-11-21T10:05:00Z: 10% then +10% every 1m0s)`.
func DescribeOverride(o *Override) string {
	var b strings.Builder
	b.WriteString("serve " + o.Serve + " to everyone")
	var notes []string
	who := ""
	if o.By != "" {
		who = "by " + o.By
	}
	if !o.At.IsZero() {
		who = strings.TrimSpace(who + " at " + o.At.UTC().Format(time.RFC3339))
	}
	if o.Reason != "" {
		if who != "" {
			who += ": "
		}
		who += strconv.Quote(o.Reason)
	}
	if who != "" {
		notes = append(notes, who)
	}
	if o.Expires != nil {
		notes = append(notes, "expires "+o.Expires.UTC().Format(time.RFC3339))
	}
	if r := o.Recovery; r != nil {
		notes = append(notes, fmt.Sprintf("recovery from %s: %g%% then +%g%% every %s",
			r.StartAt.UTC().Format(time.RFC3339), r.Start, r.Step, time.Duration(r.Every)))
	}
	if len(notes) > 0 {
		b.WriteString(" (" + strings.Join(notes, "; ") + ")")
	}
	return b.String()
}

// DescribeFlag puts a flag's behaviour in lines: whether it is on, its
// prerequisites, each rule in order, what everyone else gets, then its
// schedule steps. The dashboard shows these lines; `flagpole diff` lists
// them for added and removed flags.
func DescribeFlag(f *Flag) []string {
	var lines []string
	if !f.Enabled {
		lines = append(lines, "disabled: everyone gets "+f.Off)
	} else {
		for _, p := range f.Requires {
			lines = append(lines, DescribePrerequisite(p)+", else everyone gets "+f.Off)
		}
		for i, r := range f.Rules {
			lines = append(lines, RuleLabel(i, r)+": "+DescribeRule(r))
		}
		if len(f.Rules) == 0 {
			lines = append(lines, "everyone gets "+f.Default)
		} else {
			lines = append(lines, "otherwise "+f.Default)
		}
	}
	for _, s := range f.Schedule {
		lines = append(lines, "schedule "+DescribeScheduleStep(s))
	}
	return lines
}

// countOf is "1 rule", "2 rules".
func countOf(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
