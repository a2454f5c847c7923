package sdk

import (
	"math/rand/v2"
	"time"
)

// backoff computes reconnect delays with exponential growth and full jitter
// (AWS architecture blog, "Exponential Backoff And Jitter"): the n-th
// consecutive failure waits a uniformly random time in [0, min(max, min*2^n)).
type backoff struct {
	min, max time.Duration
	attempt  int
	rand     func(n int64) int64 // rand.Int64N; replaceable in tests
}

func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max, rand: rand.Int64N}
}

// next returns the delay before the next attempt and counts the failure.
func (b *backoff) next() time.Duration {
	ceil := b.max
	if b.attempt < 32 { // beyond that the shift overflows; max applies anyway
		if d := b.min << b.attempt; d > 0 && d < ceil {
			ceil = d
		}
	}
	b.attempt++
	if ceil <= 0 {
		return 0
	}
	return time.Duration(b.rand(int64(ceil)))
}

// reset starts the growth over after a success.
func (b *backoff) reset() { b.attempt = 0 }
