package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flagpole/flagpole/internal/redact"
	"github.com/flagpole/flagpole/ruleset"
)

// The bearer's limits on POST /v1/metrics: entries per batch, and calls
// per entry in each of success, failure and slow.
const (
	maxBatchEntries = 1000
	maxEntryCalls   = 1_000_000
	// maxBatchBytes keeps a batch well under the bearer's default body
	// limit (1 MiB) whatever the length of flag keys.
	maxBatchBytes = 256 << 10
)

// MetricsStats counts what a Client did with the outcomes it recorded
// (Record, Success, Failure, Guard) since New. Calls are successes plus
// failures.
type MetricsStats struct {
	// SentBatches and SentCalls were accepted by the bearer.
	SentBatches, SentCalls int64
	// Pending is the number of batches waiting to be sent (the bearer was
	// unreachable), at most Options.MetricsMaxPending.
	Pending int
	// DroppedBatches and DroppedCalls were dropped, oldest first, because
	// Pending would have gone over Options.MetricsMaxPending.
	DroppedBatches, DroppedCalls int64
	// RejectedBatches and RejectedCalls were refused by the bearer (an HTTP
	// 4xx other than 408 and 429: a wrong key, or a flag the bearer's rule
	// set no longer has); they are not sent again.
	RejectedBatches, RejectedCalls int64
	// UnknownCalls were recorded for flags not in the rule set served at
	// the time, and not counted.
	UnknownCalls int64
}

// counters are one flag's outcomes since the last batch. Each sits on its
// own cache line so that cores recording different flags do not contend.
type counters struct {
	success, failure, slow atomic.Int64
	_                      [40]byte
}

// reporter aggregates outcomes in memory and sends them in batches.
type reporter struct {
	c     *Client
	flags atomic.Pointer[map[string]*counters] // copy on write
	addMu sync.Mutex                           // serialises adding a flag

	mu      sync.Mutex // guards pending and seq
	pending []batch    // oldest first
	seq     uint64     // of the last batch queued

	sentBatches, sentCalls         atomic.Int64
	droppedBatches, droppedCalls   atomic.Int64
	rejectedBatches, rejectedCalls atomic.Int64
	unknownCalls                   atomic.Int64

	ctx   context.Context // the client's: cancelled by Close
	start sync.Once       // runs run, at the first call recorded
	done  chan struct{}   // closed when run returns (or by flush if it never ran)
}

// batch is one encoded POST /v1/metrics body.
type batch struct {
	seq   uint64
	body  []byte
	calls int64
}

func newReporter(ctx context.Context, c *Client) *reporter {
	r := &reporter{c: c, ctx: ctx, done: make(chan struct{})}
	empty := map[string]*counters{}
	r.flags.Store(&empty)
	return r
}

// Success records a successful call of the code path that flag guards.
func (c *Client) Success(flag string) { c.count(flag, false, false) }

// Failure records a failed call of the code path that flag guards.
func (c *Client) Failure(flag string) { c.count(flag, true, false) }

// Record records a call of the code path that flag guards: a success when
// err is nil, else a failure. It never blocks: counts add up in memory and
// a background goroutine sends them to the bearer every
// Options.MetricsInterval, for the breaker to compute the flag's error
// rate. Calls for a flag that the rule set served does not have are not
// counted (MetricsStats.UnknownCalls).
func (c *Client) Record(flag string, err error) { c.count(flag, err != nil, false) }

// MetricsStats returns the counters of outcome reporting.
func (c *Client) MetricsStats() MetricsStats {
	r := c.rep
	if r == nil {
		return MetricsStats{}
	}
	r.mu.Lock()
	pending := len(r.pending)
	r.mu.Unlock()
	return MetricsStats{
		SentBatches: r.sentBatches.Load(), SentCalls: r.sentCalls.Load(), Pending: pending,
		DroppedBatches: r.droppedBatches.Load(), DroppedCalls: r.droppedCalls.Load(),
		RejectedBatches: r.rejectedBatches.Load(), RejectedCalls: r.rejectedCalls.Load(),
		UnknownCalls: r.unknownCalls.Load(),
	}
}

// count adds one call to flag's counters: a map read and two atomic adds
// at most, no allocation once the flag has been seen.
func (c *Client) count(flag string, failed, slow bool) {
	r := c.rep
	if r == nil {
		return
	}
	fc := (*r.flags.Load())[flag]
	if fc == nil {
		if fc = r.add(flag); fc == nil {
			return
		}
	}
	if failed {
		fc.failure.Add(1)
	} else {
		fc.success.Add(1)
	}
	if slow {
		fc.slow.Add(1)
	}
}

// add returns the counters of flag, creating them if the rule set served
// has the flag, or nil (and counts the call as unknown) if it does not:
// the counters hold one entry per flag of a rule set, whatever callers
// pass.
func (r *reporter) add(flag string) *counters {
	snap := r.c.snap.Load()
	if snap == nil || snap.doc.Flags.Get(flag) == nil {
		r.unknownCalls.Add(1)
		return nil
	}
	r.addMu.Lock()
	defer r.addMu.Unlock()
	m := *r.flags.Load()
	if fc := m[flag]; fc != nil {
		return fc
	}
	next := make(map[string]*counters, len(m)+1)
	for k, v := range m {
		next[k] = v
	}
	fc := &counters{}
	next[flag] = fc
	r.flags.Store(&next)
	// The sender starts with the first call recorded, so that a client
	// that records nothing runs no ticker.
	r.start.Do(func() { go r.run(r.ctx) })
	return fc
}

// run sends a batch every MetricsInterval until ctx is done.
func (r *reporter) run(ctx context.Context) {
	defer close(r.done)
	t := r.c.clock.NewTicker(r.c.opts.MetricsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.Chan():
		}
		r.collect()
		r.send(ctx)
	}
}

// flush collects what is left and tries once to send every pending batch,
// within RequestTimeout: Close's last report.
func (r *reporter) flush() {
	r.start.Do(func() { close(r.done) }) // never started: nothing recorded
	<-r.done
	r.collect()
	ctx, cancel := context.WithTimeout(context.Background(), r.c.opts.RequestTimeout)
	defer cancel()
	r.send(ctx)
}

// collect takes the counts recorded since the last call and queues them as
// batches of at most maxBatchEntries entries.
func (r *reporter) collect() {
	snap := r.c.snap.Load()
	var b bytes.Buffer
	var calls int64
	entries := 0
	for flag, fc := range *r.flags.Load() {
		s, f, w := fc.success.Swap(0), fc.failure.Swap(0), fc.slow.Swap(0)
		if w > s+f {
			// A slow call whose success or failure is counted after this
			// swap: keep it for the next batch, which the bearer requires.
			fc.slow.Add(w - (s + f))
			w = s + f
		}
		if s+f == 0 {
			continue
		}
		if snap == nil || snap.doc.Flags.Get(flag) == nil {
			r.unknownCalls.Add(s + f) // removed from the rule set since
			continue
		}
		// The bearer takes at most maxEntryCalls per field of an entry;
		// more go in further entries of the same flag, which it adds up.
		for s+f > 0 {
			es, ef := min(s, maxEntryCalls), min(f, maxEntryCalls)
			ew := min(w, es+ef)
			s, f, w = s-es, f-ef, w-ew
			if entries == maxBatchEntries || b.Len() > maxBatchBytes {
				r.queue(finishBatch(&b), calls)
				b, calls, entries = bytes.Buffer{}, 0, 0
			}
			appendEntry(&b, entries, flag, es, ef, ew)
			calls += es + ef
			entries++
		}
	}
	if entries > 0 {
		r.queue(finishBatch(&b), calls)
	}
}

// appendEntry writes the i-th entry of a batch body.
func appendEntry(b *bytes.Buffer, i int, flag string, s, f, w int64) {
	if i == 0 {
		b.WriteString(`{"counts":[`)
	} else {
		b.WriteByte(',')
	}
	key, _ := json.Marshal(flag) // a string always encodes
	b.WriteString(`{"flag":`)
	b.Write(key)
	var num [20]byte
	for _, n := range []struct {
		name string
		v    int64
	}{{`,"success":`, s}, {`,"failure":`, f}, {`,"slow":`, w}} {
		b.WriteString(n.name)
		b.Write(strconv.AppendInt(num[:0], n.v, 10))
	}
	b.WriteByte('}')
}

func finishBatch(b *bytes.Buffer) []byte {
	b.WriteString("]}")
	return b.Bytes()
}

// queue appends a batch, dropping the oldest beyond MetricsMaxPending.
func (r *reporter) queue(body []byte, calls int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.pending = append(r.pending, batch{seq: r.seq, body: body, calls: calls})
	for len(r.pending) > r.c.opts.MetricsMaxPending {
		r.droppedBatches.Add(1)
		r.droppedCalls.Add(r.pending[0].calls)
		r.pending[0] = batch{}
		r.pending = r.pending[1:]
	}
}

// send posts pending batches, oldest first, until one fails to reach the
// bearer (it stays for the next round).
func (r *reporter) send(ctx context.Context) {
	for {
		r.mu.Lock()
		if len(r.pending) == 0 {
			r.mu.Unlock()
			return
		}
		b := r.pending[0]
		r.mu.Unlock()
		retry, err := r.post(ctx, b.body)
		if retry {
			r.c.log.Debug("flagpole: sending outcome counts; keeping them for the next round",
				"url", redact.URL(r.c.opts.URL), "err", err)
			return
		}
		r.mu.Lock()
		// queue may have dropped b meanwhile, as the oldest.
		if len(r.pending) > 0 && r.pending[0].seq == b.seq {
			r.pending[0] = batch{}
			r.pending = r.pending[1:]
		}
		r.mu.Unlock()
		if err != nil {
			r.rejectedBatches.Add(1)
			r.rejectedCalls.Add(b.calls)
			r.c.log.Warn("flagpole: the bearer refused outcome counts; dropped them", "err", err)
			continue
		}
		r.sentBatches.Add(1)
		r.sentCalls.Add(b.calls)
	}
}

// post sends one batch. It reports whether to try again later (the bearer
// was unreachable or busy) and, when not accepted, why.
func (r *reporter) post(ctx context.Context, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.c.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.c.opts.URL+"/v1/metrics", bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("building the metrics request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+r.c.opts.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.c.opts.HTTPClient.Do(req)
	if err != nil {
		return true, redactErr(err, r.c.opts.URL)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	switch {
	case resp.StatusCode == http.StatusOK:
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("POST /v1/metrics: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return false, fmt.Errorf("POST /v1/metrics: %s: %s", resp.Status, bytes.TrimSpace(msg))
}

// redactErr strips credentials of url from err's text.
func redactErr(err error, url string) error {
	return fmt.Errorf("%s", redact.Text(err.Error(), url))
}

// slowDuration returns f's breaker slow duration, or 0 when it has none.
func slowDuration(f *ruleset.Flag) time.Duration {
	if f == nil || f.Breaker == nil || f.Breaker.Slow == nil {
		return 0
	}
	return time.Duration(f.Breaker.Slow.Duration)
}

// slowAfter returns the breaker's slow duration of flag in the rule set
// served, or 0 when it has none (then no call is counted slow).
func (s *snapshot) slowAfter(flag string) time.Duration { return s.slow[flag] }
