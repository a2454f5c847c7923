package store

import (
	"context"
	"time"
)

// Counts are outcome counts that SDKs report for one flag: calls of its
// code path that succeeded, failed, and took at least the breaker's slow
// duration (a slow call is also a success or a failure).
type Counts struct {
	Success int64 `json:"success"`
	Failure int64 `json:"failure"`
	Slow    int64 `json:"slow"`
}

// Total is the number of calls counted.
func (c Counts) Total() int64 { return c.Success + c.Failure }

// Add returns the sum of c and d.
func (c Counts) Add(d Counts) Counts {
	return Counts{Success: c.Success + d.Success, Failure: c.Failure + d.Failure, Slow: c.Slow + d.Slow}
}

// MetricsBucket is the width of the time buckets counts are added into.
const MetricsBucket = time.Second

// Metrics is where bearers add the outcome counts SDKs report and where the
// breaker reads them back as sliding windows. Counts go into one bucket per
// MetricsBucket per environment and flag; a bucket expires some time after
// the longest window anyone reads, so a store holds a bounded amount.
type Metrics interface {
	// AddCounts adds counts (by flag key) into the bucket that holds at.
	AddCounts(ctx context.Context, env string, at time.Time, counts map[string]Counts) error
	// WindowCounts returns, by flag key, the sums of the buckets in
	// (now-window, now]; flags with no counts are absent.
	WindowCounts(ctx context.Context, env string, now time.Time, window time.Duration) (map[string]Counts, error)
}
