package breaker

import (
	"slices"
	"testing"
)

// KeyCache lists a Document's breaker flags sorted, computes them once
// per Document, and anew for a new Document.
func TestKeyCache(t *testing.T) {
	var c KeyCache
	d1 := doc()
	b := *d1.Flags["checkout"].Breaker
	alpha := *d1.Flags["checkout"]
	alpha.Key, alpha.Breaker = "alpha", &b
	d1.Flags["alpha"] = &alpha
	got := c.Keys("production", d1)
	if !slices.Equal(got, []string{"alpha", "checkout"}) {
		t.Fatalf("keys %q, want alpha and checkout (plain has no breaker block)", got)
	}
	if again := c.Keys("production", d1); &again[0] != &got[0] {
		t.Error("the same Document's keys were computed again")
	}
	d2 := doc()
	if got := c.Keys("production", d2); !slices.Equal(got, []string{"checkout"}) {
		t.Errorf("keys of a new Document %q, want checkout", got)
	}
	c.Forget(func(string) bool { return false })
	if len(c.m) != 0 {
		t.Errorf("Forget kept %d environments", len(c.m))
	}
}
