package bearer

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/flagpole/flagpole/ruleset"
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
	color := *v1.Flags["color"]
	color.Default = "blue"
	v2, err := v1.Apply(&ruleset.Patch{Base: "v1", Version: "v2", Flags: map[string]*ruleset.Flag{"color": &color}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := newEnvState(snapshot(v2), time.Now, old)
	if err != nil {
		t.Fatal(err)
	}
	if st.byKey["banner"] != old.byKey["banner"] || st.byKey["checkout-v2"] != old.byKey["checkout-v2"] {
		t.Error("unchanged flags were encoded again")
	}
	if st.byKey["color"] == old.byKey["color"] {
		t.Error("the changed flag kept its old encoding")
	}
	if r := st.rs.Evaluate("color", ruleset.Context{"key": "k"}); r.Variant != "blue" {
		t.Errorf("color = %+v, want blue", r)
	}
	if r := old.rs.Evaluate("color", ruleset.Context{"key": "k"}); r.Variant != "red" {
		t.Errorf("the old version changed: color = %+v, want red", r)
	}
	if len(st.flags) != 3 || st.flags[0].key != "banner" || st.flags[2].key != "color" {
		t.Errorf("flags not sorted: %v", st.flags)
	}
	body, err := st.docJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc ruleset.Document
	if err := json.Unmarshal(body, &doc); err != nil || doc.Version != "v2" || doc.Flags["color"].Default != "blue" {
		t.Errorf("docJSON = %s (%v)", body, err)
	}
}

// A snapshot built by patches shares flags with its base; one read whole
// does not, which is what makes the bearer return memory after it.
func TestSharesFlags(t *testing.T) {
	v1 := snapshot(testDoc("production", "v1"))
	color := *v1.Document.Flags["color"]
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

// An environment's first state is built from another environment's: the
// flags the two Documents hold alike (the same *Flag, as the stores share
// them) keep one encoding, and each environment still serves its own
// flags and overrides.
func TestEnvStateSharesAcrossEnvironments(t *testing.T) {
	prod := testDoc("production", "p1")
	stag := testDoc("staging", "s1")
	stag.Flags["banner"], stag.Flags["checkout-v2"] = prod.Flags["banner"], prod.Flags["checkout-v2"]
	prod.Overrides = map[string]*ruleset.Override{"banner": {Flag: "banner", Environment: "production", Serve: "on", At: time.Now()}}
	f := newFixture(t, Options{}, prod, stag)
	p, s := f.srv.hub("production").cur.Load(), f.srv.hub("staging").cur.Load()
	if p.byKey["checkout-v2"] != s.byKey["checkout-v2"] || p.byKey["banner"] != s.byKey["banner"] {
		t.Error("flags the environments hold alike were encoded twice")
	}
	if p.byKey["color"] == s.byKey["color"] {
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
