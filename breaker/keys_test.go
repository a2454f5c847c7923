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
	// A new Document with the same breaker flags (an edit elsewhere)
	// shares the sorted keys; one where a flag gains a breaker block, or
	// one breaker flag is swapped for another, does not.
	shared := c.Keys("production", d2)
	d4 := doc()
	p := *d2.Flags["plain"]
	p.Name = "edited"
	d4.Flags["plain"] = &p
	if again := c.Keys("production", d4); &again[0] != &shared[0] || !slices.Equal(again, []string{"checkout"}) {
		t.Errorf("a Document with the same breaker flags: keys %q, sorted again %v", again, &again[0] != &shared[0])
	}
	withBreaker := *d2.Flags["plain"]
	withBreaker.Breaker = &b
	d5 := doc()
	delete(d5.Flags, "checkout")
	d5.Flags["plain"] = &withBreaker
	if got := c.Keys("production", d5); !slices.Equal(got, []string{"plain"}) {
		t.Errorf("one breaker flag swapped for another: keys %q, want plain", got)
	}
	d6 := doc()
	d6.Flags["plain"] = &withBreaker
	if got := c.Keys("production", d6); !slices.Equal(got, []string{"checkout", "plain"}) {
		t.Errorf("a flag gained a breaker block: keys %q, want checkout and plain", got)
	}
	c.Forget(func(string) bool { return false })
	if len(c.m) != 0 {
		t.Errorf("Forget kept %d environments", len(c.m))
	}
}
