package ruleset

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// benchDoc holds one flag per benchmark.
const benchDoc = `{
  "version": "bench", "environment": "production",
  "audiences": {
    "three": {"key": "three", "match": "all", "conditions": [
      {"attribute": "state", "type": "string", "operator": "in", "values": ["CA", "WA", "OR"]},
      {"attribute": "student", "type": "boolean", "operator": "eq", "values": [true]},
      {"attribute": "age", "type": "number", "operator": "gte", "values": [18]}
    ]},
    "inner": {"key": "inner", "match": "any", "conditions": [
      {"attribute": "beta", "type": "boolean", "operator": "eq", "values": [true]},
      {"attribute": "app_version", "type": "semver", "operator": "gte", "values": ["2.0.0"]}
    ]},
    "middle": {"key": "middle", "conditions": [
      {"attribute": "state", "type": "string", "operator": "in", "values": ["CA", "WA", "OR"]},
      {"audience": "inner"}
    ]},
    "outer": {"key": "outer", "conditions": [
      {"attribute": "student", "type": "boolean", "operator": "eq", "values": [true]},
      {"audience": "middle"}
    ]}
  },
  "flags": {
    "static": {"key": "static", "type": "boolean", "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "on"},
    "audience3": {"key": "audience3", "type": "boolean", "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "off", "rules": [{"audiences": ["three"], "serve": "on"}]},
    "rollout": {"key": "rollout", "type": "boolean", "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "off",
      "rules": [{"rollout": [{"variant": "on", "weight": 25000}, {"variant": "off", "weight": 75000}]}]},
    "split": {"key": "split", "type": "string",
      "variants": [{"name": "red", "value": "#f00"}, {"name": "green", "value": "#0f0"}, {"name": "blue", "value": "#00f"}],
      "enabled": true, "off": "red", "default": "red",
      "rules": [{"rollout": [{"variant": "red", "weight": 33334}, {"variant": "green", "weight": 33333}, {"variant": "blue", "weight": 33333}]}]},
    "regex": {"key": "regex", "type": "boolean", "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "off",
      "rules": [{"conditions": [{"attribute": "email", "type": "string", "operator": "matches", "values": ["@(example|flagpole)\\.(com|dev)$"]}], "serve": "on"}]},
    "nested": {"key": "nested", "type": "boolean", "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "off", "rules": [{"audiences": ["outer"], "serve": "on"}]},
    "recovering": {"key": "recovering", "type": "boolean", "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "on"},
    "users": {"key": "users", "type": "boolean", "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "off", "rules": [{"users": ["audrey", "rob", "juan", "mei", "ola"], "serve": "on"}]},
    "mid": {"key": "mid", "type": "boolean", "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "on", "requires": [{"flag": "static", "variants": ["on"]}]},
    "chain": {"key": "chain", "type": "boolean", "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "on", "requires": [{"flag": "mid", "variants": ["on"]}]},
    "gate": {"key": "gate", "type": "boolean", "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "on", "rules": [{"users": ["blocked"], "serve": "off"}]},
    "gatemid": {"key": "gatemid", "type": "boolean", "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "on", "requires": [{"flag": "gate", "variants": ["on"]}]},
    "gatechain": {"key": "gatechain", "type": "boolean", "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "on", "requires": [{"flag": "gatemid", "variants": ["on"]}]},
    "ramp": {"key": "ramp", "type": "boolean", "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": true, "off": "off", "default": "off",
      "rules": [{"ramp": {"serve": "on", "otherwise": "off", "from": 25, "step": 5, "every": "1h", "start": "2026-11-21T10:00:00Z"}, "by": "key"}]},
    "scheduled": {"key": "scheduled", "type": "boolean", "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}],
      "enabled": false, "off": "off", "default": "on",
      "schedule": [{"at": "2026-11-20T00:00:00Z", "enabled": true}, {"at": "2026-11-22T00:00:00Z", "enabled": false}]}
  },
  "overrides": {
    "recovering": {"flag": "recovering", "serve": "off", "at": "2026-11-21T10:00:00Z",
      "recovery": {"start_at": "2026-11-21T10:05:00Z", "start": 10, "step": 10, "every": "1m"}}
  }
}`

var benchSink Result

func benchEval(b *testing.B, flag string, ctx Context, want string) {
	rs := compileJSON(b, benchDoc, time.Date(2026, 11, 21, 10, 9, 30, 0, time.UTC))
	if got := rs.Evaluate(flag, ctx); got.Variant != want {
		b.Fatalf("%s: got %+v, want variant %s", flag, got, want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchSink = rs.Evaluate(flag, ctx)
	}
}

func BenchmarkStatic(b *testing.B) {
	benchEval(b, "static", Context{"key": "user-1"}, "on")
}

func BenchmarkAudience3(b *testing.B) {
	benchEval(b, "audience3", Context{"key": "juan", "state": "OR", "student": true, "age": 20}, "on")
}

func BenchmarkRollout(b *testing.B) {
	benchEval(b, "rollout", Context{"key": "user-1"}, "off")
}

func BenchmarkSplit(b *testing.B) {
	benchEval(b, "split", Context{"key": "user-1"}, "blue")
}

func BenchmarkRegex(b *testing.B) {
	benchEval(b, "regex", Context{"key": "u", "email": "ann.lee@flagpole.dev"}, "on")
}

func BenchmarkNestedAudience(b *testing.B) {
	benchEval(b, "nested", Context{"key": "u", "student": true, "state": "WA", "app_version": "v2.3.0"}, "on")
}

func BenchmarkOverrideRecovery(b *testing.B) {
	benchEval(b, "recovering", Context{"key": "user-1"}, "off") // cap 50%, bucket 68525
}

func BenchmarkUsers(b *testing.B) {
	benchEval(b, "users", Context{"key": "ola"}, "on")
}

// BenchmarkPrerequisiteChain evaluates a flag that requires a flag that
// requires a static flag: compare with BenchmarkStatic. Compile folds
// prerequisites on static flags, so the chain costs what a static flag
// does.
func BenchmarkPrerequisiteChain(b *testing.B) {
	benchEval(b, "chain", Context{"key": "user-1"}, "on")
}

// BenchmarkPrerequisiteChainRules is BenchmarkPrerequisiteChain whose
// last prerequisite has a rule (a users list), so that nothing folds:
// compare with BenchmarkUsers, the cost of evaluating that prerequisite.
func BenchmarkPrerequisiteChainRules(b *testing.B) {
	benchEval(b, "gatechain", Context{"key": "user-1"}, "on")
}

// BenchmarkRamp evaluates a ramp at 25%: compare with BenchmarkRollout,
// which buckets the same way without the clock.
func BenchmarkRamp(b *testing.B) {
	benchEval(b, "ramp", Context{"key": "user-1"}, "off")
}

// BenchmarkSchedule evaluates a flag whose first schedule step is in
// force: compare with BenchmarkStatic.
func BenchmarkSchedule(b *testing.B) {
	benchEval(b, "scheduled", Context{"key": "user-1"}, "on")
}

func BenchmarkExplain(b *testing.B) {
	rs := compileJSON(b, benchDoc, time.Now())
	ctx := Context{"key": "u", "student": true, "state": "WA", "app_version": "v2.3.0"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		benchSink, _ = rs.Explain("nested", ctx)
	}
}

// BenchmarkCompile compiles 1,000 flags over 100 audiences.
func BenchmarkCompile(b *testing.B) {
	doc := &Document{Version: "v", Audiences: map[string]*Audience{}}
	for i := 0; i < 100; i++ {
		k := fmt.Sprintf("aud-%d", i)
		doc.Audiences[k] = &Audience{Key: k, Conditions: []Condition{
			cond("state", AttrString, OpIn, `"CA"`, `"WA"`),
			cond("email", AttrString, OpMatches, `"@example\\.com$"`),
		}}
	}
	flags := NewFlagMapBuilder(1000)
	for i := 0; i < 1000; i++ {
		k := fmt.Sprintf("flag-%d", i)
		flags.Set(k, boolFlag(k,
			Rule{Audiences: []string{fmt.Sprintf("aud-%d", i%100)}, Serve: "on"},
			Rule{Rollout: []Weight{{Variant: "on", Weight: 10000}, {Variant: "off", Weight: 90000}}}))
	}
	doc.Flags = flags.FlagMap()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseContext(b *testing.B) {
	data, _ := json.Marshal(map[string]any{"key": "user-1", "state": "CA", "student": true, "age": 20, "app_version": "2.1.0"})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseContext(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClockCost measures what prerequisites, ramps and schedules add
// over the plain flag each compares with (chain: static; gatechain, a
// chain of 2 whose last prerequisite has a users rule: gate, that last
// prerequisite alone; scheduled: static; ramp: rollout), on a shared
// machine: it
// interleaves batches of 2,000 calls of each flag and reports, per flag,
// the fastest batch's time per call, and the differences of those minimums
// (the "+" metrics). Interleaving puts every flag under the same load, and
// the minimum is the figure least disturbed by other processes.
func BenchmarkClockCost(b *testing.B) {
	rs := compileJSON(b, benchDoc, time.Date(2026, 11, 21, 10, 9, 30, 0, time.UTC))
	ctx := Context{"key": "user-1"}
	names := []string{"static", "chain", "scheduled", "rollout", "ramp", "gate", "gatechain"}
	const batch = 2000
	best := make([]float64, len(names))
	for i := range best {
		best[i] = 1e18
	}
	b.ReportAllocs()
	for n := 0; n < b.N; n += batch * len(names) {
		for i, name := range names {
			start := time.Now()
			for j := 0; j < batch; j++ {
				benchSink = rs.Evaluate(name, ctx)
			}
			if ns := float64(time.Since(start).Nanoseconds()) / batch; ns < best[i] {
				best[i] = ns
			}
		}
	}
	for i, name := range names {
		b.ReportMetric(best[i], name+"-ns")
	}
	b.ReportMetric(best[1]-best[0], "+chain-ns")
	b.ReportMetric(best[2]-best[0], "+schedule-ns")
	b.ReportMetric(best[4]-best[3], "+ramp-ns")
	b.ReportMetric(best[6]-best[5], "+gatechain-ns")
	b.ReportMetric(0, "ns/op")
}
