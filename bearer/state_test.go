package bearer

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
	"weak"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// A version built from a patch shares the unchanged flags' encodings with
// the version before it, re-encodes the changed flag, and serves the
// changed flag's new value.
func TestEnvStateSharesUnchangedFlags(t *testing.T) {
	v1 := testDoc("production", "v1")
	old, err := newEnvState(snapshot(v1), time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	color := *v1.Flags.Get("color")
	color.Default = "blue"
	v2, err := v1.Apply(&ruleset.Patch{Base: "v1", Version: "v2", Flags: map[string]*ruleset.Flag{"color": &color}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := newEnvState(snapshot(v2), time.Now, old)
	if err != nil {
		t.Fatal(err)
	}
	if st.flag("banner") != old.flag("banner") || st.flag("checkout-v2") != old.flag("checkout-v2") {
		t.Error("unchanged flags were encoded again")
	}
	if st.flag("color") == old.flag("color") {
		t.Error("the changed flag kept its old encoding")
	}
	if r := st.rs.Evaluate("color", ruleset.Context{"key": "k"}); r.Variant != "blue" {
		t.Errorf("color = %+v, want blue", r)
	}
	if r := old.rs.Evaluate("color", ruleset.Context{"key": "k"}); r.Variant != "red" {
		t.Errorf("the old version changed: color = %+v, want red", r)
	}
	if fl := slices.Collect(st.flags.all()); len(fl) != 3 || fl[0].key != "banner" || fl[2].key != "color" {
		t.Errorf("flags not sorted: %v", fl)
	}
	body, err := st.docJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc ruleset.Document
	if err := json.Unmarshal(body, &doc); err != nil || doc.Version != "v2" || doc.Flags.Get("color").Default != "blue" {
		t.Errorf("docJSON = %s (%v)", body, err)
	}
}

// A snapshot built by patches shares flags with its base; one read whole
// does not, which is what makes the bearer return memory after it.
func TestSharesFlags(t *testing.T) {
	v1 := snapshot(testDoc("production", "v1"))
	color := *v1.Document.Flags.Get("color")
	color.Default = "blue"
	doc2, err := v1.Document.Apply(&ruleset.Patch{Base: "v1", Version: "v2", Flags: map[string]*ruleset.Flag{"color": &color}})
	if err != nil {
		t.Fatal(err)
	}
	if !sharesFlags(v1, snapshot(doc2)) {
		t.Error("a patched snapshot shares no flag with its base")
	}
	if sharesFlags(v1, snapshot(testDoc("production", "v2"))) {
		t.Error("a snapshot built anew shares flags")
	}
	if sharesFlags(nil, v1) {
		t.Error("nothing shares flags with v1")
	}
}

// A state built whole from another walks the other's encodings chunk by
// chunk beside its sorted keys: past the first chunk too, every flag held
// alike keeps its encoding.
func TestEnvStateSharesEncodingsPastTheFirstChunk(t *testing.T) {
	prod := bigDoc(3*encChunk + 7)
	prev, err := newEnvState(snapshot(prod), time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	stag := *prod
	stag.Environment, stag.Version = "staging", "s1"
	stag.Flags = ruleset.NewFlagMap(prod.Flags.Map()) // the same *Flag values, not the same FlagMap: built whole
	st, err := newEnvState(snapshot(&stag), time.Now, prev)
	if err != nil {
		t.Fatal(err)
	}
	if len(prev.flags.chunks) < 4 || st.flags.len() != prod.Flags.Len() {
		t.Fatalf("%d chunks, %d encodings; want 4 chunks and %d", len(prev.flags.chunks), st.flags.len(), prod.Flags.Len())
	}
	for _, k := range prod.Flags.Keys() {
		if st.flag(k) != prev.flag(k) {
			t.Fatalf("flag %s encoded again", k)
		}
	}
}

// An environment's first state is built from another environment's: the
// flags the two Documents hold alike (the same *Flag, as the stores share
// them) keep one encoding, and each environment still serves its own
// flags and overrides.
func TestEnvStateSharesAcrossEnvironments(t *testing.T) {
	prod := testDoc("production", "p1")
	stag := testDoc("staging", "s1")
	stag.Flags = stag.Flags.With(map[string]*ruleset.Flag{"banner": prod.Flags.Get("banner"), "checkout-v2": prod.Flags.Get("checkout-v2")})
	prod.Overrides = map[string]*ruleset.Override{"banner": {Flag: "banner", Environment: "production", Serve: "on", At: time.Now()}}
	f := newFixture(t, Options{}, prod, stag)
	p, s := f.srv.hub("production").cur.Load(), f.srv.hub("staging").cur.Load()
	if p.flag("checkout-v2") != s.flag("checkout-v2") || p.flag("banner") != s.flag("banner") {
		t.Error("flags the environments hold alike were encoded twice")
	}
	if p.flag("color") == s.flag("color") {
		t.Error("a flag each environment holds its own value of shares an encoding")
	}
	ctx := ruleset.Context{"key": "zed"}
	if r := p.rs.Evaluate("banner", ctx); r.Variant != "on" || r.Reason != ruleset.ReasonOverride {
		t.Errorf("production banner = %+v, want its override", r)
	}
	if r := s.rs.Evaluate("banner", ctx); r.Variant != "off" || r.Reason == ruleset.ReasonOverride {
		t.Errorf("staging banner = %+v, want off without production's override", r)
	}
}

// TestEnvStateNamedMatchesFull applies random patches as the Redis store
// does (naming the flags they change, store.Snapshot.Change) and checks
// that the state built from the last one by those flags alone has the
// index, encodings and results of a state built whole, and that the
// streams' patch diffed over the named flags is the whole diff. Override
// layer changes (the flags map unchanged, no flag named) are mixed in.
func TestEnvStateNamedMatchesFull(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	doc := testDoc("production", "v1")
	for i := range 30 {
		k := fmt.Sprintf("f%02d", i)
		doc.Flags = doc.Flags.With(map[string]*ruleset.Flag{k: &ruleset.Flag{Key: k, Type: ruleset.TypeBoolean, Variants: boolVariants(), Enabled: true, Off: "off", Default: "off"}})
	}
	raw := snapshot(doc)
	st, err := newEnvState(raw, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.raw = raw
	ctxs := []ruleset.Context{{"key": "audrey"}, {"key": "zed", "state": "CA"}}
	named := 0
	for step := range 200 {
		next := *raw
		served := &next
		if rng.IntN(5) == 0 {
			// The override layer changed: the same flags, other overrides.
			d := *raw.Document
			d.Version = fmt.Sprintf("%s+%d", raw.Version, step)
			k := fmt.Sprintf("f%02d", rng.IntN(40))
			if f := d.Flags.Get(k); f != nil {
				d.Overrides = map[string]*ruleset.Override{k: {Flag: k, Environment: "production", Serve: f.Off, At: time.Now()}}
			}
			served = &store.Snapshot{Environment: raw.Environment, Version: d.Version, Document: &d, Keys: raw.Keys}
		} else {
			p := &ruleset.Patch{Base: raw.Version, Version: fmt.Sprint("v", step+2), Flags: map[string]*ruleset.Flag{}}
			for range 1 + rng.IntN(3) {
				k := fmt.Sprintf("f%02d", rng.IntN(40))
				if _, ok := raw.Document.Flags.Lookup(k); ok && rng.IntN(3) == 0 {
					p.Flags[k] = nil
					continue
				}
				f := &ruleset.Flag{Key: k, Type: ruleset.TypeString, Enabled: rng.IntN(2) == 0, Off: "a", Default: "b",
					Variants: []ruleset.Variant{{Name: "a", Value: json.RawMessage(`"a"`)}, {Name: "b", Value: json.RawMessage(fmt.Sprintf(`"b%d"`, rng.IntN(3)))}},
					Metadata: map[string]any{"step": float64(step)}}
				p.Flags[k] = f
			}
			d, err := raw.Document.Apply(p)
			if err != nil {
				t.Fatal(err)
			}
			next.Version, next.Document = d.Version, d
			next.Change = &ruleset.Change{Base: weak.Make(raw.Document), Flags: slices.Sorted(maps.Keys(p.Flags))}
			served = &next
		}
		got, err := newEnvState(served, time.Now, st)
		if err != nil {
			t.Fatal(err)
		}
		if served == &next {
			raw = served
		}
		got.raw = raw // the store's snapshot: unchanged when the layer changed
		if _, ok := got.change.From(st.doc); !ok {
			t.Fatalf("step %d: the state was built whole", step)
		}
		named++
		want, err := newEnvState(served, time.Now, nil)
		if err != nil {
			t.Fatal(err)
		}
		gotFlags, wantFlags := slices.Collect(got.flags.all()), slices.Collect(want.flags.all())
		if len(gotFlags) != len(wantFlags) || got.flags.len() != len(wantFlags) {
			t.Fatalf("step %d: %d flags (len %d), want %d", step, len(gotFlags), got.flags.len(), len(wantFlags))
		}
		for i, f := range wantFlags {
			if g := gotFlags[i]; !reflect.DeepEqual(g, f) || got.flag(f.key) != g {
				t.Fatalf("step %d: flag %d is %+v, want %+v", step, i, g, f)
			}
		}
		for _, k := range want.rs.Keys() {
			for _, c := range ctxs {
				if g, w := got.rs.Evaluate(k, c), want.rs.Evaluate(k, c); !reflect.DeepEqual(g, w) {
					t.Fatalf("step %d: %s %v = %+v, want %+v", step, k, c, g, w)
				}
			}
		}
		if g, w := got.change.Diff(st.doc, got.doc), ruleset.Diff(st.doc, got.doc); !reflect.DeepEqual(g, w) {
			t.Fatalf("step %d: named diff %+v, want %+v", step, g, w)
		}
		st = got
	}
	if named < 200 {
		t.Fatalf("%d of 200 states built from the named flags", named)
	}
}
