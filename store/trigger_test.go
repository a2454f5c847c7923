package store

import (
	"encoding/json"
	"testing"
)

func TestParseTriggerAction(t *testing.T) {
	tests := []struct {
		in      string
		action  TriggerAction
		variant string
		ok      bool
	}{
		{"off", TriggerOff, "", true},
		{"clear", TriggerClear, "", true},
		{"serve blue", TriggerServe, "blue", true},
		{"serve", 0, "", false},
		{"serve ", 0, "", false},
		{"serve a b", 0, "", false},
		{"Off", 0, "", false},
		{"off ", 0, "", false},
		{"", 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, v, err := ParseTriggerAction(tt.in)
			if a != tt.action || v != tt.variant || (err == nil) != tt.ok {
				t.Errorf("ParseTriggerAction(%q) = %v, %q, %v", tt.in, a, v, err)
			}
		})
	}
}

func TestTriggerJSON(t *testing.T) {
	in := Trigger{Name: "t", Flag: "f", Environment: "production", Action: TriggerServe, Variant: "blue", SHA256: "ab"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"t","flag":"f","environment":"production","action":"serve","variant":"blue","sha256":"ab"}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var out Trigger
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("Unmarshal = %+v, %v", out, err)
	}
	if _, err := json.Marshal(Trigger{}); err == nil {
		t.Error("a trigger without an action marshals")
	}
}

func TestKeyApplies(t *testing.T) {
	tests := []struct {
		key  Key
		env  string
		want bool
	}{
		{Key{Kind: KeyServer, Environment: "production"}, "production", true},
		{Key{Kind: KeyServer, Environment: "production"}, "staging", false},
		{Key{Kind: KeyAdmin}, "staging", true},
		{Key{Kind: KeyAdmin, Environments: []string{"production"}}, "production", true},
		{Key{Kind: KeyViewer, Environments: []string{"production"}}, "staging", false},
	}
	for _, tt := range tests {
		if got := tt.key.Applies(tt.env); got != tt.want {
			t.Errorf("%+v.Applies(%s) = %v, want %v", tt.key, tt.env, got, tt.want)
		}
	}
}
