package ruleset

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCompileFromMatchesCompile edits a Document step by step, as the
// loader does (unchanged flags keep their pointer), and checks that
// CompileFrom the previous RuleSet gives what CompileWith gives: every
// flag's result for a set of contexts, and the clock's boundaries. The
// previous RuleSet is evaluated meanwhile, on another goroutine, so that
// -race catches a write to a compiled flag CompileFrom shares with it.
func TestCompileFromMatchesCompile(t *testing.T) {
	now := mustTime(t, "2026-11-21T10:30:00Z")
	opts := Options{Now: fixedClock(now)}
	doc := decodeDoc(t, fixtureDoc)
	for i := range 50 { // many shareable leaves
		k := fmt.Sprintf("leaf-%02d", i)
		doc.Flags = doc.Flags.With(map[string]*Flag{k: boolFlag(k, Rule{Conditions: []Condition{cond("age", "number", "gte", fmt.Sprint(i))}, Serve: "on"})})
	}
	prev, err := CompileWith(doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(change func(d *Document)) *Document {
		d := *doc
		d.Flags, d.Audiences, d.Overrides = NewFlagMap(doc.Flags.Map()), maps.Clone(doc.Audiences), maps.Clone(doc.Overrides)
		change(&d)
		return &d
	}
	expires := mustTime(t, "2026-11-21T11:00:00Z")
	steps := []struct {
		name   string
		change func(d *Document)
	}{
		{"one leaf changed", func(d *Document) {
			d.Flags = d.Flags.With(map[string]*Flag{"leaf-07": boolFlag("leaf-07", Rule{Users: []string{"ann"}, Serve: "on"})})
		}},
		{"override on a shared leaf", func(d *Document) {
			d.Overrides["leaf-03"] = &Override{Flag: "leaf-03", Environment: "production", Serve: "on", At: now, Expires: &expires}
		}},
		{"override removed", func(d *Document) { delete(d.Overrides, "leaf-03") }},
		{"a flag requires a shared leaf", func(d *Document) {
			f := boolFlag("gated", Rule{Serve: "on"})
			f.Requires = []Prerequisite{{Flag: "leaf-05", Variants: []string{"on"}}}
			d.Flags = d.Flags.With(map[string]*Flag{"gated": f})
		}},
		{"the required leaf changed", func(d *Document) {
			d.Flags = d.Flags.With(map[string]*Flag{"leaf-05": boolFlag("leaf-05", Rule{Ramp: &Ramp{Serve: "on", Otherwise: "off", From: 10, Step: 10, Every: Duration(time.Minute), Start: now}})})
		}},
		{"an audience changed", func(d *Document) {
			a := *d.Audiences["adults"]
			a.Conditions = []Condition{cond("age", "number", "gte", "21")}
			d.Audiences["adults"] = &a
		}},
		{"a nested audience changed", func(d *Document) {
			a := *d.Audiences["beta-testers"]
			a.Match = "all"
			d.Audiences["beta-testers"] = &a
		}},
		{"an audience added and used", func(d *Document) {
			d.Audiences["seniors"] = &Audience{Key: "seniors", Conditions: []Condition{cond("age", "number", "gte", "65"), {Audience: "adults"}}}
			d.Flags = d.Flags.With(map[string]*Flag{"leaf-11": boolFlag("leaf-11", Rule{Audiences: []string{"seniors"}, Serve: "on"})})
		}},
		{"a flag removed", func(d *Document) { d.Flags = d.Flags.With(map[string]*Flag{"leaf-09": nil}) }},
		{"a flag added", func(d *Document) { d.Flags = d.Flags.With(map[string]*Flag{"leaf-99": boolFlag("leaf-99")}) }},
		// The bearer builds an environment's first rule set from another
		// environment's: the same *Flag values but for overlays, and
		// overrides of its own.
		{"another environment", func(d *Document) {
			d.Environment = "staging"
			d.Flags = d.Flags.With(map[string]*Flag{"leaf-02": boolFlag("leaf-02", Rule{Users: []string{"bob"}, Serve: "on"})})
			clear(d.Overrides)
			d.Overrides["leaf-04"] = &Override{Flag: "leaf-04", Environment: "staging", Serve: "on", At: now}
		}},
	}
	ctxs := []Context{
		{"key": "ann"},
		{"key": "bob", "age": 30, "plan": "pro", "beta": true},
		{"key": "cy", "age": 19, "state": "CA", "student": true, "email": "cy@flagpole.dev"},
	}
	evalAll := func(rs *RuleSet) map[string]Result {
		out := map[string]Result{}
		for _, k := range rs.Keys() {
			for i, c := range ctxs {
				out[fmt.Sprint(k, i)] = rs.Evaluate(k, c)
			}
		}
		return out
	}
	for _, st := range steps {
		next := edit(st.change)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					evalAll(prev)
					prev.NextChange(now)
				}
			}
		})
		got, err := CompileFrom(prev, next, opts)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("%s: CompileFrom: %v", st.name, err)
		}
		want, err := CompileWith(next, opts)
		if err != nil {
			t.Fatalf("%s: CompileWith: %v", st.name, err)
		}
		if g, w := evalAll(got), evalAll(want); !reflect.DeepEqual(g, w) {
			t.Fatalf("%s: results differ:\n got %v\nwant %v", st.name, g, w)
		}
		for _, at := range []time.Time{now.Add(-time.Hour), now, now.Add(time.Hour)} {
			g, gok := got.NextChange(at)
			w, wok := want.NextChange(at)
			if !g.Equal(w) || gok != wok {
				t.Fatalf("%s: NextChange(%v) = %v %v, want %v %v", st.name, at, g, gok, w, wok)
			}
		}
		if g, w := got.ChangedBetween(now.Add(-2*time.Hour), now.Add(2*time.Hour)), want.ChangedBetween(now.Add(-2*time.Hour), now.Add(2*time.Hour)); !reflect.DeepEqual(g, w) {
			t.Fatalf("%s: ChangedBetween = %v, want %v", st.name, g, w)
		}
		for k, a := range got.auds {
			if was := prev.auds[k]; was != nil && next.Audiences[k] == doc.Audiences[k] && !changedAudiences(doc.Audiences, next.Audiences)[k] && a != was {
				t.Errorf("%s: unchanged audience %s compiled again", st.name, k)
			}
		}
		doc, prev = next, got
	}
}

// TestCompileFromAudienceProblems checks that CompileFrom reports the
// problems CompileWith reports when an edit breaks audiences: a cycle made
// through an unchanged audience, a reference to a removed audience.
func TestCompileFromAudienceProblems(t *testing.T) {
	opts := Options{Now: fixedClock(mustTime(t, "2026-11-21T10:30:00Z"))}
	doc := decodeDoc(t, fixtureDoc)
	prev, err := CompileWith(doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(d *Document){
		"cycle": func(d *Document) {
			a := *d.Audiences["beta-testers"]
			a.Conditions = append(append([]Condition(nil), a.Conditions...), Condition{Audience: "west-coast-students"})
			d.Audiences["beta-testers"] = &a
		},
		"removed": func(d *Document) { delete(d.Audiences, "beta-testers") },
	}
	sameProblems(t, prev, doc, opts, edits)
}

// sameProblems applies each edit to a copy of doc and checks that
// CompileFrom(prev, ...) fails as CompileWith does.
func sameProblems(t *testing.T, prev *RuleSet, doc *Document, opts Options, edits map[string]func(d *Document)) {
	t.Helper()
	for name, change := range edits {
		next := *doc
		next.Flags, next.Audiences = NewFlagMap(doc.Flags.Map()), maps.Clone(doc.Audiences)
		change(&next)
		_, gerr := CompileFrom(prev, &next, opts)
		_, werr := CompileWith(&next, opts)
		if gerr == nil || werr == nil || gerr.Error() != werr.Error() {
			t.Errorf("%s: CompileFrom error %v, want %v", name, gerr, werr)
		}
	}
}

// TestCompileFromRequiresProblems checks that CompileFrom, which walks
// only the flags it did not share, reports the prerequisite problems
// CompileWith reports when an edit makes them through unchanged flags.
func TestCompileFromRequiresProblems(t *testing.T) {
	opts := Options{Now: fixedClock(mustTime(t, "2026-11-21T10:30:00Z"))}
	doc := decodeDoc(t, fixtureDoc)
	requiring := func(key string, on ...string) *Flag {
		f := boolFlag(key, Rule{Serve: "on"})
		for _, p := range on {
			f.Requires = append(f.Requires, Prerequisite{Flag: p, Variants: []string{"on"}})
		}
		return f
	}
	// A chain as long as allowed (c1 requires c0, ..., c8 requires c7), and
	// leaves.
	for i := range MaxRequiresDepth + 1 {
		k := fmt.Sprintf("c%d", i)
		if i == 0 {
			doc.Flags = doc.Flags.With(map[string]*Flag{k: boolFlag(k, Rule{Users: []string{"ann"}, Serve: "on"})})
		} else {
			doc.Flags = doc.Flags.With(map[string]*Flag{k: requiring(k, fmt.Sprintf("c%d", i-1))})
		}
	}
	for i := range 20 {
		k := fmt.Sprintf("leaf-%02d", i)
		doc.Flags = doc.Flags.With(map[string]*Flag{k: boolFlag(k, Rule{Users: []string{"bob"}, Serve: "on"})})
	}
	doc.Flags = doc.Flags.With(map[string]*Flag{"x": requiring("x", "y")})
	doc.Flags = doc.Flags.With(map[string]*Flag{"y": requiring("y", "leaf-01")})
	prev, err := CompileWith(doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(d *Document){
		"cycle of three through unchanged flags": func(d *Document) {
			d.Flags = d.Flags.With(map[string]*Flag{"leaf-01": requiring("leaf-01", "x")})
		},
		"chain made too long by a new head": func(d *Document) {
			d.Flags = d.Flags.With(map[string]*Flag{"c-head": requiring("c-head", fmt.Sprintf("c%d", MaxRequiresDepth))})
		},
		"chain made too long at its unchanged tail": func(d *Document) {
			d.Flags = d.Flags.With(map[string]*Flag{"c0": requiring("c0", "leaf-02")})
		},
		"a shared leaf required with an unknown variant": func(d *Document) {
			f := requiring("z", "leaf-03")
			f.Requires[0].Variants = []string{"maybe"}
			d.Flags = d.Flags.With(map[string]*Flag{"z": f})
		},
		"a shared leaf's prerequisite removed": func(d *Document) {
			d.Flags = d.Flags.With(map[string]*Flag{"leaf-01": nil})
		},
	}
	sameProblems(t, prev, doc, opts, edits)
}

// TestRebind checks that a rule set serves another Document with the same
// entries (an empty override layer's served version) without compiling,
// and refuses one whose entries are other maps.
func TestRebind(t *testing.T) {
	doc := decodeDoc(t, fixtureDoc)
	rs, err := CompileWith(doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := mustTime(t, "2026-11-21T10:30:00Z")
	served := *doc
	served.Version = "v1+1"
	got, ok := rs.Rebind(&served, fixedClock(at))
	if !ok || got.Version() != "v1+1" || got.Document() != &served || rs.Version() != "v1" {
		t.Fatalf("Rebind same entries: ok %v, version %q (rs %q)", ok, got.Version(), rs.Version())
	}
	want, err := CompileWith(&served, Options{Now: fixedClock(at)})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range want.Keys() {
		for _, c := range []Context{{"key": "ann"}, {"key": "bob", "age": 30, "beta": true}} {
			if g, w := got.Evaluate(k, c), want.Evaluate(k, c); !reflect.DeepEqual(g, w) {
				t.Errorf("%s %v: %+v, want %+v", k, c, g, w)
			}
		}
	}
	other := served
	other.Overrides = maps.Clone(doc.Overrides)
	if _, ok := rs.Rebind(&other, nil); ok {
		t.Error("Rebind accepted a Document with another overrides map")
	}
}

// TestCompileChangedMatchesCompile applies random patches (flags replaced,
// added and removed, with prerequisites, schedules, ramps and conditions
// on "now"; overrides set and lifted; now and then an audience, which
// falls back to CompileFrom) and checks that CompileChanged, given the
// patch's flag keys, compiles what CompileWith compiles: the same results,
// clock boundaries and problems, and the same lists of flags it must walk
// next time.
func TestCompileChangedMatchesCompile(t *testing.T) {
	now := mustTime(t, "2026-11-21T10:30:00Z")
	opts := Options{Now: fixedClock(now)}
	rng := rand.New(rand.NewPCG(7, 13))
	leaf := func(k string) *Flag {
		switch rng.IntN(5) {
		case 0:
			return boolFlag(k, Rule{Users: []string{"ann"}, Serve: "on"})
		case 1:
			return boolFlag(k, Rule{Conditions: []Condition{cond("age", "number", "gte", fmt.Sprint(rng.IntN(40)))}, Serve: "on"})
		case 2:
			return boolFlag(k, Rule{Ramp: &Ramp{Serve: "on", Otherwise: "off", From: 10, Step: 30, Every: Duration(time.Duration(1+rng.IntN(30)) * time.Minute), Start: now.Add(-time.Duration(rng.IntN(60)) * time.Minute)}})
		case 3:
			at := now.Add(time.Duration(rng.IntN(120)-60) * time.Minute).Format(time.RFC3339)
			return boolFlag(k, Rule{Conditions: []Condition{cond("now", "datetime", "lt", `"`+at+`"`)}, Serve: "on"})
		default:
			return boolFlag(k, Rule{Audiences: []string{"adults"}, Serve: "on"})
		}
	}
	leafKey := func() string { return fmt.Sprintf("leaf-%02d", rng.IntN(40)) }
	gen := func(k string) *Flag {
		f := leaf(k)
		if strings.HasPrefix(k, "req-") {
			f.Requires = []Prerequisite{{Flag: leafKey(), Variants: []string{"on"}}}
		}
		if strings.HasPrefix(k, "sched-") {
			on := false
			f.Schedule = []ScheduleStep{{At: now.Add(time.Duration(rng.IntN(120)-60) * time.Minute), Enabled: &on}}
		}
		return f
	}
	doc := decodeDoc(t, fixtureDoc)
	for i := range 40 {
		k := fmt.Sprintf("leaf-%02d", i)
		doc.Flags = doc.Flags.With(map[string]*Flag{k: gen(k)})
	}
	for i := range 6 {
		for _, p := range []string{"req-", "sched-"} {
			k := fmt.Sprintf("%s%d", p, i)
			doc.Flags = doc.Flags.With(map[string]*Flag{k: gen(k)})
		}
	}
	prev, err := CompileWith(doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctxs := []Context{{"key": "ann"}, {"key": "bob", "age": 30, "plan": "pro", "beta": true}, {"key": "cy", "age": 19, "student": true}}
	var fallbacks, failures int
	for step := range 300 {
		p := &Patch{Base: doc.Version, Version: fmt.Sprint("v", step+2), Flags: map[string]*Flag{}, Overrides: map[string]*Override{}}
		for range 1 + rng.IntN(3) {
			var k string
			switch rng.IntN(4) {
			case 0:
				k = leafKey()
			case 1:
				k = fmt.Sprintf("req-%d", rng.IntN(8))
			case 2:
				k = fmt.Sprintf("sched-%d", rng.IntN(8))
			default:
				k = fmt.Sprintf("leaf-%02d", 40+rng.IntN(10)) // added, removed
			}
			if _, ok := doc.Flags.Lookup(k); ok && rng.IntN(4) == 0 {
				p.Flags[k] = nil
			} else {
				p.Flags[k] = gen(k)
			}
		}
		if rng.IntN(4) == 0 {
			k := leafKey()
			if doc.Overrides[k] != nil {
				p.Overrides[k] = nil
			} else {
				exp := now.Add(time.Duration(1+rng.IntN(90)) * time.Minute)
				p.Overrides[k] = &Override{Flag: k, Environment: doc.Environment, Serve: "off", At: now, Expires: &exp}
			}
		}
		if rng.IntN(10) == 0 {
			a := *doc.Audiences["adults"]
			a.Conditions = []Condition{cond("age", "number", "gte", fmt.Sprint(18+rng.IntN(5)))}
			p.Audiences = map[string]*Audience{"adults": &a}
			fallbacks++
		}
		next, err := doc.Apply(p)
		if err != nil {
			t.Fatal(err)
		}
		got, gerr := CompileChanged(prev, doc, next, slices.Collect(maps.Keys(p.Flags)), opts)
		want, werr := CompileWith(next, opts)
		if gerr != nil || werr != nil {
			if gerr == nil || werr == nil || gerr.Error() != werr.Error() {
				t.Fatalf("step %d: CompileChanged error %v, want %v", step, gerr, werr)
			}
			failures++
			continue // the patch is refused; the next one applies to doc
		}
		for _, k := range want.Keys() {
			for i, c := range ctxs {
				for _, at := range []time.Duration{-time.Hour, 0, 45 * time.Minute} {
					got.now, want.now = fixedClock(now.Add(at)), fixedClock(now.Add(at))
					if g, w := got.Evaluate(k, c), want.Evaluate(k, c); !reflect.DeepEqual(g, w) {
						t.Fatalf("step %d: %s ctx %d at %v: %+v, want %+v", step, k, i, at, g, w)
					}
				}
			}
		}
		got.now, want.now = opts.Now, opts.Now
		if !reflect.DeepEqual(got.Keys(), want.Keys()) {
			t.Fatalf("step %d: keys differ", step)
		}
		for _, at := range []time.Duration{-2 * time.Hour, -30 * time.Minute, 0, 30 * time.Minute, 2 * time.Hour} {
			g, gok := got.NextChange(now.Add(at))
			w, wok := want.NextChange(now.Add(at))
			gl, glok := got.LastChange(now.Add(at))
			wl, wlok := want.LastChange(now.Add(at))
			if !g.Equal(w) || gok != wok || !gl.Equal(wl) || glok != wlok {
				t.Fatalf("step %d: NextChange/LastChange(%v) = %v %v / %v %v, want %v %v / %v %v", step, at, g, gok, gl, glok, w, wok, wl, wlok)
			}
		}
		if g, w := got.ChangedBetween(now.Add(-2*time.Hour), now.Add(2*time.Hour)), want.ChangedBetween(now.Add(-2*time.Hour), now.Add(2*time.Hour)); !reflect.DeepEqual(g, w) {
			t.Fatalf("step %d: ChangedBetween = %v, want %v", step, g, w)
		}
		if !reflect.DeepEqual(got.unshared, want.unshared) || !reflect.DeepEqual(got.clocked, want.clocked) {
			t.Fatalf("step %d: unshared %v clocked %v, want %v %v", step, got.unshared, got.clocked, want.unshared, want.clocked)
		}
		if !reflect.DeepEqual(got.clock, want.clock) {
			t.Fatalf("step %d: clock boundaries differ", step)
		}
		doc, prev = next, got
	}
	if failures > 100 || fallbacks == 0 {
		t.Fatalf("%d of 300 patches refused, %d audience changes: the walk is not exercised", failures, fallbacks)
	}
	t.Logf("%d patches refused, %d audience changes", failures, fallbacks)
}

// TestCompileChangedSharesUnnamedFlags checks that CompileChanged looks
// only at the flags it is told of: a flag it is not told of keeps its
// compiled form even when doc holds another *Flag (the caller's contract),
// and a base whose flags are not prev's falls back to CompileFrom.
func TestCompileChangedSharesUnnamedFlags(t *testing.T) {
	opts := Options{Now: fixedClock(mustTime(t, "2026-11-21T10:30:00Z"))}
	doc := decodeDoc(t, fixtureDoc)
	prev, err := CompileWith(doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	next, err := doc.Apply(&Patch{Base: doc.Version, Version: "v2", Flags: map[string]*Flag{"max-items": boolFlag("max-items")}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := CompileChanged(prev, doc, next, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got.flags.get("max-items") != prev.flags.get("max-items") {
		t.Error("a flag not named was compiled again")
	}
	other := *doc
	other.Flags = NewFlagMap(doc.Flags.Map())
	got, err = CompileChanged(prev, &other, next, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got.flags.get("max-items") == prev.flags.get("max-items") || got.flags.get("max-items").src != next.Flags.Get("max-items") {
		t.Error("a base that is not prev's did not fall back to CompileFrom")
	}
}
