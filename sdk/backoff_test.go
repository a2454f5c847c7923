package sdk

import (
	"testing"
	"time"
)

func TestBackoffFullJitter(t *testing.T) {
	b := newBackoff(500*time.Millisecond, 30*time.Second)
	var ceilings []time.Duration
	b.rand = func(n int64) int64 { ceilings = append(ceilings, time.Duration(n)); return n - 1 }
	for range 9 {
		b.next()
	}
	want := []time.Duration{
		500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second,
	}
	for i := range want {
		if ceilings[i] != want[i] {
			t.Errorf("attempt %d: ceiling %s, want %s", i, ceilings[i], want[i])
		}
	}
	b.reset()
	b.next()
	if got := ceilings[len(ceilings)-1]; got != 500*time.Millisecond {
		t.Errorf("after reset: ceiling %s, want 500ms", got)
	}
	for range 100 {
		b.next() // must not overflow however many failures
	}
	if got := ceilings[len(ceilings)-1]; got != 30*time.Second {
		t.Errorf("after 100 failures: ceiling %s, want 30s", got)
	}
}

func TestBackoffRealRandomStaysInRange(t *testing.T) {
	b := newBackoff(10*time.Millisecond, 80*time.Millisecond)
	for i := range 50 {
		if d := b.next(); d < 0 || d >= 80*time.Millisecond {
			t.Fatalf("attempt %d: delay %s outside [0, 80ms)", i, d)
		}
	}
}
