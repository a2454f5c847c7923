package ruleset

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func raws(vals ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(vals))
	for i, v := range vals {
		out[i] = json.RawMessage(v)
	}
	return out
}

func TestDescribeCondition(t *testing.T) {
	tests := []struct {
		c    Condition
		want string
	}{
		{Condition{Attribute: "state", Type: AttrString, Operator: OpIn, Values: raws(`"CA"`, `"WA"`, `"OR"`)}, "state is one of CA, WA, OR"},
		{Condition{Attribute: "state", Type: AttrString, Operator: OpIn, Values: raws(`"CA"`)}, "state is CA"},
		{Condition{Attribute: "state", Type: AttrString, Operator: OpNotIn, Values: raws(`"CA"`, `"NV"`)}, "state is none of CA, NV"},
		{Condition{Attribute: "plan", Type: AttrString, Operator: OpEq, Values: raws(`"pro plan"`)}, `plan is "pro plan"`},
		{Condition{Attribute: "plan", Type: AttrString, Operator: OpNeq, Values: raws(`"true"`)}, `plan is not "true"`},
		{Condition{Attribute: "plan", Type: AttrString, Operator: OpEq, Values: raws(`"12"`)}, `plan is "12"`},
		{Condition{Attribute: "student", Type: AttrBoolean, Operator: OpEq, Values: raws(`true`)}, "student is true"},
		{Condition{Attribute: "age", Type: AttrNumber, Operator: OpGte, Values: raws(`18`)}, "age is at least 18"},
		{Condition{Attribute: "age", Type: AttrNumber, Operator: OpLt, Values: raws(`21.5`)}, "age is below 21.5"},
		{Condition{Attribute: "app_version", Type: AttrSemver, Operator: OpGt, Values: raws(`"2.0.0"`)}, "app_version is above 2.0.0"},
		{Condition{Attribute: "app_version", Type: AttrSemver, Operator: OpLte, Values: raws(`"2.0.0"`)}, "app_version is at most 2.0.0"},
		{Condition{Attribute: "signup", Type: AttrDatetime, Operator: OpLt, Values: raws(`"2026-01-01"`)}, "signup is before 2026-01-01"},
		{Condition{Attribute: "now", Type: AttrDatetime, Operator: OpGte, Values: raws(`"2026-12-24T00:00:00Z"`)}, "now is at or after 2026-12-24T00:00:00Z"},
		{Condition{Attribute: "now", Type: AttrDatetime, Operator: OpLte, Values: raws(`"2026-12-24"`)}, "now is at or before 2026-12-24"},
		{Condition{Attribute: "now", Type: AttrDatetime, Operator: OpGt, Values: raws(`"2026-12-24"`)}, "now is after 2026-12-24"},
		{Condition{Attribute: "email", Type: AttrString, Operator: OpEndsWith, Values: raws(`"@flagpole.dev"`)}, `email ends with "@flagpole.dev"`},
		{Condition{Attribute: "email", Type: AttrString, Operator: OpStartsWith, Values: raws(`"ad"`)}, `email starts with "ad"`},
		{Condition{Attribute: "email", Type: AttrString, Operator: OpContains, Values: raws(`"x"`)}, `email contains "x"`},
		{Condition{Attribute: "email", Type: AttrString, Operator: OpNotContains, Values: raws(`"x"`)}, `email does not contain "x"`},
		{Condition{Attribute: "email", Type: AttrString, Operator: OpMatches, Values: raws(`"^a.*\\.dev$"`)}, `email matches regexp "^a.*\\.dev$"`},
		{Condition{Attribute: "beta", Type: AttrBoolean, Operator: OpExists}, "beta is set"},
		{Condition{Attribute: "beta", Type: AttrBoolean, Operator: OpNotExists}, "beta is not set"},
		{Condition{Audience: "beta-testers"}, "in audience beta-testers"},
		{Condition{Attribute: "x", Operator: "weird", Values: raws(`1`)}, "x weird 1"},
		{Condition{Attribute: "x", Operator: OpEq}, "x is "},
	}
	for _, tt := range tests {
		if got := DescribeCondition(tt.c); got != tt.want {
			t.Errorf("DescribeCondition(%s %s %s) = %q, want %q", tt.c.Attribute, tt.c.Operator, tt.c.Values, got, tt.want)
		}
	}
}

func TestDescribeValue(t *testing.T) {
	for raw, want := range map[string]string{
		`"CA"`: "CA", `"user-1"`: "user-1", `"a b"`: `"a b"`, `""`: `""`, `"null"`: `"null"`,
		`1.50`: "1.5", `{"b": 1, "a": [true]}`: `{"a":[true],"b":1}`, `not json`: "not json",
		`"a,b"`: `"a,b"`,
	} {
		if got := DescribeValue(json.RawMessage(raw)); got != want {
			t.Errorf("DescribeValue(%s) = %q, want %q", raw, got, want)
		}
	}
}

func TestDescribeRules(t *testing.T) {
	state := Condition{Attribute: "state", Type: AttrString, Operator: OpIn, Values: raws(`"CA"`, `"WA"`, `"OR"`)}
	student := Condition{Attribute: "student", Type: AttrBoolean, Operator: OpEq, Values: raws(`true`)}
	tests := []struct {
		r    Rule
		want string
	}{
		{Rule{Users: []string{"audrey", "rob"}, Serve: "on"}, "users audrey, rob → serve on"},
		{Rule{Users: []string{"audrey"}, Serve: "on"}, "user audrey → serve on"},
		{Rule{Audiences: []string{"west-coast-students"}, Serve: "on"}, "in audience west-coast-students → serve on"},
		{Rule{Audiences: []string{"a", "b"}, Serve: "on"}, "in audience a or b → serve on"},
		{Rule{Rollout: []Weight{{"on", 25000}, {"off", 75000}}}, "everyone → rollout on 25%, off 75% by key"},
		{Rule{Rollout: []Weight{{"on", 66271}, {"off", 33729}}, By: "org"}, "everyone → rollout on 66.271%, off 33.729% by org"},
		{Rule{Match: MatchAny, Conditions: []Condition{state, student}, Serve: "on"}, "state is one of CA, WA, OR or student is true → serve on"},
		{Rule{Users: []string{"a"}, Match: MatchAny, Conditions: []Condition{state, student}, Serve: "on"},
			"user a and (state is one of CA, WA, OR or student is true) → serve on"},
		{Rule{Users: []string{"a"}, Conditions: []Condition{student}, Serve: "off"}, "user a and student is true → serve off"},
	}
	for _, tt := range tests {
		if got := DescribeRule(tt.r); got != tt.want {
			t.Errorf("DescribeRule(%+v) = %q, want %q", tt.r, got, tt.want)
		}
	}
	a := &Audience{Key: "wcs", Conditions: []Condition{state, student, {Audience: "beta-testers"}}}
	if got, want := DescribeAudience(a), "state is one of CA, WA, OR and student is true and in audience beta-testers"; got != want {
		t.Errorf("DescribeAudience = %q, want %q", got, want)
	}
	if got := DescribeConditions(MatchAll, nil); got != "everyone" {
		t.Errorf("no conditions: %q", got)
	}
	if got := RuleLabel(1, Rule{Name: "west coast"}); got != `rule 2 "west coast"` {
		t.Errorf("RuleLabel = %q", got)
	}
	if got := RuleLabel(0, Rule{}); got != "rule 1" {
		t.Errorf("RuleLabel = %q", got)
	}
}

func TestDescribeUsersCounts(t *testing.T) {
	var users []string
	for i := range 52 {
		users = append(users, fmt.Sprintf("u%d", i))
	}
	got := DescribeUsers(users)
	if !strings.HasPrefix(got, "users u0, u1, ") || !strings.HasSuffix(got, "u9 and 42 more") {
		t.Errorf("DescribeUsers(52) = %q", got)
	}
}

func TestDescribeFlagAndOverride(t *testing.T) {
	f := &Flag{Key: "f", Enabled: true, Off: "off", Default: "off", Rules: []Rule{
		{Name: "internal", Users: []string{"audrey", "rob"}, Serve: "on"},
		{Rollout: []Weight{{"on", 25000}, {"off", 75000}}},
	}}
	want := []string{`rule 1 "internal": users audrey, rob → serve on`, "rule 2: everyone → rollout on 25%, off 75% by key", "otherwise off"}
	if got := DescribeFlag(f); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("DescribeFlag = %q, want %q", got, want)
	}
	if got := DescribeFlag(&Flag{Enabled: true, Default: "on"}); len(got) != 1 || got[0] != "everyone gets on" {
		t.Errorf("static flag: %q", got)
	}
	if got := DescribeFlag(&Flag{Off: "off", Rules: f.Rules}); len(got) != 1 || got[0] != "disabled: everyone gets off" {
		t.Errorf("disabled flag: %q", got)
	}
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	exp := at.Add(2 * time.Hour)
	o := &Override{Serve: "off", By: "breaker", At: at, Reason: "error rate 12.4%", Expires: &exp,
		Recovery: &Recovery{StartAt: at.Add(5 * time.Minute), Start: 10, Step: 10, Every: Duration(time.Minute)}}
	wantO := `serve off to everyone (by breaker at 2026-11-21T10:00:00Z: "error rate 12.4%"; expires 2026-11-21T12:00:00Z; recovery from 2026-11-21T10:05:00Z: 10% then +10% every 1m0s)`
	if got := DescribeOverride(o); got != wantO {
		t.Errorf("DescribeOverride = %q\nwant %q", got, wantO)
	}
	if got := DescribeOverride(&Override{Serve: "on"}); got != "serve on to everyone" {
		t.Errorf("bare override: %q", got)
	}
}

func TestDescribeClockFields(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	r := Rule{Ramp: &Ramp{Serve: "on", Otherwise: "off", From: 5, Step: 5, Every: Duration(time.Hour), Start: start}}
	if got, want := DescribeRule(r), "everyone → ramp on from 5% +5% every 1h0m0s since 2026-12-01T09:00:00Z by key, others off"; got != want {
		t.Errorf("ramp: %q, want %q", got, want)
	}
	if got := DescribePrerequisite(Prerequisite{Flag: "api", Variants: []string{"on"}}); got != "requires api to serve on" {
		t.Errorf("prerequisite: %q", got)
	}
	if got := DescribePrerequisite(Prerequisite{Flag: "api", Variants: []string{"on", "beta"}}); got != "requires api to serve one of on, beta" {
		t.Errorf("prerequisite: %q", got)
	}
	off := false
	rules := []Rule{{Serve: "on"}}
	step := ScheduleStep{At: start, Enabled: &off, Default: "on", Rules: &rules}
	if got, want := DescribeScheduleStep(step), "from 2026-12-01T09:00:00Z: disabled, default on, 1 rule"; got != want {
		t.Errorf("step: %q, want %q", got, want)
	}
	f := &Flag{Enabled: true, Off: "off", Default: "off", Requires: []Prerequisite{{Flag: "api", Variants: []string{"on"}}},
		Rules: []Rule{r}, Schedule: []ScheduleStep{step}}
	want := []string{"requires api to serve on, else everyone gets off",
		"rule 1: everyone → ramp on from 5% +5% every 1h0m0s since 2026-12-01T09:00:00Z by key, others off",
		"otherwise off", "schedule from 2026-12-01T09:00:00Z: disabled, default on, 1 rule"}
	if got := DescribeFlag(f); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("DescribeFlag:\n%s", strings.Join(got, "\n"))
	}
}
