package ruleset

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestEvaluate(t *testing.T) {
	now := mustTime(t, "2026-11-21T09:00:00Z") // before the override's ramp
	rs := compileJSON(t, fixtureDoc, now)
	tests := []struct {
		name    string
		flag    string
		ctx     Context
		value   any
		variant string
		reason  Reason
		rule    int
		errCode ErrorCode
	}{
		{"unknown flag", "nope", Context{"key": "a"}, nil, "", ReasonError, -1, ErrorFlagNotFound},
		{"users list", "west-coast-student-banner", Context{"key": "rob"}, true, "on", ReasonTargetingMatch, 0, 0},
		{"nested audience via beta", "west-coast-student-banner",
			Context{"key": "juan", "state": "CA", "student": true, "beta": true}, true, "on", ReasonTargetingMatch, 1, 0},
		{"nested audience via email", "west-coast-student-banner",
			Context{"key": "user-9", "state": "OR", "student": true, "email": "x@flagpole.dev"}, true, "on", ReasonTargetingMatch, 1, 0},
		{"nested audience fails: not beta, rollout on", "west-coast-student-banner",
			Context{"key": "juan", "state": "CA", "student": true}, true, "on", ReasonSplit, 2, 0}, // bucket 15230 < 25000
		{"rollout off", "checkout-v2", Context{"key": "user-1"}, false, "off", ReasonSplit, 0, 0}, // bucket 66270
		{"rollout without key does not match", "checkout-v2", Context{}, false, "off", ReasonDefault, -1, 0},
		{"rollout with null key does not match", "checkout-v2", Context{"key": nil}, false, "off", ReasonDefault, -1, 0},
		{"rollout numeric key", "checkout-v2", Context{"key": 42}, bucketVariant("checkout-v2", "42", 50000, true, false),
			bucketVariant("checkout-v2", "42", 50000, "on", "off"), ReasonSplit, 0, 0},
		{"semver rule", "button-color", Context{"app_version": "1.9.9", "org": "acme"}, "#f00", "red", ReasonTargetingMatch, 0, 0},
		{"split by org missing: default", "button-color", Context{"app_version": "2.0.0", "key": "k"}, "#f00", "red", ReasonDefault, -1, 0},
		{"audiences any + conditions", "max-items", Context{"age": 30, "plan": "pro"}, 100.0, "large", ReasonTargetingMatch, 0, 0},
		{"audiences ok, condition fails", "max-items", Context{"age": 30, "plan": "free"}, 10.0, "small", ReasonDefault, -1, 0},
		{"second audience", "max-items", Context{"age": 12, "beta": true, "plan": "pro"}, 100.0, "large", ReasonTargetingMatch, 0, 0},
		{"disabled json flag", "theme", Context{}, map[string]any{"bg": "white", "sizes": []any{1.0, 2.0}}, "light", ReasonDisabled, -1, 0},
		{"override before ramp", "new-search", Context{"key": "user-1"}, false, "off", ReasonOverride, -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rs.Evaluate(tt.flag, tt.ctx)
			if !reflect.DeepEqual(got.Value, tt.value) || got.Variant != tt.variant || got.Reason != tt.reason ||
				got.Rule != tt.rule || got.ErrorCode != tt.errCode {
				t.Errorf("got %+v, want value %v variant %q reason %v rule %d error %v",
					got, tt.value, tt.variant, tt.reason, tt.rule, tt.errCode)
			}
			if got.Rule >= 0 {
				want := rs.Document().Flags.Get(tt.flag).Rules[got.Rule].Name
				if got.RuleName != want {
					t.Errorf("RuleName = %q, want %q", got.RuleName, want)
				}
			}
		})
	}
}

// bucketVariant picks a or b by the value's bucket against a cut.
func bucketVariant[T any](salt, value string, cut int, a, b T) T {
	if Bucket(salt, value) < cut {
		return a
	}
	return b
}

func TestEvaluateNilRuleSet(t *testing.T) {
	var rs *RuleSet
	if got := rs.Evaluate("x", nil); got.Reason != ReasonError || got.Rule != -1 {
		t.Errorf("nil rule set: got %+v", got)
	}
}

// TestOverrideRecovery walks the clock through the new-search override:
// before the ramp, at several ramp steps, and after expiry.
func TestOverrideRecovery(t *testing.T) {
	doc := decodeDoc(t, fixtureDoc)
	keys := make([]string, 2000)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d", i)
	}
	tests := []struct {
		at      string
		wantCap float64 // percent of users evaluated normally
	}{
		{"2026-11-21T10:00:00Z", 0},   // override just set
		{"2026-11-21T10:04:59Z", 0},   // ramp not started
		{"2026-11-21T10:05:00Z", 10},  // start
		{"2026-11-21T10:05:59Z", 10},  // still the first step
		{"2026-11-21T10:06:00Z", 20},  // one step
		{"2026-11-21T10:09:30Z", 50},  // four steps
		{"2026-11-21T10:14:00Z", 100}, // nine steps
		{"2026-11-21T11:00:00Z", 100}, // capped
		{"2026-11-21T12:00:00Z", 100}, // expired: override ignored
	}
	for _, tt := range tests {
		t.Run(tt.at, func(t *testing.T) {
			now := mustTime(t, tt.at)
			rs, err := CompileWith(doc, Options{Now: fixedClock(now)})
			if err != nil {
				t.Fatal(err)
			}
			normal := 0
			for _, k := range keys {
				res := rs.Evaluate("new-search", Context{"key": k})
				inRamp := float64(Bucket("new-search/recovery", k)) < tt.wantCap*1000
				switch {
				case res.Reason == ReasonOverride:
					if inRamp {
						t.Fatalf("%s: bucket %d below cap %g%% but got the override", k, Bucket("new-search/recovery", k), tt.wantCap)
					}
				case res.Reason == ReasonStatic && res.Variant == "on": // no rules: STATIC
					if !inRamp {
						t.Fatalf("%s: bucket %d above cap %g%% but evaluated normally", k, Bucket("new-search/recovery", k), tt.wantCap)
					}
					normal++
				default:
					t.Fatalf("%s: unexpected result %+v", k, res)
				}
			}
			if share := float64(normal) / float64(len(keys)) * 100; math.Abs(share-tt.wantCap) > 4 {
				t.Errorf("%.1f%% evaluated normally, want about %g%%", share, tt.wantCap)
			}
			noKey := rs.Evaluate("new-search", Context{})
			wantNoKey := ReasonOverride
			if tt.at == "2026-11-21T12:00:00Z" {
				wantNoKey = ReasonStatic
			}
			if noKey.Reason != wantNoKey {
				t.Errorf("without key: reason %v, want %v", noKey.Reason, wantNoKey)
			}
		})
	}
}

func TestContextNowDrivesOverride(t *testing.T) {
	rs := compileJSON(t, fixtureDoc, mustTime(t, "2026-11-21T10:01:00Z"))
	calls := 0
	rs.now = func() time.Time { calls++; return mustTime(t, "2026-11-21T10:01:00Z") }
	if got := rs.Evaluate("new-search", Context{"key": "u", "now": "2026-11-21T13:00:00Z"}); got.Reason != ReasonStatic {
		t.Errorf("context now after expiry: got %v, want STATIC", got.Reason)
	}
	if got := rs.Evaluate("new-search", Context{"key": "u", "now": mustTime(t, "2026-11-21T10:00:30Z")}); got.Reason != ReasonOverride {
		t.Errorf("context now before ramp: got %v, want OVERRIDE", got.Reason)
	}
	if calls != 0 {
		t.Errorf("clock called %d times although the context had now", calls)
	}
	rs.Evaluate("checkout-v2", Context{"key": "u"})
	if calls != 0 {
		t.Errorf("clock called %d times for a flag that needs no time", calls)
	}
	rs.Evaluate("new-search", Context{"key": "u"})
	if calls != 1 {
		t.Errorf("clock called %d times for an override, want 1", calls)
	}
}

func TestRolloutDistribution(t *testing.T) {
	rs := compileJSON(t, fixtureDoc, time.Now())
	const n = 100000
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		res := rs.Evaluate("button-color", Context{"app_version": "3.0.0", "org": fmt.Sprintf("org-%d", i)})
		if res.Reason != ReasonSplit {
			t.Fatalf("org-%d: reason %v, want SPLIT", i, res.Reason)
		}
		counts[res.Variant]++
	}
	want := map[string]float64{"red": 33.334, "green": 33.333, "blue": 33.333}
	for v, pct := range want {
		got := float64(counts[v]) / n * 100
		if math.Abs(got-pct) > 1 {
			t.Errorf("variant %s: %.2f%% of keys, want %.3f%% ± 1", v, got, pct)
		}
	}
}

func TestUsersLargeList(t *testing.T) {
	var users []string
	for i := 0; i < 100; i++ {
		users = append(users, fmt.Sprintf("u%d", i))
	}
	doc := &Document{Version: "v", Flags: NewFlagMap(map[string]*Flag{"f": boolFlag("f", Rule{Users: users, Serve: "on"})})}
	rs, err := Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key  any
		want string
	}{{"u0", "on"}, {"u99", "on"}, {"u100", "off"}, {99, "off"}, {nil, "off"}} {
		if got := rs.Evaluate("f", Context{"key": tt.key}).Variant; got != tt.want {
			t.Errorf("key %v: got %s, want %s", tt.key, got, tt.want)
		}
	}
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	rs := compileJSON(t, fixtureDoc, mustTime(t, "2026-11-21T10:07:00Z"))
	cases := []struct {
		flag string
		ctx  Context
	}{
		{"west-coast-student-banner", Context{"key": "rob"}},
		{"west-coast-student-banner", Context{"key": "juan", "state": "CA", "student": true, "beta": true}},
		{"west-coast-student-banner", Context{"key": "juan"}},
		{"checkout-v2", Context{"key": 42}},
		{"button-color", Context{"app_version": "1.0.0-rc.1"}},
		{"button-color", Context{"app_version": "v3.1.0", "org": "acme"}},
		{"max-items", Context{"age": int64(20), "plan": "pro"}},
		{"theme", Context{}},
		{"new-search", Context{"key": "user-1"}},
		{"new-search", Context{"key": "user-1", "now": "2026-11-21T10:30:00+01:00"}},
		{"nope", Context{}},
	}
	for _, c := range cases {
		t.Run(c.flag, func(t *testing.T) {
			allocs := testing.AllocsPerRun(100, func() { rs.Evaluate(c.flag, c.ctx) })
			if allocs != 0 {
				t.Errorf("%v allocs per evaluation, want 0", allocs)
			}
		})
	}
}

// TestEvaluateConcurrently runs evaluations and explanations from several
// goroutines on one RuleSet; -race checks that they share nothing mutable.
func TestEvaluateConcurrently(t *testing.T) {
	rs := compileJSON(t, fixtureDoc, mustTime(t, "2026-11-21T10:07:00Z"))
	done := make(chan Result)
	for g := 0; g < 4; g++ {
		go func() {
			var last Result
			for i := 0; i < 200; i++ {
				ctx := Context{"key": fmt.Sprintf("user-%d", i), "state": "CA", "student": true, "beta": i%2 == 0}
				for _, k := range rs.Keys() {
					last = rs.Evaluate(k, ctx)
					last, _ = rs.Explain(k, ctx)
				}
			}
			done <- last
		}()
	}
	for g := 0; g < 4; g++ {
		if res := <-done; res.Reason == ReasonError {
			t.Errorf("goroutine %d: %+v", g, res)
		}
	}
}
