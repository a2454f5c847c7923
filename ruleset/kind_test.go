package ruleset

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestKindLifetime(t *testing.T) {
	tests := []struct {
		kind      Kind
		days      int
		permanent bool
	}{
		{KindRelease, 40, false}, {KindExperiment, 40, false}, {KindOperational, 7, false},
		{KindKillSwitch, 0, true}, {KindPermission, 0, true}, {"", 0, false},
	}
	for _, tt := range tests {
		d, ok := tt.kind.Lifetime()
		if ok != (tt.days > 0) || d != time.Duration(tt.days)*24*time.Hour || tt.kind.Permanent() != tt.permanent {
			t.Errorf("%q: Lifetime %v %v, Permanent %v; want %d days, permanent %v", tt.kind, d, ok, tt.kind.Permanent(), tt.days, tt.permanent)
		}
	}
}

func TestCompileRejectsUnknownKind(t *testing.T) {
	doc := decodeDoc(t, `{"version": "v", "environment": "production", "flags": {
	  "a": {"key": "a", "type": "boolean", "kind": "temporary", "enabled": true,
	        "variants": [{"name": "on", "value": true}, {"name": "off", "value": false}], "off": "off", "default": "off"}}}`)
	_, err := Compile(doc)
	var ce *CompileError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `flags.a.kind: unknown kind "temporary"`) {
		t.Fatalf("Compile = %v, want an unknown kind error", err)
	}
}
