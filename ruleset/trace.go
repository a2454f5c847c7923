package ruleset

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Trace records how Explain reached its Result, step by step, so that a
// person can see why a context got a variant.
type Trace struct {
	// Flag is the key of the flag evaluated.
	Flag string
	// Result is the outcome, as Evaluate returns it.
	Result Result
	// Now is the evaluation time, when a step needed it (overrides and
	// conditions on "now"); zero otherwise.
	Now time.Time
	// Steps are the steps taken, in order; nested steps (a rule's
	// selectors, an audience's conditions) follow their parent with a
	// greater Depth.
	Steps []Step
}

// StepKind says what a Step tested.
type StepKind int

// Step kinds.
const (
	StepNotFound   StepKind = iota // the flag does not exist
	StepOverride                   // the flag's override (or its absence)
	StepDisabled                   // the flag is disabled
	StepRule                       // a rule, with its selectors nested below
	StepUsers                      // a rule's users list
	StepAudiences                  // a rule's audiences (any of them)
	StepAudience                   // one audience, with its conditions nested below
	StepConditions                 // a rule's inline conditions
	StepCondition                  // one condition on an attribute
	StepRollout                    // a rule's rollout
	StepDefault                    // no rule matched: the default variant
	StepSchedule                   // the schedule step in force (or none yet)
	StepRequires                   // a prerequisite, with its own trace nested below
	StepRamp                       // a rule's ramp, with its current cap
)

// String returns the kind's name, such as "rule".
func (k StepKind) String() string {
	switch k {
	case StepNotFound:
		return "not_found"
	case StepOverride:
		return "override"
	case StepDisabled:
		return "disabled"
	case StepRule:
		return "rule"
	case StepUsers:
		return "users"
	case StepAudiences:
		return "audiences"
	case StepAudience:
		return "audience"
	case StepConditions:
		return "conditions"
	case StepCondition:
		return "condition"
	case StepRollout:
		return "rollout"
	case StepDefault:
		return "default"
	case StepSchedule:
		return "schedule"
	case StepRequires:
		return "requires"
	case StepRamp:
		return "ramp"
	}
	return "unknown"
}

// Step is one step of a Trace.
type Step struct {
	Kind  StepKind
	Depth int // 0 for flag-level steps; +1 per nesting level
	// Subject is what was tested, such as `rule[1] "west coast students"`
	// or `state in ["CA","WA","OR"]`.
	Subject string
	// Seen is the context value the step looked at, such as `state = "CA"`
	// or `age missing`; empty when the step looked at none.
	Seen    string
	Matched bool
	// Note adds what followed: the variant served, the bucket drawn, why
	// a value did not count (wrong type), an override's reason.
	Note string
}

// String renders the trace as an indented, multi-line explanation that
// ends with a newline.
func (t Trace) String() string {
	var b strings.Builder
	r := t.Result
	fmt.Fprintf(&b, "flag %s: ", t.Flag)
	if r.Reason == ReasonError {
		fmt.Fprintf(&b, "ERROR %s\n", r.ErrorCode)
	} else {
		fmt.Fprintf(&b, "variant %s = %s (%s", quote(r.Variant), formatResultValue(r.Value), r.Reason)
		if r.Rule >= 0 {
			fmt.Fprintf(&b, ", rule[%d]", r.Rule)
			if r.RuleName != "" {
				b.WriteString(" " + quote(r.RuleName))
			}
		}
		b.WriteString(")\n")
	}
	if !t.Now.IsZero() {
		fmt.Fprintf(&b, "  now: %s\n", t.Now.UTC().Format(time.RFC3339Nano))
	}
	for _, s := range t.Steps {
		b.WriteString(strings.Repeat("  ", s.Depth+1))
		b.WriteString(s.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// String renders one step on one line, without indentation.
func (s Step) String() string {
	switch s.Kind {
	case StepNotFound, StepOverride, StepDisabled, StepDefault, StepSchedule:
		return s.Subject + ": " + s.Note
	}
	out := s.Subject + ": "
	if s.Seen != "" {
		out += s.Seen + " → "
	}
	switch {
	case s.Kind == StepRule && s.Matched:
		out += "match"
	case s.Kind == StepRule:
		out += "no match"
	case s.Matched:
		out += "yes"
	default:
		out += "no"
	}
	if s.Note != "" {
		out += ", " + s.Note
	}
	return out
}

func formatResultValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// tracer builds a Trace; the hot path holds a nil *tracer.
type tracer struct {
	trace Trace
	depth int
}

// leaf records a step without children.
func (t *tracer) leaf(kind StepKind, subject, seen string, matched bool, note string) {
	t.trace.Steps = append(t.trace.Steps, Step{Kind: kind, Depth: t.depth, Subject: subject, Seen: seen, Matched: matched, Note: note})
}

// begin records a step whose children follow; end completes it.
func (t *tracer) begin(kind StepKind, subject, seen string) int {
	t.leaf(kind, subject, seen, false, "")
	t.depth++
	return len(t.trace.Steps) - 1
}

func (t *tracer) end(step int, matched bool, note string) {
	t.depth--
	t.trace.Steps[step].Matched = matched
	t.trace.Steps[step].Note = note
}

func (t *tracer) overrideRecovery(f *flag, rec *Recovery, now time.Time, b int, ok bool) {
	capPct := recoveryCap(rec, now)
	subject := "override serve " + quote(f.names[f.override.serve])
	note := fmt.Sprintf("recovering since %s, cap %g%%: ", rec.StartAt.UTC().Format(time.RFC3339), capPct)
	switch {
	case !ok:
		note += "no usable key, override applies"
	case float64(b) < capPct*1000:
		note += fmt.Sprintf("key bucket %d < %g, evaluated normally", b, capPct*1000)
	default:
		note += fmt.Sprintf("key bucket %d ≥ %g, override applies", b, capPct*1000)
	}
	t.leaf(StepOverride, subject, "", ok && float64(b) >= capPct*1000 || !ok, note)
}

func (t *tracer) rolloutMissing(step int, r *rule, v any, has bool) {
	t.leaf(StepRollout, rolloutSubject(r), seenValue(r.by, v, has), false, "cannot bucket this value")
	t.end(step, false, "rollout attribute "+r.by+" unusable, next rule")
}

// rolloutSubject is the rule's ramp or rollout, the rollout in the shared
// wording of DescribeRollout.
func rolloutSubject(r *rule) string {
	if r.ramp != nil {
		return rampSubject(r)
	}
	return DescribeRollout(r.src.Rollout, r.by)
}

func (t *tracer) rolloutChose(step int, f *flag, r *rule, v any, b, variant int) {
	t.leaf(StepRollout, rolloutSubject(r), seenValue(r.by, v, true), true, fmt.Sprintf("bucket %d → %s", b, quote(f.names[variant])))
	t.end(step, true, "split → "+quote(f.names[variant]))
}

func (t *tracer) users(r *rule, v any, m bool) {
	subject := DescribeUsers(r.src.Users)
	note := ""
	if _, ok := v.(string); v != nil && !ok {
		note = "key is not a string"
	}
	t.leaf(StepUsers, subject, seenValue("key", v, v != nil), m, note)
}

func (t *tracer) condition(c *condition, st *evalState, m bool) {
	v, has := st.ctx[c.attr]
	seen, note := seenValue(c.attr, v, has), ""
	if c.isNow && (!has || v == nil) {
		seen = "now = " + st.time().UTC().Format(time.RFC3339Nano) + " (clock)"
	} else if has && v != nil && c.op != opExists && c.op != opNotExists && !c.typeOK(v) {
		note = fmt.Sprintf("%T value does not count as %s", v, c.src.Type)
	}
	t.leaf(StepCondition, describeCondition(c.src), seen, m, note)
}

// typeOK reports whether v is a usable value for the condition's type.
func (c *condition) typeOK(v any) bool {
	switch c.kind {
	case kindString:
		_, ok := v.(string)
		return ok
	case kindBoolean:
		_, ok := v.(bool)
		return ok
	case kindNumber:
		_, ok := toFloat(v)
		return ok
	case kindSemver:
		s, _ := v.(string)
		_, ok := parseSemver(s)
		return ok
	case kindDatetime:
		_, ok := toTime(v)
		return ok
	}
	return false
}

// describeCondition is the condition in the shared wording of
// DescribeCondition.
func describeCondition(c *Condition) string { return DescribeCondition(*c) }

func seenValue(attr string, v any, has bool) string {
	if !has || v == nil {
		return attr + " missing"
	}
	switch x := v.(type) {
	case string:
		return attr + " = " + strconv.Quote(x)
	case time.Time:
		return attr + " = " + x.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%s = %v", attr, v)
}

func ruleSubject(i int, r *rule) string {
	s := "rule[" + strconv.Itoa(i) + "]"
	if r.name != "" {
		s += " " + quote(r.name)
	}
	if !r.hasSelector() {
		s += " (everyone)"
	}
	return s
}

func quote(s string) string { return strconv.Quote(s) }
