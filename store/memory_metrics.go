package store

import (
	"context"
	"sync"
	"time"
)

// MetricsRetention is how long a store keeps a bucket of outcome counts
// after the time it holds: windows longer than this see only its last
// MetricsRetention. The breaker's windows are a minute or so; an hour
// leaves room for the dashboard's history while bounding what a store holds
// (at most 3,600 buckets per environment).
const MetricsRetention = time.Hour

var _ Metrics = (*Memory)(nil)

// memMetrics holds a Memory's metric buckets, apart from its snapshots so
// that ingest never waits on a publish.
type memMetrics struct {
	mu   sync.Mutex
	envs map[string]*envBuckets
}

// envBuckets are one environment's buckets by their start (Unix seconds),
// and the newest start seen, which expiry is measured from.
type envBuckets struct {
	buckets map[int64]map[string]Counts
	newest  int64
}

// bucketOf returns the start, in Unix seconds, of the bucket holding t.
func bucketOf(t time.Time) int64 { return t.Unix() }

// windowBuckets returns the first and last bucket of the window ending at
// now: whole buckets, the last one the bucket holding now, as many as the
// window spans (at least one).
func windowBuckets(now time.Time, window time.Duration) (first, last int64) {
	n := int64((window + MetricsBucket - 1) / MetricsBucket)
	if n < 1 {
		n = 1
	}
	last = bucketOf(now)
	return last - n + 1, last
}

// AddCounts implements Metrics. Buckets older than MetricsRetention before
// the newest bucket added to are dropped as counts arrive.
func (m *Memory) AddCounts(_ context.Context, env string, at time.Time, counts map[string]Counts) error {
	if len(counts) == 0 {
		return nil
	}
	b := bucketOf(at)
	mm := &m.metrics
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.envs == nil {
		mm.envs = map[string]*envBuckets{}
	}
	e := mm.envs[env]
	if e == nil {
		e = &envBuckets{buckets: map[int64]map[string]Counts{}, newest: b}
		mm.envs[env] = e
	}
	if b > e.newest {
		e.newest = b
		e.expire()
	}
	if b <= e.newest-int64(MetricsRetention/MetricsBucket) {
		return nil // already expired
	}
	bucket := e.buckets[b]
	if bucket == nil {
		bucket = make(map[string]Counts, len(counts))
		e.buckets[b] = bucket
	}
	for flag, c := range counts {
		if c != (Counts{}) {
			bucket[flag] = bucket[flag].Add(c)
		}
	}
	return nil
}

// expire drops the buckets that fell out of MetricsRetention.
func (e *envBuckets) expire() {
	oldest := e.newest - int64(MetricsRetention/MetricsBucket)
	for b := range e.buckets {
		if b <= oldest {
			delete(e.buckets, b)
		}
	}
}

// WindowCounts implements Metrics.
func (m *Memory) WindowCounts(_ context.Context, env string, now time.Time, window time.Duration) (map[string]Counts, error) {
	first, last := windowBuckets(now, window)
	out := map[string]Counts{}
	mm := &m.metrics
	mm.mu.Lock()
	defer mm.mu.Unlock()
	e := mm.envs[env]
	if e == nil {
		return out, nil
	}
	if first <= e.newest-int64(MetricsRetention/MetricsBucket) {
		first = e.newest - int64(MetricsRetention/MetricsBucket) + 1
	}
	if last-first+1 < int64(len(e.buckets)) {
		for b := first; b <= last; b++ {
			for flag, c := range e.buckets[b] {
				out[flag] = out[flag].Add(c)
			}
		}
		return out, nil
	}
	for b, bucket := range e.buckets {
		if b >= first && b <= last {
			for flag, c := range bucket {
				out[flag] = out[flag].Add(c)
			}
		}
	}
	return out, nil
}
