package bearer

import (
	"slices"
	"testing"
)

// Environments load in the order of their open streams, most first, so
// that a change to every environment reaches most streams soonest; ties
// and environments without a hub go by name.
func TestByDemand(t *testing.T) {
	s := &Server{}
	hubs := map[string]*hub{"alpha": {}, "beta": {}, "gamma": {}, "delta": {}}
	hubs["beta"].streams.Store(5)
	hubs["gamma"].streams.Store(5)
	hubs["delta"].streams.Store(1)
	s.hubs.Store(&hubs)
	got := s.byDemand([]string{"alpha", "new", "gamma", "delta", "beta"})
	if want := []string{"beta", "gamma", "delta", "alpha", "new"}; !slices.Equal(got, want) {
		t.Fatalf("byDemand = %v, want %v", got, want)
	}
}
