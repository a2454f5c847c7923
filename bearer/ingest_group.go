package bearer

import (
	"context"
	"sync"
	"time"

	"github.com/flagpole/flagpole/store"
)

// groupAdder adds batches to a store.Metrics with group commit: while one
// write to the store is in flight, the batches that arrive are summed, by
// environment and bucket, and written together by the next one. An idle
// bearer writes each batch at once; a busy one makes one store round trip
// for many SDKs' batches, which mostly count the same flags. Every request
// waits for the write that holds its batch and gets its error, so a batch
// is acknowledged only once it is in the store.
type groupAdder struct {
	m       store.Metrics
	timeout time.Duration // of one write

	mu   sync.Mutex
	next *addGroup // collecting; nil when nothing waits
	busy bool      // a writer goroutine runs
}

// addGroup is the batches of one write.
type addGroup struct {
	counts map[bucketKey]map[string]store.Counts
	done   chan struct{} // closed once written; then err is set
	err    error
}

type bucketKey struct {
	env string
	sec int64
}

func newGroupAdder(m store.Metrics, timeout time.Duration) *groupAdder {
	return &groupAdder{m: m, timeout: timeout}
}

// add adds counts of env at at with the next write and waits for it.
func (a *groupAdder) add(env string, at time.Time, counts map[string]store.Counts) error {
	k := bucketKey{env, at.Unix()}
	a.mu.Lock()
	g := a.next
	if g == nil {
		g = &addGroup{counts: map[bucketKey]map[string]store.Counts{}, done: make(chan struct{})}
		a.next = g
	}
	if sum := g.counts[k]; sum == nil {
		g.counts[k] = counts // the caller hands counts over
	} else {
		for flag, c := range counts {
			sum[flag] = sum[flag].Add(c)
		}
	}
	if !a.busy {
		a.busy = true
		go a.write()
	}
	a.mu.Unlock()
	<-g.done
	return g.err
}

// write writes groups until none waits. A group spanning several buckets
// (environments, or a second's turn) is several store calls; the first
// error fails the whole group, some of which may have been added.
func (a *groupAdder) write() {
	for {
		a.mu.Lock()
		g := a.next
		a.next = nil
		if g == nil {
			a.busy = false
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
		for k, counts := range g.counts {
			if err := a.m.AddCounts(ctx, k.env, time.Unix(k.sec, 0), counts); err != nil && g.err == nil {
				g.err = err
			}
		}
		cancel()
		close(g.done)
	}
}
