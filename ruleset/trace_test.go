package ruleset

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestExplainTrace(t *testing.T) {
	rs := compileJSON(t, fixtureDoc, mustTime(t, "2026-11-21T10:07:00Z"))
	res, tr := rs.Explain("west-coast-student-banner",
		Context{"key": "juan", "state": "CA", "student": true, "email": "j@x.com", "beta": "yes"})
	if !reflect.DeepEqual(res, tr.Result) || res.Variant != "on" || res.Reason != ReasonSplit || res.Rule != 2 {
		t.Fatalf("result %+v, trace result %+v", res, tr.Result)
	}
	want := `flag west-coast-student-banner: variant "on" = true (SPLIT, rule[2] "everyone else")
  override: none
  rule[0] "internal testers": no match
    users audrey, rob: key = "juan" → no
  rule[1] "west coast students": no match
    audiences (any): no
      audience west-coast-students (all): no
        state is one of CA, WA, OR: state = "CA" → yes
        student is true: student = true → yes
        audience beta-testers (any): no
          beta is true: beta = "yes" → no, string value does not count as boolean
          email ends with "@flagpole.dev": email = "j@x.com" → no
  rule[2] "everyone else" (everyone): match, split → "on"
    rollout on 25%, off 75% by key: key = "juan" → yes, bucket 15230 → "on"
`
	if got := tr.String(); got != want {
		t.Errorf("trace:\n%s\nwant:\n%s", got, want)
	}
	if !tr.Now.IsZero() {
		t.Errorf("Now = %v, want zero: nothing needed the clock", tr.Now)
	}
}

func TestExplainSteps(t *testing.T) {
	rs := compileJSON(t, fixtureDoc, mustTime(t, "2026-11-21T13:00:00Z"))
	tests := []struct {
		name  string
		flag  string
		ctx   Context
		lines []string // substrings expected in the rendered trace, in order
	}{
		{"expired override", "new-search", Context{"key": "u"}, []string{
			`flag new-search: variant "on" = true (STATIC)`,
			"now: 2026-11-21T13:00:00Z",
			`override serve "off": expired at 2026-11-21T12:00:00Z`,
			`default: serve "on"`,
		}},
		{"override applies", "new-search", Context{"key": "u", "now": "2026-11-21T10:01:00Z"}, []string{
			`flag new-search: variant "off" = false (OVERRIDE)`,
			"now: 2026-11-21T10:01:00Z",
			`override serve "off": applies (breaker: error rate 12.4% > 5%)`,
		}},
		{"override recovery", "new-search", Context{"key": "user-1", "now": "2026-11-21T10:07:00Z"}, []string{
			`override serve "off": recovering since 2026-11-21T10:05:00Z, cap 30%: key bucket 67206 ≥ 30000, override applies`,
		}},
		{"disabled", "theme", nil, []string{`(DISABLED)`, `enabled: false, serve "light"`}},
		{"not found", "nope", nil, []string{"flag nope: ERROR FLAG_NOT_FOUND", `flag "nope": no such flag`}},
		{"rollout by missing attribute", "button-color", Context{"app_version": "2.0.0"}, []string{
			`app_version is below 2.0.0: app_version = "2.0.0" → no`,
			`rule[1] "split by org" (everyone): no match, rollout attribute org unusable, next rule`,
			`rollout red 33.334%, green 33.333%, blue 33.333% by org: org missing → no, cannot bucket this value`,
			`default: serve "red"`,
		}},
		{"wrong type number", "max-items", Context{"age": "30", "plan": "pro"}, []string{
			`age is at least 18: age = "30" → no, string value does not count as number`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, tr := rs.Explain(tt.flag, tt.ctx)
			out := tr.String()
			rest := out
			for _, l := range tt.lines {
				i := strings.Index(rest, l)
				if i < 0 {
					t.Fatalf("trace lacks %q (in order):\n%s", l, out)
				}
				rest = rest[i+len(l):]
			}
		})
	}
}

func TestExplainNowFromClock(t *testing.T) {
	doc := &Document{Version: "v", Flags: NewFlagMap(map[string]*Flag{"f": boolFlag("f", Rule{
		Conditions: []Condition{cond("now", AttrDatetime, OpGt, `"2026-01-01T00:00:00Z"`)}, Serve: "on",
	})})}
	rs, err := CompileWith(doc, Options{Now: fixedClock(mustTime(t, "2026-11-21T10:00:00Z"))})
	if err != nil {
		t.Fatal(err)
	}
	_, tr := rs.Explain("f", Context{})
	if !strings.Contains(tr.String(), `now is after 2026-01-01T00:00:00Z: now = 2026-11-21T10:00:00Z (clock) → yes`) {
		t.Errorf("trace:\n%s", tr)
	}
	if tr.Steps[1].Kind != StepRule || tr.Steps[2].Kind != StepConditions || tr.Steps[3].Kind != StepCondition || tr.Steps[3].Depth != 2 {
		t.Errorf("steps: %+v", tr.Steps)
	}
}

// TestExplainAgreesWithEvaluate checks that Explain and Evaluate give the
// same result for many contexts: they share one code path.
func TestExplainAgreesWithEvaluate(t *testing.T) {
	rs := compileJSON(t, fixtureDoc, mustTime(t, "2026-11-21T10:08:00Z"))
	for i := 0; i < 500; i++ {
		ctx := Context{
			"key": fmt.Sprintf("user-%d", i), "state": []string{"CA", "NY", "WA"}[i%3], "student": i%2 == 0,
			"beta": i%5 == 0, "age": float64(i % 40), "plan": []string{"pro", "free"}[i%2],
			"app_version": fmt.Sprintf("%d.%d.0", i%3, i%7), "org": i % 11,
		}
		for _, key := range append(rs.Keys(), "missing") {
			want := rs.Evaluate(key, ctx)
			got, tr := rs.Explain(key, ctx)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %v: Explain %+v, Evaluate %+v\n%s", key, ctx, got, want, tr)
			}
		}
	}
}

func TestStepKindString(t *testing.T) {
	for k := StepNotFound; k <= StepDefault; k++ {
		if s := k.String(); s == "unknown" || s == "" {
			t.Errorf("StepKind(%d).String() = %q", k, s)
		}
	}
	if StepKind(99).String() != "unknown" {
		t.Error("out of range kind")
	}
}
