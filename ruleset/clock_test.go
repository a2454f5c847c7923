package ruleset

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// clockDoc holds one flag of each kind this file tests: prerequisites
// (a chain api ← checkout ← banner), a ramp, a schedule, and metadata.
const clockDoc = `{
  "version": "v1", "environment": "production",
  "flags": {
    "api": {"key": "api", "type": "boolean", "enabled": true, "off": "off", "default": "on",
      "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "rules": [{"users": ["blocked"], "serve": "off"}]},
    "checkout": {"key": "checkout", "type": "boolean", "enabled": true, "off": "off", "default": "on",
      "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "requires": [{"flag": "api", "variants": ["on"]}]},
    "banner": {"key": "banner", "type": "string", "enabled": true, "off": "none", "default": "big",
      "variants": [{"name": "none", "value": ""}, {"name": "big", "value": "BIG"}],
      "requires": [{"flag": "checkout", "variants": ["on"]}],
      "metadata": {"team": "growth", "ticket": 123, "reviewed": true}},
    "gradual": {"key": "gradual", "type": "boolean", "enabled": true, "off": "off", "default": "off",
      "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "rules": [{"name": "ramp", "ramp": {"serve": "on", "otherwise": "off", "from": 10, "step": 20, "every": "1h", "start": "2026-12-01T09:00:00Z"}, "by": "key"}]},
    "holiday": {"key": "holiday", "type": "boolean", "enabled": false, "off": "off", "default": "on",
      "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "schedule": [
        {"at": "2026-12-24T00:00:00Z", "enabled": true},
        {"at": "2026-12-25T00:00:00Z", "rules": [{"users": ["audrey"], "serve": "off"}]},
        {"at": "2026-12-27T00:00:00Z", "enabled": false}
      ]},
    "plain": {"key": "plain", "type": "boolean", "enabled": true, "off": "off", "default": "on",
      "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}]}
  }
}`

func TestStaticReason(t *testing.T) {
	rs := compileJSON(t, clockDoc, mustTime(t, "2026-12-01T00:00:00Z"))
	if got := rs.Evaluate("plain", Context{"key": "u"}); got.Reason != ReasonStatic || got.Variant != "on" {
		t.Errorf("plain: %+v, want on STATIC", got)
	}
	// A flag with prerequisites or a schedule is not static, even without rules.
	if got := rs.Evaluate("checkout", Context{"key": "u"}); got.Reason != ReasonDefault {
		t.Errorf("checkout: %v, want DEFAULT", got.Reason)
	}
	if got := rs.Evaluate("holiday", Context{"key": "u", "now": "2026-12-24T10:00:00Z"}); got.Reason != ReasonDefault {
		t.Errorf("holiday: %v, want DEFAULT", got.Reason)
	}
}

func TestPrerequisites(t *testing.T) {
	rs := compileJSON(t, clockDoc, mustTime(t, "2026-12-01T00:00:00Z"))
	ok := rs.Evaluate("banner", Context{"key": "u"})
	if ok.Variant != "big" || ok.Reason != ReasonDefault {
		t.Errorf("chain met: %+v", ok)
	}
	// api serves off to "blocked": checkout fails, so banner fails too.
	for _, key := range []string{"checkout", "banner"} {
		res := rs.Evaluate(key, Context{"key": "blocked"})
		want := map[string]string{"checkout": "off", "banner": "none"}[key]
		if res.Reason != ReasonPrerequisiteFailed || res.Variant != want || res.Rule != -1 {
			t.Errorf("%s for blocked: %+v, want %s PREREQUISITE_FAILED", key, res, want)
		}
	}
	if ok.Metadata["team"] != "growth" || ok.Metadata["ticket"] != 123.0 || ok.Metadata["reviewed"] != true {
		t.Errorf("metadata: %v", ok.Metadata)
	}
	if failed := rs.Evaluate("banner", Context{"key": "blocked"}); failed.Metadata["team"] != "growth" {
		t.Errorf("metadata missing from a failed prerequisite result: %+v", failed)
	}
}

func TestPrerequisiteFollowsOverride(t *testing.T) {
	doc := decodeDoc(t, clockDoc)
	doc.Overrides = map[string]*Override{"api": {Flag: "api", Environment: "production", Serve: "off", At: mustTime(t, "2026-11-30T00:00:00Z")}}
	rs, err := CompileWith(doc, Options{Now: fixedClock(mustTime(t, "2026-12-01T00:00:00Z"))})
	if err != nil {
		t.Fatal(err)
	}
	if res := rs.Evaluate("checkout", Context{"key": "u"}); res.Reason != ReasonPrerequisiteFailed {
		t.Errorf("prerequisite overridden off: %+v, want PREREQUISITE_FAILED", res)
	}
	doc.Overrides["checkout"] = &Override{Flag: "checkout", Environment: "production", Serve: "on", At: mustTime(t, "2026-11-30T00:00:00Z")}
	rs, err = CompileWith(doc, Options{Now: fixedClock(mustTime(t, "2026-12-01T00:00:00Z"))})
	if err != nil {
		t.Fatal(err)
	}
	// The override of checkout comes before its requires.
	if res := rs.Evaluate("checkout", Context{"key": "u"}); res.Reason != ReasonOverride || res.Variant != "on" {
		t.Errorf("overridden flag with failing prerequisite: %+v, want OVERRIDE on", res)
	}
}

func TestRampCap(t *testing.T) {
	keys := make([]string, 4000)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d", i)
	}
	tests := []struct {
		at      string
		wantCap float64
	}{
		{"2026-12-01T08:59:59Z", 0}, // before start: everyone otherwise
		{"2026-12-01T09:00:00Z", 10},
		{"2026-12-01T09:59:59Z", 10},
		{"2026-12-01T10:00:00Z", 30},
		{"2026-12-01T13:00:00Z", 90},
		{"2026-12-01T14:00:00Z", 100},
		{"2027-06-01T00:00:00Z", 100},
	}
	in := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.at, func(t *testing.T) {
			rs := compileJSON(t, clockDoc, mustTime(t, tt.at))
			n := 0
			for _, k := range keys {
				res := rs.Evaluate("gradual", Context{"key": k})
				wantOn := float64(Bucket("gradual", k)) < tt.wantCap*1000
				if (res.Variant == "on") != wantOn || res.Reason != ReasonSplit || res.Rule != 0 {
					t.Fatalf("%s (bucket %d): %+v, want on=%v at cap %g", k, Bucket("gradual", k), res, wantOn, tt.wantCap)
				}
				if res.Variant == "on" {
					n++
					in[k] = true
				} else if in[k] {
					t.Fatalf("%s was in the ramp earlier and is out at %s", k, tt.at)
				}
			}
			if share := float64(n) / float64(len(keys)) * 100; math.Abs(share-tt.wantCap) > 3 {
				t.Errorf("%.1f%% on, want about %g%%", share, tt.wantCap)
			}
		})
	}
	rs := compileJSON(t, clockDoc, mustTime(t, "2026-12-01T10:00:00Z"))
	// Without the by attribute the rule does not match: the default follows.
	if res := rs.Evaluate("gradual", Context{"org": "x"}); res.Reason != ReasonDefault {
		t.Errorf("without key: %+v, want DEFAULT", res)
	}
}

func TestSchedule(t *testing.T) {
	tests := []struct {
		at, key, variant string
		reason           Reason
	}{
		{"2026-12-23T23:59:59Z", "bob", "off", ReasonDisabled},
		{"2026-12-24T00:00:00Z", "bob", "on", ReasonDefault},
		{"2026-12-25T00:00:00Z", "audrey", "off", ReasonTargetingMatch}, // step 1 adds a rule, keeps enabled
		{"2026-12-25T00:00:00Z", "bob", "on", ReasonDefault},
		{"2026-12-27T00:00:00Z", "bob", "off", ReasonDisabled},
	}
	for _, tt := range tests {
		rs := compileJSON(t, clockDoc, mustTime(t, tt.at))
		res := rs.Evaluate("holiday", Context{"key": tt.key})
		if res.Variant != tt.variant || res.Reason != tt.reason {
			t.Errorf("%s %s: %s %v, want %s %v", tt.at, tt.key, res.Variant, res.Reason, tt.variant, tt.reason)
		}
		// The context's now drives the schedule as it drives overrides.
		rs = compileJSON(t, clockDoc, mustTime(t, "2020-01-01T00:00:00Z"))
		if res := rs.Evaluate("holiday", Context{"key": tt.key, "now": tt.at}); res.Variant != tt.variant {
			t.Errorf("context now %s: %s, want %s", tt.at, res.Variant, tt.variant)
		}
	}
}

// TestOverridePausesRamp is a guarded rollout: a breaker override on top
// of a ramp serves off to everyone; while it recovers the ramp is paused
// for the users outside the recovery cap; once cleared, the ramp is where
// the clock puts it, as if it had never stopped.
func TestOverridePausesRamp(t *testing.T) {
	doc := decodeDoc(t, clockDoc)
	tripped := mustTime(t, "2026-12-01T10:30:00Z")
	doc.Overrides = map[string]*Override{"gradual": {Flag: "gradual", Environment: "production", Serve: "off", By: "breaker", At: tripped,
		Recovery: &Recovery{StartAt: tripped.Add(30 * time.Minute), Start: 50, Step: 50, Every: Duration(time.Hour)}}}
	keys := make([]string, 500)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d", i)
	}
	at := func(s string, d *Document) *RuleSet {
		rs, err := CompileWith(d, Options{Now: fixedClock(mustTime(t, s))})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	paused := at("2026-12-01T10:45:00Z", doc)
	for _, k := range keys {
		if res := paused.Evaluate("gradual", Context{"key": k}); res.Reason != ReasonOverride || res.Variant != "off" {
			t.Fatalf("%s while tripped: %+v", k, res)
		}
	}
	recovering := at("2026-12-01T11:10:00Z", doc) // recovery cap 50%, ramp cap 50%
	for _, k := range keys {
		res := recovering.Evaluate("gradual", Context{"key": k})
		inRecovery := Bucket("gradual/recovery", k) < 50000
		if !inRecovery && res.Reason != ReasonOverride {
			t.Fatalf("%s outside the recovery cap: %+v", k, res)
		}
		if inRecovery && (res.Reason != ReasonSplit || (res.Variant == "on") != (Bucket("gradual", k) < 50000)) {
			t.Fatalf("%s inside the recovery cap: %+v", k, res)
		}
	}
	cleared := *doc
	cleared.Overrides = nil
	later := at("2026-12-01T12:00:00Z", &cleared) // ramp cap 10 + 3*20 = 70%
	for _, k := range keys {
		res := later.Evaluate("gradual", Context{"key": k})
		if (res.Variant == "on") != (Bucket("gradual", k) < 70000) {
			t.Fatalf("%s after clearing: %+v, want the clock's cap of 70%%", k, res)
		}
	}
}

func TestNextChange(t *testing.T) {
	doc := decodeDoc(t, clockDoc)
	exp := mustTime(t, "2026-12-01T09:30:00Z")
	doc.Overrides = map[string]*Override{"api": {Flag: "api", Environment: "production", Serve: "off", At: mustTime(t, "2026-11-30T00:00:00Z"), Expires: &exp}}
	doc.Flags.Get("plain").Rules = []Rule{{Conditions: []Condition{cond("now", AttrDatetime, OpGt, `"2027-03-01T00:00:00Z"`)}, Serve: "off"}}
	rs, err := Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2026-12-01T09:00:00Z", // ramp start: 10%
		"2026-12-01T09:30:00Z", // override expires
		"2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z", "2026-12-01T12:00:00Z", "2026-12-01T13:00:00Z",
		"2026-12-01T14:00:00Z",                                                 // ramp at 100%: no more steps
		"2026-12-24T00:00:00Z", "2026-12-25T00:00:00Z", "2026-12-27T00:00:00Z", // schedule
		"2027-03-01T00:00:00.000000001Z", // now gt: true from the next nanosecond
	}
	var got []string
	at := mustTime(t, "2026-11-01T00:00:00Z")
	for {
		next, ok := rs.NextChange(at)
		if !ok {
			break
		}
		if !next.After(at) {
			t.Fatalf("NextChange(%s) = %s, not after", at, next)
		}
		got = append(got, next.UTC().Format(time.RFC3339Nano))
		if last, ok := rs.LastChange(next); !ok || !last.Equal(next) {
			t.Errorf("LastChange(%s) = %s %v", next, last, ok)
		}
		if last, ok := rs.LastChange(next.Add(-time.Nanosecond)); ok && !last.Before(next) {
			t.Errorf("LastChange just before %s = %s", next, last)
		}
		at = next
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("boundaries:\n got %v\nwant %v", got, want)
	}
	// Between two boundaries, every result stays the same.
	a, _ := rs.NextChange(mustTime(t, "2026-12-01T10:00:00Z"))
	for _, key := range []string{"gradual", "holiday", "checkout"} {
		r1 := evalAt(t, doc, key, "2026-12-01T10:00:00Z")
		r2 := evalAt(t, doc, key, a.Add(-time.Second).Format(time.RFC3339))
		if r1 != r2 {
			t.Errorf("%s changed between boundaries: %s then %s", key, r1, r2)
		}
	}
	empty, _ := Compile(decodeDoc(t, `{"version":"v","flags":{}}`))
	if _, ok := empty.NextChange(at); ok {
		t.Error("a rule set without clock fields has a next change")
	}
}

// evalAt evaluates key for 200 keys at a time and summarizes the variants.
func evalAt(t *testing.T, doc *Document, key, at string) string {
	rs, err := CompileWith(doc, Options{Now: fixedClock(mustTime(t, at))})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range 200 {
		b.WriteString(rs.Evaluate(key, Context{"key": fmt.Sprint("u", i)}).Variant[:1])
	}
	return b.String()
}

func TestExplainClockFields(t *testing.T) {
	rs := compileJSON(t, clockDoc, mustTime(t, "2026-12-01T10:30:00Z"))
	_, tr := rs.Explain("banner", Context{"key": "blocked"})
	for _, want := range []string{
		`flag banner: variant "none" = "" (PREREQUISITE_FAILED)`,
		`  requires checkout to serve on: no, checkout serves "off": prerequisite failed, serve "none"`,
		`    requires api to serve on: no, api serves "off"`,
		`      rule[0]: match, serve "off"`,
	} {
		if !strings.Contains(tr.String(), want) {
			t.Errorf("trace lacks %q:\n%s", want, tr)
		}
	}
	_, tr = rs.Explain("gradual", Context{"key": "user-1"})
	if s := tr.String(); !strings.Contains(s, `cap 30% at 2026-12-01T10:30:00Z`) || !strings.Contains(s, `ramp on from 10% +20% every 1h0m0s since 2026-12-01T09:00:00Z by key, others off`) {
		t.Errorf("ramp trace:\n%s", s)
	}
	_, tr = rs.Explain("holiday", Context{"key": "bob", "now": "2026-12-25T12:00:00Z"})
	if s := tr.String(); !strings.Contains(s, `schedule: step[1] at 2026-12-25T00:00:00Z in force: 1 rules; next step at 2026-12-27T00:00:00Z`) {
		t.Errorf("schedule trace:\n%s", s)
	}
	_, tr = rs.Explain("holiday", Context{"key": "bob"})
	if s := tr.String(); !strings.Contains(s, `schedule: no step in force yet (step[0] at 2026-12-24T00:00:00Z)`) {
		t.Errorf("schedule trace before the first step:\n%s", s)
	}
}

func TestClockFieldErrors(t *testing.T) {
	doc := decodeDoc(t, clockDoc)
	g := doc.Flags.Get("gradual")
	g.Rules[0].Ramp.Every = 0
	g.Rules[0].Ramp.From = 101
	doc.Flags.Get("api").Requires = []Prerequisite{{Flag: "banner", Variants: []string{"big"}}}
	doc.Flags.Get("holiday").Schedule[1].At = mustTime(t, "2026-12-01T00:00:00Z")
	doc.Flags.Get("plain").Metadata = map[string]any{"obj": map[string]any{}}
	_, err := Compile(doc)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`flags.api.requires[0].flag: prerequisite cycle: api → banner → checkout → api`,
		`flags.gradual.rules[0].ramp.every: must be a duration of at least 1s`,
		`flags.gradual.rules[0].ramp.from: 101 is outside 0..100`,
		`flags.holiday.schedule[1].at: steps must be in time order`,
		`flags.plain.metadata.obj: must be a string, number or boolean`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// A chain longer than MaxRequiresDepth is refused.
	long := decodeDoc(t, `{"version":"v","flags":{}}`)
	for i := 0; i <= MaxRequiresDepth+1; i++ {
		f := boolFlag(fmt.Sprint("f", i))
		if i > 0 {
			f.Requires = []Prerequisite{{Flag: fmt.Sprint("f", i-1), Variants: []string{"on"}}}
		}
		long.Flags = long.Flags.With(map[string]*Flag{f.Key: f})
	}
	if _, err := Compile(long); err == nil || !strings.Contains(err.Error(), "over the limit of 8") {
		t.Errorf("long chain: %v", err)
	}
}

func TestScheduleRoundTrip(t *testing.T) {
	doc := decodeDoc(t, clockDoc)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	back := decodeDoc(t, string(b))
	if _, err := Compile(back); err != nil {
		t.Fatal(err)
	}
	if s := back.Flags.Get("holiday").Schedule; len(s) != 3 || s[1].Rules == nil || s[0].Enabled == nil || !*s[0].Enabled {
		t.Errorf("schedule did not round-trip: %+v", s)
	}
}

// Prerequisites on static flags are folded at Compile: the results and
// traces are those of evaluating them.
func TestFoldedPrerequisites(t *testing.T) {
	doc := decodeDoc(t, clockDoc)
	doc.Flags = doc.Flags.With(map[string]*Flag{"met": boolFlag("met")})
	doc.Flags.Get("met").Default = "on"
	doc.Flags.Get("met").Requires = []Prerequisite{{Flag: "plain", Variants: []string{"on"}}}
	doc.Flags = doc.Flags.With(map[string]*Flag{"unmet": boolFlag("unmet")})
	doc.Flags.Get("unmet").Requires = []Prerequisite{{Flag: "met", Variants: []string{"off"}}}
	rs, err := Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"met": "on/DEFAULT", "unmet": "off/PREREQUISITE_FAILED"} {
		res, tr := rs.Explain(key, Context{"key": "u"})
		got := rs.Evaluate(key, Context{"key": "u"})
		if s := got.Variant + "/" + got.Reason.String(); s != want || !reflect.DeepEqual(res, got) {
			t.Errorf("%s: %s (explained %+v), want %s", key, s, res, want)
		}
		if !strings.Contains(tr.String(), "requires ") {
			t.Errorf("%s: the trace lacks the folded prerequisite:\n%s", key, tr)
		}
		if !rs.flags.get(key).static {
			t.Errorf("%s: not folded to a static result", key)
		}
	}
}
