package dashboard

import (
	"fmt"
	"strings"
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

// The flag view's words come from ruleset's Describe functions, the
// wording `flagpole eval --explain` and `flagpole diff` use; this file only
// adds where the clock is now (ramps, schedule steps, recovery caps).

// ruleWords is one rule in words.
type ruleWords struct {
	Label string `json:"label"`
	Who   string `json:"who"`
	Does  string `json:"does"`
	// Ramp is where a ramp rule's clock is now.
	Ramp *rampNow `json:"ramp,omitempty"`
}

// rampNow is a ramp's cap at the view's time and when it next grows.
type rampNow struct {
	Cap  float64    `json:"cap"`
	Next *time.Time `json:"next_step,omitempty"`
}

// stepWords is one schedule step.
type stepWords struct {
	At      time.Time `json:"at"`
	InForce bool      `json:"in_force"`
	Past    bool      `json:"past"`
	Text    string    `json:"text"`
}

// flagWords is a flag in words, at now.
type flagWords struct {
	Lines    []string    `json:"lines"`
	Rules    []ruleWords `json:"rules"`
	Override string      `json:"override,omitempty"`
	Requires []string    `json:"requires,omitempty"`
	Schedule []stepWords `json:"schedule,omitempty"`
	Stale    string      `json:"stale,omitempty"`
}

// describeFlag puts f (with its override o, if any) in words at now.
func describeFlag(f *ruleset.Flag, o *ruleset.Override, added, now time.Time) flagWords {
	w := flagWords{Lines: ruleset.DescribeFlag(f), Rules: []ruleWords{}, Stale: staleNote(f, added, now)}
	for i, r := range f.Rules {
		rw := ruleWords{Label: ruleset.RuleLabel(i, r), Who: ruleset.DescribeSelectors(r), Does: ruleset.DescribeOutcome(r)}
		if r.Ramp != nil {
			rw.Does, rw.Ramp = describeRamp(r.Ramp, r.By, now)
		}
		w.Rules = append(w.Rules, rw)
	}
	if o != nil {
		w.Override = ruleset.DescribeOverride(o)
	}
	for _, p := range f.Requires {
		w.Requires = append(w.Requires, fmt.Sprintf("flag %s serves %s", p.Flag, strings.Join(p.Variants, " or ")))
	}
	inForce := -1
	for i, s := range f.Schedule {
		if !s.At.After(now) {
			inForce = i
		}
	}
	for i, s := range f.Schedule {
		w.Schedule = append(w.Schedule, stepWords{At: s.At.UTC(), InForce: i == inForce, Past: !s.At.After(now), Text: describeStep(s)})
	}
	return w
}

// describeRamp says what a ramp serves and where its clock is at now.
func describeRamp(r *ruleset.Ramp, by string, now time.Time) (string, *rampNow) {
	if by == "" {
		by = "key"
	}
	c := r.Cap(now)
	rn := &rampNow{Cap: c}
	if every := time.Duration(r.Every); c < 100 && every > 0 {
		next := r.Start
		if !now.Before(r.Start) {
			next = r.Start.Add((now.Sub(r.Start)/every + 1) * every)
		}
		next = next.UTC()
		rn.Next = &next
	}
	return fmt.Sprintf("ramp: serve %s to %g%% by %s now (from %g%% at %s, +%g%% every %s), else %s",
		r.Serve, c, by, r.From, r.Start.UTC().Format(time.RFC3339), r.Step, time.Duration(r.Every), r.Otherwise), rn
}

// describeStep lists what a schedule step sets.
func describeStep(s ruleset.ScheduleStep) string {
	var parts []string
	if s.Enabled != nil {
		parts = append(parts, map[bool]string{true: "enabled", false: "disabled"}[*s.Enabled])
	}
	if s.Default != "" {
		parts = append(parts, "default "+s.Default)
	}
	if s.Off != "" {
		parts = append(parts, "off variant "+s.Off)
	}
	if s.Rules != nil {
		var rules []string
		for i, r := range *s.Rules {
			rules = append(rules, ruleset.RuleLabel(i, r)+": "+ruleset.DescribeRule(r))
		}
		if len(rules) == 0 {
			rules = []string{"none"}
		}
		parts = append(parts, "rules "+strings.Join(rules, "; "))
	}
	if s.Requires != nil {
		parts = append(parts, fmt.Sprintf("%d prerequisites", len(*s.Requires)))
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, ", ")
}

// staleNote says why f is stale at now: its expires date has passed, or,
// without one, its kind's expected lifetime (ruleset.Kind.Lifetime) has
// passed since added, when its file was first committed (zero: unknown).
// "" when it is not stale.
func staleNote(f *ruleset.Flag, added, now time.Time) string {
	if f.Expires != "" {
		exp, err := time.Parse(time.DateOnly, f.Expires)
		if err != nil || now.Before(exp) {
			return ""
		}
		return "stale: expired on " + f.Expires
	}
	life, ok := f.Kind.Lifetime()
	if !ok || added.IsZero() || now.Sub(added) < life {
		return ""
	}
	return fmt.Sprintf("stale: a %s flag added on %s, expected to live %d days", f.Kind, added.UTC().Format(time.DateOnly), int(life.Hours()/24))
}
