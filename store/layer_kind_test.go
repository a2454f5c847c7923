package store

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

func TestLayerEntryInGit(t *testing.T) {
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	o := &ruleset.Override{Flag: "f", Serve: "off", By: "breaker", At: at}
	doc := func(enabled bool, git *ruleset.Override) *ruleset.Document {
		d := &ruleset.Document{Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{"f": {Key: "f", Enabled: enabled}})}
		if git != nil {
			d.Overrides = map[string]*ruleset.Override{"f": git}
		}
		return d
	}
	set := LayerEntry{Flag: "f", Override: o}
	disable := LayerEntry{Flag: "f", Override: o, Kind: KindDisable}
	tomb := LayerEntry{Flag: "f"}
	for _, tc := range []struct {
		name string
		e    LayerEntry
		doc  *ruleset.Document
		want bool
	}{
		{"set, git has no override", set, doc(true, nil), false},
		{"set, git has it", set, doc(true, o), true},
		{"set, flag disabled is not enough", set, doc(false, nil), false},
		{"tombstone, git has none", tomb, doc(true, nil), true},
		{"disable, flag enabled", disable, doc(true, nil), false},
		{"disable, git has the override file only", disable, doc(true, o), false},
		{"disable, flag disabled", disable, doc(false, nil), true},
		{"disable, flag gone", disable, &ruleset.Document{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.e.InGit(tc.doc); got != tc.want {
				t.Errorf("InGit = %v", got)
			}
		})
	}
}

// TestEntryKindJSON: the kind survives the JSON a Redis layer keeps, and
// an override entry's JSON is as before.
func TestEntryKindJSON(t *testing.T) {
	b, err := json.Marshal(LayerEntry{Flag: "f", Kind: KindDisable})
	if err != nil {
		t.Fatal(err)
	}
	var e LayerEntry
	if err := json.Unmarshal(b, &e); err != nil || e.Kind != KindDisable {
		t.Fatalf("%s → %+v, %v", b, e, err)
	}
	if b, _ := json.Marshal(LayerEntry{Flag: "f"}); string(b) != `{"flag":"f","at":"0001-01-01T00:00:00Z","seq":0}` {
		t.Errorf("override entry: %s", b)
	}
	if err := json.Unmarshal([]byte(`{"flag":"f","kind":"vanish"}`), &e); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestCheckEntryDisable(t *testing.T) {
	doc := &ruleset.Document{Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{"f": {Key: "f", Enabled: true, Off: "off", Default: "off",
		Variants: []ruleset.Variant{{Name: "off", Value: json.RawMessage("false")}}}})}
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	if _, err := CheckEntry(doc, "production", LayerEntry{Flag: "f", Kind: KindDisable}); err == nil {
		t.Error("a disable tombstone accepted")
	}
	ramp := &ruleset.Override{Serve: "off", At: at, Recovery: &ruleset.Recovery{StartAt: at, Start: 10, Step: 10, Every: ruleset.Duration(time.Minute)}}
	if _, err := CheckEntry(doc, "production", LayerEntry{Flag: "f", Kind: KindDisable, Override: ramp}); err == nil {
		t.Error("a disable entry with a ramp accepted")
	}
	if _, err := CheckEntry(doc, "production", LayerEntry{Flag: "f", Kind: KindDisable, Override: &ruleset.Override{Serve: "off", At: at}}); err != nil {
		t.Error(err)
	}
}
