package ruleset

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

func FuzzParseContext(f *testing.F) {
	for _, s := range []string{
		`{"key":"u1","age":42.5,"student":true,"gone":null}`,
		`{}`, `{"tags":["a"]}`, `{"a":{"b":1}}`, `[1]`, `null`, `{"a":1}{}`, `{"a":1,"a":2}`,
		`{"a":1e999}`, `{"\u00fc":"\ud83d\ude00"}`, `{"a":"\u0000"}`, ``, `{`, `{"a":-0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, err := ParseContext(data)
		if json.Valid(data) && len(data) <= MaxContextBytes {
			// The fast path must agree with the token-by-token decoder.
			slow, slowErr := parseContextTokens(data)
			if (err == nil) != (slowErr == nil) || !reflect.DeepEqual(ctx, slow) {
				t.Fatalf("%q: fast path %#v, %v; token path %#v, %v", data, ctx, err, slow, slowErr)
			}
		}
		if err != nil {
			return
		}
		if len(ctx) > MaxContextAttributes {
			t.Fatalf("%d attributes accepted", len(ctx))
		}
		for k, v := range ctx {
			switch v.(type) {
			case string, float64, bool, nil:
			default:
				t.Fatalf("attribute %q has type %T", k, v)
			}
		}
		again, err := json.Marshal(ctx)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", ctx, err)
		}
		back, err := ParseContext(again)
		if err != nil || !reflect.DeepEqual(back, ctx) {
			t.Fatalf("round trip of %s: %#v, %v; want %#v", again, back, err, ctx)
		}
	})
}

// fuzzDocument is the fixture plus a flag with one rule per operator and
// type, so that random contexts reach every operator.
func fuzzDocument(t testing.TB) *Document {
	doc := decodeDoc(t, fixtureDoc)
	var rules []Rule
	add := func(attr string, typ AttrType, op string, values ...string) {
		rules = append(rules, Rule{Conditions: []Condition{cond(attr, typ, op, values...)}, Serve: "on"})
	}
	for _, op := range []string{OpEq, OpNeq, OpIn, OpNotIn, OpContains, OpNotContains, OpStartsWith, OpEndsWith, OpMatches} {
		add("s", AttrString, op, `"a.b"`)
	}
	for _, typ := range []AttrType{AttrNumber, AttrSemver, AttrDatetime} {
		operand := map[AttrType]string{AttrNumber: "3", AttrSemver: `"1.2.3-rc.1"`, AttrDatetime: `"2026-11-21T10:00:00Z"`}[typ]
		for _, op := range []string{OpEq, OpNeq, OpIn, OpNotIn, OpLt, OpLte, OpGt, OpGte, OpExists, OpNotExists} {
			if op == OpExists || op == OpNotExists {
				add(string(typ), typ, op)
			} else {
				add(string(typ), typ, op, operand)
			}
		}
	}
	add("b", AttrBoolean, OpEq, "true")
	add("now", AttrDatetime, OpLt, `"2026-11-21T10:00:00Z"`)
	rules = append(rules, Rule{Rollout: []Weight{{"on", 50000}, {"off", 50000}}, By: "s"})
	doc.Flags = doc.Flags.With(map[string]*Flag{"ops": boolFlag("ops", rules...)})
	// Prerequisites, a ramp and a schedule, reached by the fuzzed "now".
	for k, f := range decodeDoc(t, clockDoc).Flags.All() {
		if k != "plain" {
			doc.Flags = doc.Flags.With(map[string]*Flag{k: f})
		}
	}
	return doc
}

func FuzzEvaluate(f *testing.F) {
	f.Add([]byte(`{"key":"juan","state":"CA","student":true,"beta":true}`), "user-1", "2.0.0", 3.0, "2026-11-21T10:07:00Z")
	f.Add([]byte(`{"s":"a.b","number":3,"semver":"1.2.3","datetime":"2026-11-21"}`), "", "v1.2.3-rc.1+b", math.NaN(), "")
	f.Add([]byte(`{"key":1e300,"age":"x","org":true}`), "\xff", "1.2", math.Inf(1), "garbage")
	f.Add([]byte(`not json`), "k", "", -0.0, "2026-02-30T00:00:00Z")
	doc := fuzzDocument(f)
	rs, err := CompileWith(doc, Options{Now: fixedClock(time.Date(2026, 11, 21, 10, 7, 0, 0, time.UTC))})
	if err != nil {
		f.Fatal(err)
	}
	keys := append(rs.Keys(), "missing")
	f.Fuzz(func(t *testing.T, data []byte, key, version string, num float64, now string) {
		ctx, err := ParseContext(data)
		if err != nil {
			ctx = Context{}
		}
		ctx["key"], ctx["app_version"], ctx["semver"], ctx["age"], ctx["number"] = key, version, version, num, num
		if now != "" {
			ctx["now"], ctx["datetime"] = now, now
		}
		if len(key)%2 == 1 {
			ctx["s"], ctx["org"] = key, int64(len(key))
		}
		for _, k := range keys {
			res := rs.Evaluate(k, ctx)
			if k != "missing" && (res.Reason == ReasonError || res.Variant == "") {
				t.Fatalf("%s: %+v", k, res)
			}
			got, tr := rs.Explain(k, ctx)
			if !reflect.DeepEqual(got, res) {
				t.Fatalf("%s: Explain %+v, Evaluate %+v\n%s", k, got, res, tr)
			}
			_ = tr.String()
		}
	})
}

func TestFuzzDocumentCompiles(t *testing.T) {
	doc := fuzzDocument(t)
	if _, err := Compile(doc); err != nil {
		t.Fatal(err)
	}
	if n := len(doc.Flags.Get("ops").Rules); n != 42 {
		t.Errorf("ops flag has %d rules", n)
	}
}

// FuzzCompile feeds Compile documents as a bearer might stream them,
// including broken ones: Compile must never panic, and whatever it accepts
// must evaluate without panicking.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{fixtureDoc, brokenDoc, benchDoc, clockDoc, `{}`, `{"flags":{"a":null}}`,
		`{"flags":{"a":{"key":"a","off":"off","default":"on","requires":[{"flag":"b","variants":["on"]}]},"b":{"key":"b","off":"off","default":"on","requires":[{"flag":"a","variants":["on"]}]}}}`,
		`{"flags":{"a":{"key":"a","off":"off","default":"on","rules":[{"ramp":{"serve":"on","otherwise":"off","from":1e308,"step":1e-300,"every":"1s","start":"2200-01-01T00:00:00Z"}}]}}}`,
		`{"flags":{"a":{"key":"a","off":"off","default":"on","schedule":[{"at":"2026-12-01T00:00:00Z","rules":[{"serve":"on"}]},{"at":"2026-12-01T00:00:00Z"}]}}}`,
		`{"flags":{"a":{"key":"a","off":"off","default":"on","rules":[{"rollout":[{"variant":"on","weight":0},{"variant":"off","weight":100000}]}]}}}`,
	} {
		f.Add([]byte(s), "user-1")
	}
	clock := fixedClock(time.Date(2026, 11, 21, 10, 7, 0, 0, time.UTC))
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		var doc Document
		if json.Unmarshal(data, &doc) != nil {
			return
		}
		rs, err := CompileWith(&doc, Options{Now: clock})
		if err != nil {
			if _, ok := err.(*CompileError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		ctx := Context{"key": key, "state": "CA", "student": true, "beta": true, "age": 30, "now": key}
		at := time.Date(2026, 11, 21, 10, 7, 0, 0, time.UTC).Add(time.Duration(len(key)) * 24 * time.Hour)
		if next, ok := rs.NextChange(at); ok && !next.After(at) {
			t.Fatalf("NextChange(%s) = %s", at, next)
		} else if ok && len(rs.ChangedBetween(at, next)) == 0 {
			t.Fatalf("NextChange(%s) = %s, but no flag changes then", at, next)
		}
		if last, ok := rs.LastChange(at); ok && last.After(at) {
			t.Fatalf("LastChange(%s) = %s", at, last)
		}
		for _, k := range rs.Keys() {
			res := rs.Evaluate(k, ctx)
			if res.Reason == ReasonError {
				t.Fatalf("%s: %+v", k, res)
			}
			if got, _ := rs.Explain(k, ctx); !reflect.DeepEqual(got, res) {
				t.Fatalf("%s: Explain %+v, Evaluate %+v", k, got, res)
			}
		}
	})
}
