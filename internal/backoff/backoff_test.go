package backoff

import (
	"testing"
	"time"
)

func TestCeiling(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := p.Ceiling(i + 1); got != w*time.Millisecond {
			t.Errorf("Ceiling(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := (Policy{Min: time.Second}).Ceiling(50); got != time.Second {
		t.Errorf("Max 0: Ceiling(50) = %v, want Min", got)
	}
	if got := (Policy{Min: time.Hour, Max: 1 << 62}).Ceiling(1000); got != 1<<62 {
		t.Errorf("no overflow: Ceiling(1000) = %v", got)
	}
}

func TestDelayBounds(t *testing.T) {
	lo := func(n int64) int64 { return 0 }
	hi := func(n int64) int64 { return n - 1 }
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second, Rand: lo}
	if got := p.Delay(3); got != 200*time.Millisecond {
		t.Errorf("half jitter, lowest draw: %v, want 200ms", got)
	}
	p.Rand = hi
	if got := p.Delay(3); got != 400*time.Millisecond {
		t.Errorf("half jitter, highest draw: %v, want 400ms", got)
	}
	p.Full, p.Rand = true, lo
	if got := p.Delay(3); got != 0 {
		t.Errorf("full jitter, lowest draw: %v, want 0", got)
	}
	p.Rand = hi
	if got := p.Delay(3); got != 400*time.Millisecond-1 {
		t.Errorf("full jitter, highest draw: %v", got)
	}
	if got := (Policy{}).Delay(5); got != 0 {
		t.Errorf("zero policy: %v, want 0", got)
	}
	// The real generator stays within bounds.
	p = Policy{Min: time.Millisecond, Max: 8 * time.Millisecond}
	for n := 1; n < 200; n++ {
		c := p.Ceiling(n)
		if d := p.Delay(n); d < c/2 || d > c {
			t.Fatalf("Delay(%d) = %v outside [%v, %v]", n, d, c/2, c)
		}
	}
}

func TestCounter(t *testing.T) {
	c := Counter{Policy: Policy{Min: 10 * time.Millisecond, Max: 40 * time.Millisecond, Full: true, Rand: func(n int64) int64 { return n - 1 }}}
	for _, w := range []time.Duration{10, 20, 40, 40} {
		if got := c.Next(); got != w*time.Millisecond-1 {
			t.Errorf("Next = %v, want %v", got, w*time.Millisecond-1)
		}
	}
	if c.Failures() != 4 {
		t.Errorf("Failures = %d, want 4", c.Failures())
	}
	c.Reset()
	if got := c.Next(); got != 10*time.Millisecond-1 {
		t.Errorf("after Reset: %v", got)
	}
}
