// Package backoff computes retry delays: exponential growth from a minimum,
// capped at a maximum, with jitter so that many clients that failed together
// do not retry together. Every reconnect and retry loop of the project (the
// SDK stream, the bearer's store watch, the Redis watcher, the git poller)
// uses it.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy is a retry schedule. The zero value retries at once.
type Policy struct {
	// Min is the delay ceiling of the first retry.
	Min time.Duration
	// Max caps the delay ceiling; zero means Min.
	Max time.Duration
	// Full selects full jitter, a uniform delay in [0, ceiling) (spreads a
	// thundering herd best; AWS architecture blog, "Exponential Backoff And
	// Jitter"). Otherwise the delay is uniform in [ceiling/2, ceiling], so a
	// retry never comes sooner than half the ceiling.
	Full bool
	// Rand returns a uniform int64 in [0, n); nil means math/rand/v2.Int64N.
	// Tests replace it to make delays exact.
	Rand func(n int64) int64
}

// Ceiling is the largest delay of retry number n (1-based): Min doubled n-1
// times, capped at Max.
func (p Policy) Ceiling(n int) time.Duration {
	hi := p.Max
	if hi < p.Min {
		hi = p.Min
	}
	d := p.Min
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// Delay returns the jittered delay before retry number n (1-based).
func (p Policy) Delay(n int) time.Duration {
	ceil := p.Ceiling(n)
	if ceil <= 0 {
		return 0
	}
	rnd := p.Rand
	if rnd == nil {
		rnd = rand.Int64N
	}
	if p.Full {
		return time.Duration(rnd(int64(ceil)))
	}
	half := ceil / 2
	return half + time.Duration(rnd(int64(ceil-half)+1))
}

// Counter pairs a Policy with a count of consecutive failures.
type Counter struct {
	Policy
	failures int
}

// Next counts a failure and returns the delay before the next attempt.
func (c *Counter) Next() time.Duration {
	c.failures++
	return c.Delay(c.failures)
}

// Failures is the number of consecutive failures counted so far.
func (c *Counter) Failures() int { return c.failures }

// Reset starts the growth over after a success.
func (c *Counter) Reset() { c.failures = 0 }
