package main

import (
	"strings"
	"testing"
)

func TestEvalShowsKind(t *testing.T) {
	r := flagpole(t, "", nil, "eval", exampleRepo(t), "--flag", "checkout-v2", "--context", `{"key":"audrey"}`)
	if r.code != exitOK || !strings.Contains(r.stdout, "kind: release (expected lifetime 40 days)\n") {
		t.Errorf("exit %d, want the kind line:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = flagpole(t, "", nil, "eval", exampleRepo(t), "--flag", "debug-panel", "--format", "json")
	if r.code != exitOK || !strings.Contains(r.stdout, `"kind":"permission"`) {
		t.Errorf("exit %d, want kind in the JSON:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = flagpole(t, "", nil, "eval", exampleRepo(t), "--flag", "max-cart-items")
	if r.code != exitOK || strings.Contains(r.stdout, "kind:") {
		t.Errorf("exit %d, a flag without kind shows one:\n%s%s", r.code, r.stdout, r.stderr)
	}
}
