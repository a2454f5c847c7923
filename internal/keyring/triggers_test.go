package keyring

import (
	"testing"

	"github.com/flagpole/flagpole/store"
)

func TestTriggersLookup(t *testing.T) {
	ts := []store.Trigger{
		{Name: "kill", Flag: "checkout-v2", Environment: "production", Action: store.TriggerOff, SHA256: hashOf("fp_trg_kill")},
		{Name: "blue", Flag: "color", Environment: "staging", Action: store.TriggerServe, Variant: "blue", SHA256: hashOf("fp_trg_blue")},
		{Name: "again", Flag: "color", Environment: "staging", Action: store.TriggerClear, SHA256: hashOf("fp_trg_blue")},
	}
	r, err := NewTriggers(ts)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		token string
		want  string // trigger name, "" for none
	}{
		{"fp_trg_kill", "kill"},
		{"fp_trg_blue", "blue"}, // the first of two with one hash
		{"fp_trg_kil", ""},
		{"", ""},
		{hashOf("fp_trg_kill"), ""}, // the hash is not the token
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			got, ok := r.Lookup(tt.token)
			if ok != (tt.want != "") || got.Name != tt.want {
				t.Errorf("Lookup = %+v, %v; want %q", got, ok, tt.want)
			}
		})
	}
	if r.Len() != 3 {
		t.Errorf("Len = %d, want 3", r.Len())
	}
	empty, _ := NewTriggers(nil)
	if _, ok := empty.Lookup("fp_trg_kill"); ok {
		t.Error("an empty lookup finds a trigger")
	}
}

func TestNewTriggersBadHash(t *testing.T) {
	_, err := NewTriggers([]store.Trigger{{Name: "x", SHA256: "abc"}})
	if want := "triggers[0] (x): sha256 is not 64 hex digits"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestAdminKeysByEnvironment checks that an admin or viewer key is in the
// ring of each environment it lists, and of every one when it lists none.
func TestAdminKeysByEnvironment(t *testing.T) {
	keys := []store.Key{
		{Name: "oncall", Kind: store.KeyAdmin, Environments: []string{"production"}, SHA256: hashOf("adm")},
		{Name: "viewer", Kind: store.KeyViewer, SHA256: hashOf("vwr")},
	}
	for env, want := range map[string]int{"production": 2, "staging": 1} {
		r, err := New(keys, env, store.KeyAdmin, store.KeyViewer)
		if err != nil {
			t.Fatal(err)
		}
		if r.Len() != want {
			t.Errorf("%s: Len = %d, want %d", env, r.Len(), want)
		}
		if e, ok := r.Match(Sum("vwr")); !ok || e.Kind != store.KeyViewer {
			t.Errorf("%s: viewer key not matched: %+v", env, e)
		}
	}
}
