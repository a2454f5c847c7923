package ruleset

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestDiffApply(t *testing.T) {
	old := decodeDoc(t, fixtureDoc)
	oldJSON, _ := json.Marshal(old)
	nw := old.Clone()
	nw.Version, nw.Commit = "v2", "def456"
	nw.Flags.Get("checkout-v2").Enabled = false                            // changed
	nw.Flags = nw.Flags.With(map[string]*Flag{"theme": nil})               // deleted
	nw.Flags = nw.Flags.With(map[string]*Flag{"fresh": boolFlag("fresh")}) // added
	nw.Audiences["adults"].Conditions[0].Values[0] = []byte(" 21 ")        // changed (operand)
	delete(nw.Overrides, "new-search")                                     // deleted

	p := Diff(old, nw)
	if p.Base != "v1" || p.Version != "v2" || p.Commit != "def456" {
		t.Errorf("patch header %q→%q commit %q", p.Base, p.Version, p.Commit)
	}
	if got := keysOf(p.Flags); got != "checkout-v2 fresh theme" {
		t.Errorf("patched flags: %s", got)
	}
	if p.Flags["theme"] != nil {
		t.Error("deleted flag should be nil in the patch")
	}
	if got := keysOf(p.Audiences); got != "adults" {
		t.Errorf("patched audiences: %s", got)
	}
	if got := keysOf(p.Overrides); got != "new-search" || p.Overrides["new-search"] != nil {
		t.Errorf("patched overrides: %s", got)
	}

	// The patch survives the wire.
	wire, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Patch
	if err := json.Unmarshal(wire, &back); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(wire), `"theme":null`) {
		t.Errorf("deletions must encode as null: %s", wire)
	}
	got, err := old.Apply(&back)
	if err != nil {
		t.Fatal(err)
	}
	if !sameJSON(got, nw) {
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(nw)
		t.Errorf("Apply(Diff) differs:\n%s\n%s", a, b)
	}
	if after, _ := json.Marshal(old); string(after) != string(oldJSON) {
		t.Error("Apply or Diff modified the old document")
	}
	if _, err := Compile(got); err != nil {
		t.Errorf("patched document does not compile: %v", err)
	}
	if !Diff(nw, got).Empty() {
		t.Error("Diff of equal documents is not empty")
	}
}

func TestApplyErrors(t *testing.T) {
	doc := decodeDoc(t, fixtureDoc)
	if _, err := doc.Apply(&Patch{Base: "v0", Version: "v2"}); err == nil || !strings.Contains(err.Error(), `document version "v1"`) {
		t.Errorf("wrong base: %v", err)
	}
	if _, err := doc.Apply(nil); err == nil {
		t.Error("nil patch accepted")
	}
}

func TestDiffNil(t *testing.T) {
	doc := decodeDoc(t, fixtureDoc)
	p := Diff(nil, doc)
	if len(p.Flags) != doc.Flags.Len() || len(p.Audiences) != len(doc.Audiences) || len(p.Overrides) != 1 {
		t.Errorf("Diff(nil, doc) = %+v", p)
	}
	got, err := (&Document{Environment: doc.Environment}).Apply(p)
	if err != nil || !sameJSON(got, doc) {
		t.Errorf("Apply onto empty: %v", err)
	}
}

func TestCloneIsDeep(t *testing.T) {
	doc := decodeDoc(t, fixtureDoc)
	c := doc.Clone()
	if !reflect.DeepEqual(doc, c) {
		t.Fatal("clone differs")
	}
	c.Flags.Get("west-coast-student-banner").Rules[0].Users[0] = "mallory"
	c.Flags.Get("theme").Variants[0].Value[0] = ' '
	c.Audiences["adults"].Conditions[0].Values[0][0] = ' '
	*c.Overrides["new-search"].Expires = time.Time{}
	c.Overrides["new-search"].Recovery.Start = 99
	if !sameJSON(doc, decodeDoc(t, fixtureDoc)) {
		t.Error("modifying the clone changed the original")
	}
	if (*Document)(nil).Clone() != nil {
		t.Error("nil clone")
	}
}

func keysOf[V any](m map[string]V) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, " ")
}
