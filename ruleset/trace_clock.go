package ruleset

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// schedule records the schedule step in force: step i, or -1 for none yet.
func (t *tracer) schedule(f *flag, i int) {
	src := f.src.Schedule
	if i < 0 {
		t.leaf(StepSchedule, "schedule", "", false, "no step in force yet (step[0] at "+src[0].At.UTC().Format(time.RFC3339)+")")
		return
	}
	note := "step[" + strconv.Itoa(i) + "] at " + src[i].At.UTC().Format(time.RFC3339) + " in force: " + stepFields(&src[i])
	if i+1 < len(src) {
		note += "; next step at " + src[i+1].At.UTC().Format(time.RFC3339)
	}
	t.leaf(StepSchedule, "schedule", "", true, note)
}

// stepFields lists what a step sets, such as "enabled=false, default \"on\"".
func stepFields(s *ScheduleStep) string {
	var parts []string
	if s.Enabled != nil {
		parts = append(parts, "enabled="+strconv.FormatBool(*s.Enabled))
	}
	if s.Off != "" {
		parts = append(parts, "off "+quote(s.Off))
	}
	if s.Default != "" {
		parts = append(parts, "default "+quote(s.Default))
	}
	if s.Rules != nil {
		parts = append(parts, fmt.Sprintf("%d rules", len(*s.Rules)))
	}
	if s.Requires != nil {
		parts = append(parts, fmt.Sprintf("%d prerequisites", len(*s.Requires)))
	}
	return strings.Join(parts, ", ")
}

// requiresSubject is the prerequisite in the shared wording of
// DescribePrerequisite.
func requiresSubject(p *prereq) string {
	return DescribePrerequisite(Prerequisite{Flag: p.f.key, Variants: p.variants})
}

// rampSubject is the ramp in the shared wording of DescribeRamp.
func rampSubject(r *rule) string { return DescribeRamp(r.ramp.src, r.by) }

func (t *tracer) rampChose(step int, f *flag, r *rule, v any, b int, now time.Time, variant int) {
	c := r.ramp.limit(unixNano(now)) / 1000
	cmp := "≥"
	if variant == r.ramp.serve {
		cmp = "<"
	}
	t.leaf(StepRamp, rampSubject(r), seenValue(r.by, v, true), variant == r.ramp.serve,
		fmt.Sprintf("cap %g%% at %s: bucket %d %s %g → %s", c, now.UTC().Format(time.RFC3339), b, cmp, c*1000, quote(f.names[variant])))
	t.end(step, true, "ramp → "+quote(f.names[variant]))
}
