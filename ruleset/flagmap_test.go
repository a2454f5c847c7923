package ruleset

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// checkFlagMap fails unless m holds exactly want.
func checkFlagMap(t *testing.T, what string, m FlagMap, want map[string]*Flag, keys int) {
	t.Helper()
	if m.Len() != len(want) {
		t.Fatalf("%s: Len %d, want %d", what, m.Len(), len(want))
	}
	if got := m.Map(); !maps.Equal(got, want) {
		t.Fatalf("%s: holds %d flags that differ from the %d wanted", what, len(got), len(want))
	}
	if got := m.Keys(); !slices.IsSorted(got) || len(got) != len(want) {
		t.Fatalf("%s: Keys not the %d keys sorted", what, len(want))
	}
	for k := range keys {
		key := fmt.Sprint("flag-", k)
		w, wok := want[key]
		g, gok := m.Lookup(key)
		if g != w || gok != wok || m.Get(key) != w || m.Has(key) != wok {
			t.Fatalf("%s: %s = %p, %v; want %p, %v", what, key, g, gok, w, wok)
		}
	}
}

// A FlagMap made from another (With, Edit) holds the other's flags with
// the change applied and leaves the other as it was: random changes on a
// chain of versions, each compared with a plain map, and every earlier
// version with its own at the end. The diff of two versions is the plain
// maps' diff.
func TestFlagMapVersions(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const keys = 3000
	type version struct {
		m    FlagMap
		want map[string]*Flag
	}
	var versions []version
	cur := version{FlagMap{}, map[string]*Flag{}}
	for step := range 300 {
		next := maps.Clone(cur.want)
		var m FlagMap
		if step%2 == 0 {
			changes := map[string]*Flag{}
			for range 1 + rng.IntN(40) {
				key := fmt.Sprint("flag-", rng.IntN(keys))
				if rng.IntN(3) == 0 {
					changes[key] = nil
					delete(next, key)
				} else {
					f := &Flag{Key: key}
					changes[key] = f
					next[key] = f
				}
			}
			m = cur.m.With(changes)
		} else {
			b := cur.m.Edit()
			for range 1 + rng.IntN(40) {
				key := fmt.Sprint("flag-", rng.IntN(keys))
				if rng.IntN(3) == 0 {
					b.Delete(key)
					delete(next, key)
				} else {
					f := &Flag{Key: key}
					b.Set(key, f)
					next[key] = f
				}
			}
			m = b.FlagMap()
		}
		versions = append(versions, cur)
		checkFlagMap(t, fmt.Sprint("step ", step), m, next, keys)
		if got, want := diffFlags(cur.m, m), diffMap(cur.want, next); !maps.Equal(got, want) {
			t.Fatalf("step %d: diffFlags %v, want %v", step, got, want)
		}
		cur = version{m, next}
	}
	for i, v := range versions {
		checkFlagMap(t, fmt.Sprint("version ", i, " at the end"), v.m, v.want, keys)
	}
	if m := cur.m.With(nil); !m.Same(cur.m) {
		t.Error("With(nil) made a new FlagMap")
	}
	if m := cur.m.With(map[string]*Flag{"flag-1": nil}); m.Same(cur.m) {
		t.Error("a changed FlagMap is the Same as the one it was made from")
	}
}

// FlagMaps holding the same flags are reflect.DeepEqual however they were
// made (tests compare Documents so), and encode to the JSON a plain map
// encodes to, keys sorted and escaped alike; the zero FlagMap to null.
func TestFlagMapJSONAndEquality(t *testing.T) {
	plain := map[string]*Flag{}
	for _, k := range []string{"b", "a", "<script>", "ä-ü", "x&y", "quote\"d", "z"} {
		plain[k] = &Flag{Key: k, Type: TypeBoolean, Enabled: true, Off: "off", Default: "on", Description: "<" + k + ">"}
	}
	built := NewFlagMap(plain)
	edited := NewFlagMap(map[string]*Flag{"gone": {Key: "gone"}, "a": {Key: "old"}}).Edit()
	edited.Delete("gone")
	for k, f := range plain {
		edited.Set(k, f)
	}
	viaEdit := edited.FlagMap()
	if !reflect.DeepEqual(built, viaEdit) {
		t.Error("the same flags made by NewFlagMap and by Edit are not DeepEqual")
	}
	want, err := json.Marshal(plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []FlagMap{built, viaEdit} {
		got, err := json.Marshal(m)
		if err != nil || string(got) != string(want) {
			t.Fatalf("encoded %s, %v; want %s", got, err, want)
		}
	}
	var back FlagMap
	if err := json.Unmarshal(want, &back); err != nil || !reflect.DeepEqual(back, built) {
		t.Fatalf("decoded back %v (%v), not what was encoded", back.Map(), err)
	}
	doc := &Document{Version: `v"flags":null`, Environment: "prod", Commit: "<c>", Flags: built,
		Audiences: map[string]*Audience{"a": {Key: "a"}}}
	built.Get("a").Variants = []Variant{{Name: "x", Value: json.RawMessage(" { \"k\" : \"<\u2028>\" } ")}}
	for _, d := range []*Document{doc, {Version: "v"}} {
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.AppendJSON([]byte("x"))
		if err != nil || string(got) != "x"+string(want) {
			t.Fatalf("AppendJSON gave %s, %v; want x%s", got, err, want)
		}
	}
	if got, _ := json.Marshal(FlagMap{}); string(got) != "null" {
		t.Errorf("zero FlagMap encoded %s, want null", got)
	}
	if got, _ := json.Marshal(NewFlagMap(map[string]*Flag{})); string(got) != "{}" {
		t.Errorf("empty FlagMap encoded %s, want {}", got)
	}
	if err := json.Unmarshal([]byte("null"), &back); err != nil || !back.Null() {
		t.Errorf("null decoded to %v, %v; want the zero FlagMap", back, err)
	}
	if err := json.Unmarshal([]byte(`{"a":[]}`), &back); err == nil {
		t.Error("a flag that is not an object decoded without an error")
	}
}
