package sdk

import (
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/backoff"
)

func TestReconnectFullJitter(t *testing.T) {
	p := reconnectPolicy(Options{ReconnectMin: 500 * time.Millisecond, ReconnectMax: 30 * time.Second})
	var ceilings []time.Duration
	p.Rand = func(n int64) int64 { ceilings = append(ceilings, time.Duration(n)); return n - 1 }
	b := backoff.Counter{Policy: p}
	for range 9 {
		b.Next()
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
	b.Reset()
	b.Next()
	if got := ceilings[len(ceilings)-1]; got != 500*time.Millisecond {
		t.Errorf("after reset: ceiling %s, want 500ms", got)
	}
	for range 100 {
		b.Next() // must not overflow however many failures
	}
	if got := ceilings[len(ceilings)-1]; got != 30*time.Second {
		t.Errorf("after 100 failures: ceiling %s, want 30s", got)
	}
}

func TestReconnectRealRandomStaysInRange(t *testing.T) {
	b := backoff.Counter{Policy: reconnectPolicy(Options{ReconnectMin: 10 * time.Millisecond, ReconnectMax: 80 * time.Millisecond})}
	for i := range 50 {
		if d := b.Next(); d < 0 || d >= 80*time.Millisecond {
			t.Fatalf("attempt %d: delay %s outside [0, 80ms)", i, d)
		}
	}
}
