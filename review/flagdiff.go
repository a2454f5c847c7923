package review

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

// maxMoves is how many rule reorderings one flag's details list.
const maxMoves = 10

// flagDetails lists the changes of a flag field by field, in words.
func flagDetails(b, h *ruleset.Flag, now time.Time) []string {
	var d []string
	text := func(field, x, y string) {
		if x != y {
			d = append(d, fmt.Sprintf("%s %s → %s", field, quoteText(x), quoteText(y)))
		}
	}
	text("name", b.Name, h.Name)
	text("description", b.Description, h.Description)
	text("owner", b.Owner, h.Owner)
	if b.Client != h.Client {
		if h.Client {
			d = append(d, "now visible to client-side keys")
		} else {
			d = append(d, "no longer visible to client-side keys")
		}
	}
	if b.Type != h.Type {
		d = append(d, fmt.Sprintf("type %s → %s", b.Type, h.Type))
	}
	d = append(d, variantChanges(b.Variants, h.Variants)...)
	if b.Enabled != h.Enabled {
		if h.Enabled {
			d = append(d, "enabled (was disabled: everyone got "+b.Off+")")
		} else {
			d = append(d, "disabled: everyone gets "+h.Off)
		}
	}
	if b.Off != h.Off {
		d = append(d, fmt.Sprintf("off variant %s → %s", b.Off, h.Off))
	}
	if b.Default != h.Default {
		d = append(d, fmt.Sprintf("default %s → %s (served when no rule matches)", b.Default, h.Default))
	}
	d = append(d, prereqChanges(b.Requires, h.Requires)...)
	d = append(d, ruleChanges(b.Rules, h.Rules, now)...)
	d = append(d, scheduleChanges(b.Schedule, h.Schedule, now)...)
	d = append(d, breakerChanges(b.Breaker, h.Breaker)...)
	if b.Expires != h.Expires {
		d = append(d, fmt.Sprintf("expires %s → %s", orNone(b.Expires), orNone(h.Expires)))
	}
	if b.Kind != h.Kind {
		d = append(d, fmt.Sprintf("kind %s → %s", orNone(string(b.Kind)), orNone(string(h.Kind))))
	}
	d = append(d, metadataChanges(b.Metadata, h.Metadata)...)
	return d
}

// prereqChanges lists prerequisites added, removed or with other variants.
func prereqChanges(b, h []ruleset.Prerequisite) []string {
	var d []string
	old := map[string]ruleset.Prerequisite{}
	for _, p := range normPrereqs(b) {
		old[p.Flag] = p
	}
	seen := map[string]bool{}
	for _, p := range normPrereqs(h) {
		seen[p.Flag] = true
		o, ok := old[p.Flag]
		switch {
		case !ok:
			d = append(d, "now "+ruleset.DescribePrerequisite(p))
		case canonical(o) != canonical(p):
			d = append(d, fmt.Sprintf("prerequisite %s: variants %s → %s", p.Flag, strings.Join(o.Variants, ", "), strings.Join(p.Variants, ", ")))
		}
	}
	for _, p := range normPrereqs(b) {
		if !seen[p.Flag] {
			d = append(d, "no longer "+ruleset.DescribePrerequisite(p))
		}
	}
	return d
}

// scheduleChanges lists schedule steps added, removed or changed, matched
// by their time.
func scheduleChanges(b, h []ruleset.ScheduleStep, now time.Time) []string {
	var d []string
	key := func(s ruleset.ScheduleStep) string { return s.At.UTC().Format(time.RFC3339Nano) }
	old := map[string]ruleset.ScheduleStep{}
	for _, s := range b {
		old[key(s)] = s
	}
	seen := map[string]bool{}
	for _, s := range h {
		seen[key(s)] = true
		o, ok := old[key(s)]
		switch {
		case !ok:
			d = append(d, "schedule step added: "+ruleset.DescribeScheduleStep(s))
		case ruleset.DescribeScheduleStep(o) != ruleset.DescribeScheduleStep(s):
			d = append(d, "schedule step "+ruleset.DescribeScheduleStep(o)+" → "+strings.SplitN(ruleset.DescribeScheduleStep(s), ": ", 2)[1])
		default:
			if o.Rules != nil && s.Rules != nil {
				for _, c := range ruleChanges(*o.Rules, *s.Rules, now) {
					d = append(d, "schedule step at "+key(s)+": "+c)
				}
			}
			if o.Requires != nil && s.Requires != nil {
				for _, c := range prereqChanges(*o.Requires, *s.Requires) {
					d = append(d, "schedule step at "+key(s)+": "+c)
				}
			}
		}
	}
	for _, s := range b {
		if !seen[key(s)] {
			d = append(d, "schedule step removed: "+ruleset.DescribeScheduleStep(s))
		}
	}
	return d
}

// metadataChanges lists metadata entries added, removed or changed.
func metadataChanges(b, h map[string]any) []string {
	var d []string
	for _, k := range sortedKeys(h) {
		o, ok := b[k]
		switch {
		case !ok:
			d = append(d, fmt.Sprintf("metadata %s added: %s", k, canonical(h[k])))
		case canonical(o) != canonical(h[k]):
			d = append(d, fmt.Sprintf("metadata %s: %s → %s", k, canonical(o), canonical(h[k])))
		}
	}
	for _, k := range sortedKeys(b) {
		if _, ok := h[k]; !ok {
			d = append(d, "metadata "+k+" removed")
		}
	}
	return d
}

// rampChanges lists what changed in a ramp, with where each side's cap
// stands at now.
func rampChanges(b, h *ruleset.Ramp, now time.Time) []string {
	var d []string
	field := func(name, x, y string) {
		if x != y {
			d = append(d, fmt.Sprintf("ramp %s %s → %s", name, x, y))
		}
	}
	g := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) + "%" }
	field("serve", b.Serve, h.Serve)
	field("otherwise", b.Otherwise, h.Otherwise)
	field("from", g(b.From), g(h.From))
	field("step", g(b.Step), g(h.Step))
	field("every", time.Duration(b.Every).String(), time.Duration(h.Every).String())
	field("start", b.Start.UTC().Format(time.RFC3339), h.Start.UTC().Format(time.RFC3339))
	if len(d) > 0 && !now.IsZero() {
		d = append(d, fmt.Sprintf("cap now %s → %s", g(b.Cap(now)), g(h.Cap(now))))
	}
	return d
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// quoteText quotes a free text, shortened to 80 characters.
func quoteText(s string) string {
	if s == "" {
		return "(none)"
	}
	if r := []rune(s); len(r) > 80 {
		s = string(r[:77]) + "..."
	}
	return strconv.Quote(s)
}

func variantChanges(b, h []ruleset.Variant) []string {
	var d []string
	old := map[string]ruleset.Variant{}
	for _, v := range b {
		old[v.Name] = v
	}
	seen := map[string]bool{}
	for _, v := range h {
		seen[v.Name] = true
		o, ok := old[v.Name]
		switch {
		case !ok:
			d = append(d, fmt.Sprintf("variant %s added (%s)", v.Name, ruleset.DescribeValue(v.Value)))
		case canonValue(o.Value) != canonValue(v.Value):
			d = append(d, fmt.Sprintf("variant %s: %s → %s", v.Name, ruleset.DescribeValue(o.Value), ruleset.DescribeValue(v.Value)))
		}
	}
	for _, v := range b {
		if !seen[v.Name] {
			d = append(d, fmt.Sprintf("variant %s removed", v.Name))
		}
	}
	return d
}

// rulePair is a base rule and the head rule it became; -1 for none.
type rulePair struct{ b, h int }

// pairRules matches base rules to head rules: by unique name, then
// identical rules in order, then the rest in order when as many remain on
// both sides. Unmatched rules are added or removed.
func pairRules(b, h []ruleset.Rule) []rulePair {
	bUsed, hUsed := make([]bool, len(b)), make([]bool, len(h))
	var pairs []rulePair
	count := func(rs []ruleset.Rule, name string) int {
		n := 0
		for _, r := range rs {
			if r.Name == name {
				n++
			}
		}
		return n
	}
	for i, br := range b {
		if br.Name == "" || count(b, br.Name) != 1 || count(h, br.Name) != 1 {
			continue
		}
		for j, hr := range h {
			if hr.Name == br.Name {
				pairs = append(pairs, rulePair{i, j})
				bUsed[i], hUsed[j] = true, true
			}
		}
	}
	for i, br := range b {
		if bUsed[i] {
			continue
		}
		nb := canonical(normalizeRule(br))
		for j, hr := range h {
			if !hUsed[j] && canonical(normalizeRule(hr)) == nb {
				pairs = append(pairs, rulePair{i, j})
				bUsed[i], hUsed[j] = true, true
				break
			}
		}
	}
	var restB, restH []int
	for i := range b {
		if !bUsed[i] {
			restB = append(restB, i)
		}
	}
	for j := range h {
		if !hUsed[j] {
			restH = append(restH, j)
		}
	}
	if len(restB) == len(restH) {
		for k := range restB {
			pairs = append(pairs, rulePair{restB[k], restH[k]})
		}
		return pairs
	}
	for _, i := range restB {
		pairs = append(pairs, rulePair{i, -1})
	}
	for _, j := range restH {
		pairs = append(pairs, rulePair{-1, j})
	}
	return pairs
}

// ruleChanges lists rules removed, added, changed and moved.
func ruleChanges(b, h []ruleset.Rule, now time.Time) []string {
	var d []string
	pairs := pairRules(b, h)
	for _, p := range pairs {
		if p.h < 0 {
			d = append(d, fmt.Sprintf("%s removed (was: %s)", ruleset.RuleLabel(p.b, b[p.b]), ruleset.DescribeRule(b[p.b])))
		}
	}
	for _, p := range pairs {
		if p.b < 0 {
			d = append(d, fmt.Sprintf("%s added: %s", ruleset.RuleLabel(p.h, h[p.h]), ruleset.DescribeRule(h[p.h])))
		}
	}
	for j := range h {
		for _, p := range pairs {
			if p.h != j || p.b < 0 {
				continue
			}
			changes := oneRuleChanges(b[p.b], h[p.h], now)
			if len(changes) == 0 {
				continue
			}
			label := ruleset.RuleLabel(p.h, h[p.h])
			if p.b != p.h {
				label += fmt.Sprintf(" (was rule %d)", p.b+1)
			}
			d = append(d, label+": "+strings.Join(changes, "; "))
		}
	}
	// Moves: pairs whose relative order changed, named by their BASE place.
	var moves []string
	for _, p := range pairs {
		for _, q := range pairs {
			if p.b >= 0 && q.b >= 0 && p.h >= 0 && q.h >= 0 && p.b > q.b && p.h < q.h {
				moves = append(moves, fmt.Sprintf("%s moved above %s", ruleset.RuleLabel(p.b, b[p.b]), ruleset.RuleLabel(q.b, b[q.b])))
			}
		}
	}
	if len(moves) > maxMoves {
		moves = append(moves[:maxMoves], fmt.Sprintf("and %d more rule reorderings", len(moves)-maxMoves))
	}
	return append(d, moves...)
}

// oneRuleChanges lists what changed in a rule.
func oneRuleChanges(b, h ruleset.Rule, now time.Time) []string {
	var d []string
	if b.Name != h.Name {
		d = append(d, fmt.Sprintf("renamed %s → %s", quoteText(b.Name), quoteText(h.Name)))
	}
	nb, nh := normalizeRule(b), normalizeRule(h)
	if add, del := setDiff(nb.Users, nh.Users); len(add)+len(del) > 0 {
		d = append(d, listChange("users", add, del))
	}
	if add, del := setDiff(nb.Audiences, nh.Audiences); len(add)+len(del) > 0 {
		d = append(d, listChange("audiences", add, del))
	}
	d = append(d, conditionChanges(b.Match, b.Conditions, h.Match, h.Conditions)...)
	d = append(d, outcomeChange(b, h, now)...)
	return d
}

// setDiff returns what head adds to and removes from base (both sorted sets).
func setDiff(base, head []string) (add, del []string) {
	in := func(s []string, x string) bool {
		for _, y := range s {
			if y == x {
				return true
			}
		}
		return false
	}
	for _, x := range head {
		if !in(base, x) {
			add = append(add, x)
		}
	}
	for _, x := range base {
		if !in(head, x) {
			del = append(del, x)
		}
	}
	return add, del
}

func listChange(what string, add, del []string) string {
	var parts []string
	if len(add) > 0 {
		parts = append(parts, "now also "+joinNames(add))
	}
	if len(del) > 0 {
		parts = append(parts, "no longer "+joinNames(del))
	}
	return what + " " + strings.Join(parts, ", ")
}

// outcomeChange says how what a rule serves changed.
func outcomeChange(b, h ruleset.Rule, now time.Time) []string {
	bo, ho := ruleset.DescribeOutcome(b), ruleset.DescribeOutcome(h)
	if b.Ramp != nil && h.Ramp != nil {
		d := rampChanges(b.Ramp, h.Ramp, now)
		if byOrKey(b.By) != byOrKey(h.By) {
			d = append(d, fmt.Sprintf("ramp by %s → %s (users are bucketed anew)", byOrKey(b.By), byOrKey(h.By)))
		}
		return d
	}
	if len(b.Rollout) == 0 || len(h.Rollout) == 0 {
		if bo != ho {
			return []string{bo + " → " + ho}
		}
		return nil
	}
	var d []string
	if byOrKey(b.By) != byOrKey(h.By) {
		d = append(d, fmt.Sprintf("rollout by %s → %s (users are bucketed anew)", byOrKey(b.By), byOrKey(h.By)))
	}
	order := func(ws []ruleset.Weight) string {
		names := make([]string, len(ws))
		for i, w := range ws {
			names[i] = w.Variant
		}
		return strings.Join(names, ", ")
	}
	if order(b.Rollout) != order(h.Rollout) {
		bw, hw := weights(b.Rollout), weights(h.Rollout)
		sameSet := len(bw) == len(hw)
		for v := range hw {
			if _, ok := bw[v]; !ok {
				sameSet = false
			}
		}
		if !sameSet {
			return append(d, bo+" → "+ho)
		}
		d = append(d, fmt.Sprintf("rollout order %s → %s (bucket ranges move)", order(b.Rollout), order(h.Rollout)))
	}
	bw := weights(b.Rollout)
	var parts []string
	for _, w := range h.Rollout {
		if bw[w.Variant] != w.Weight {
			parts = append(parts, fmt.Sprintf("%s %s%% → %s%%", w.Variant, ruleset.Percent(bw[w.Variant]), ruleset.Percent(w.Weight)))
		}
	}
	if len(parts) > 0 {
		d = append(d, "rollout "+strings.Join(parts, ", "))
	}
	return d
}

func weights(ws []ruleset.Weight) map[string]int {
	m := make(map[string]int, len(ws))
	for _, w := range ws {
		m[w.Variant] = w.Weight
	}
	return m
}

// conditionChanges says how a list of conditions changed: values an in or
// not_in condition gained or lost ("now also matches state NV"), other
// conditions added or removed, and the match mode.
func conditionChanges(bm ruleset.Match, bc []ruleset.Condition, hm ruleset.Match, hc []ruleset.Condition) []string {
	var d []string
	anyB := bm == ruleset.MatchAny && len(bc) > 1
	anyH := hm == ruleset.MatchAny && len(hc) > 1
	if anyB != anyH && len(bc) > 1 && len(hc) > 1 {
		if anyH {
			d = append(d, "now matches when any condition holds (was all)")
		} else {
			d = append(d, "now matches only when all conditions hold (was any)")
		}
	}
	bk, hk := map[string]ruleset.Condition{}, map[string]ruleset.Condition{}
	for _, c := range bc {
		bk[condKey(c)] = c
	}
	for _, c := range hc {
		hk[condKey(c)] = c
	}
	var added, removed []ruleset.Condition
	for _, k := range sortedKeys(hk) {
		if _, ok := bk[k]; !ok {
			added = append(added, hk[k])
		}
	}
	for _, k := range sortedKeys(bk) {
		if _, ok := hk[k]; !ok {
			removed = append(removed, bk[k])
		}
	}
	// An in/not_in condition on the same attribute on both sides changed
	// its values: say which.
	for i := 0; i < len(added); i++ {
		a := added[i]
		if a.Operator != ruleset.OpIn && a.Operator != ruleset.OpNotIn {
			continue
		}
		for j, r := range removed {
			if r.Attribute != a.Attribute || r.Operator != a.Operator {
				continue
			}
			d = append(d, valueChanges(r, a)...)
			added = append(added[:i], added[i+1:]...)
			removed = append(removed[:j], removed[j+1:]...)
			i--
			break
		}
	}
	for _, c := range added {
		d = append(d, "condition added: "+ruleset.DescribeCondition(c))
	}
	for _, c := range removed {
		d = append(d, "condition removed: "+ruleset.DescribeCondition(c))
	}
	return d
}

// valueChanges words the values an in or not_in condition gained and lost.
func valueChanges(b, h ruleset.Condition) []string {
	words := func(c ruleset.Condition) map[string]string {
		m := map[string]string{}
		for _, v := range c.Values {
			m[canonValue(v)] = ruleset.DescribeValue(v)
		}
		return m
	}
	bw, hw := words(b), words(h)
	var gained, lost []string
	for _, k := range sortedKeys(hw) {
		if _, ok := bw[k]; !ok {
			gained = append(gained, hw[k])
		}
	}
	for _, k := range sortedKeys(bw) {
		if _, ok := hw[k]; !ok {
			lost = append(lost, bw[k])
		}
	}
	also, noLonger := gained, lost
	if h.Operator == ruleset.OpNotIn {
		also, noLonger = lost, gained
	}
	var d []string
	if len(also) > 0 {
		d = append(d, fmt.Sprintf("now also matches %s %s", h.Attribute, joinNames(also)))
	}
	if len(noLonger) > 0 {
		d = append(d, fmt.Sprintf("no longer matches %s %s", h.Attribute, joinNames(noLonger)))
	}
	return d
}

// breakerChanges lists breaker settings that changed.
func breakerChanges(b, h *ruleset.Breaker) []string {
	switch {
	case b == nil && h == nil:
		return nil
	case b == nil:
		return []string{"breaker added: " + describeBreaker(h)}
	case h == nil:
		return []string{"breaker removed"}
	}
	var d []string
	field := func(name, x, y string) {
		if x != y {
			d = append(d, fmt.Sprintf("breaker %s %s → %s", name, x, y))
		}
	}
	dur := func(x ruleset.Duration) string { return time.Duration(x).String() }
	pct := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) + "%" }
	field("window", dur(b.Window), dur(h.Window))
	field("min_requests", strconv.Itoa(b.MinRequests), strconv.Itoa(h.MinRequests))
	field("error_rate", pct(b.ErrorRate), pct(h.ErrorRate))
	field("slow", describeSlow(b.Slow), describeSlow(h.Slow))
	field("recovery delay", dur(b.Recovery.Delay), dur(h.Recovery.Delay))
	field("recovery start", pct(b.Recovery.Start), pct(h.Recovery.Start))
	field("recovery step", pct(b.Recovery.Step), pct(h.Recovery.Step))
	field("recovery every", dur(b.Recovery.Every), dur(h.Recovery.Every))
	field("on_trip", b.OnTrip, h.OnTrip)
	return d
}

func describeSlow(s *ruleset.SlowPolicy) string {
	if s == nil {
		return "off"
	}
	return fmt.Sprintf("≥ %g%% of calls take ≥ %s", s.Rate, time.Duration(s.Duration))
}

func describeBreaker(b *ruleset.Breaker) string {
	return fmt.Sprintf("trips above %g%% errors over %s (at least %d calls), on_trip %s",
		b.ErrorRate, time.Duration(b.Window), b.MinRequests, b.OnTrip)
}
