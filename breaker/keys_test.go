package breaker

import (
	"slices"
	"testing"
	"weak"

	"github.com/flagpole/flagpole/ruleset"
)

// KeyCache lists a Document's breaker flags sorted, computes them once
// per Document, and anew for a new Document.
func TestKeyCache(t *testing.T) {
	var c KeyCache
	d1 := doc()
	b := *d1.Flags.Get("checkout").Breaker
	alpha := *d1.Flags.Get("checkout")
	alpha.Key, alpha.Breaker = "alpha", &b
	d1.Flags = d1.Flags.With(map[string]*ruleset.Flag{"alpha": &alpha})
	got := c.Keys("production", d1, nil)
	if !slices.Equal(got, []string{"alpha", "checkout"}) {
		t.Fatalf("keys %q, want alpha and checkout (plain has no breaker block)", got)
	}
	if again := c.Keys("production", d1, nil); &again[0] != &got[0] {
		t.Error("the same Document's keys were computed again")
	}
	d2 := doc()
	if got := c.Keys("production", d2, nil); !slices.Equal(got, []string{"checkout"}) {
		t.Errorf("keys of a new Document %q, want checkout", got)
	}
	// A new Document with the same breaker flags (an edit elsewhere)
	// shares the sorted keys; one where a flag gains a breaker block, or
	// one breaker flag is swapped for another, does not.
	shared := c.Keys("production", d2, nil)
	d4 := doc()
	p := *d2.Flags.Get("plain")
	p.Name = "edited"
	d4.Flags = d4.Flags.With(map[string]*ruleset.Flag{"plain": &p})
	if again := c.Keys("production", d4, nil); &again[0] != &shared[0] || !slices.Equal(again, []string{"checkout"}) {
		t.Errorf("a Document with the same breaker flags: keys %q, sorted again %v", again, &again[0] != &shared[0])
	}
	withBreaker := *d2.Flags.Get("plain")
	withBreaker.Breaker = &b
	d5 := doc()
	d5.Flags = d5.Flags.With(map[string]*ruleset.Flag{"checkout": nil})
	d5.Flags = d5.Flags.With(map[string]*ruleset.Flag{"plain": &withBreaker})
	if got := c.Keys("production", d5, nil); !slices.Equal(got, []string{"plain"}) {
		t.Errorf("one breaker flag swapped for another: keys %q, want plain", got)
	}
	d6 := doc()
	d6.Flags = d6.Flags.With(map[string]*ruleset.Flag{"plain": &withBreaker})
	if got := c.Keys("production", d6, nil); !slices.Equal(got, []string{"checkout", "plain"}) {
		t.Errorf("a flag gained a breaker block: keys %q, want checkout and plain", got)
	}
	// With a Change from the cached Document, only the named flags are
	// looked at: an edit of a flag without a block keeps the keys, one
	// that gives a named flag a block does not.
	cur := c.Keys("production", d6, nil)
	d7 := doc()
	d7.Flags = d7.Flags.With(map[string]*ruleset.Flag{"plain": &withBreaker})
	d7.Flags = d7.Flags.With(map[string]*ruleset.Flag{"extra": &p})
	if again := c.Keys("production", d7, &ruleset.Change{Base: weak.Make(d6), Flags: []string{"extra"}}); &again[0] != &cur[0] {
		t.Errorf("an edit named by the Change that adds no block: keys %q computed again", again)
	}
	d8 := doc()
	d8.Flags = d8.Flags.With(map[string]*ruleset.Flag{"plain": &withBreaker})
	d8.Flags = d8.Flags.With(map[string]*ruleset.Flag{"extra": &withBreaker})
	if got := c.Keys("production", d8, &ruleset.Change{Base: weak.Make(d7), Flags: []string{"extra"}}); !slices.Equal(got, []string{"checkout", "extra", "plain"}) {
		t.Errorf("a named flag gained a block: keys %q, want checkout, extra and plain", got)
	}
	c.Forget(func(string) bool { return false })
	if len(c.m) != 0 {
		t.Errorf("Forget kept %d environments", len(c.m))
	}
}
