package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Fan-out targets of BENCHMARKS.md.
const (
	fanoutTarget     = time.Second
	perConnTarget    = 30 * 1024 // bytes
	connectParallel  = 64        // connections being opened at once
	fanoutSettleTime = 2 * time.Second
)

// round is one change being waited for by every stream.
type round struct {
	at   []atomic.Int64 // when stream i saw it, Unix ns; 0 = not yet
	left atomic.Int64
	done chan struct{}
}

// fleet is n SSE readers of one bearer.
type fleet struct {
	readers []*sseReader
	current atomic.Pointer[round]
	dropped atomic.Int64 // streams that ended before the bench closed them
	patches atomic.Int64 // patch events received after the first put
	puts    atomic.Int64 // put events received after the first put (resyncs)
	closing atomic.Bool
	wg      sync.WaitGroup
}

// connect opens n streams, each waiting for its `put`, connectParallel at
// a time, and starts their read loops.
func (f *fleet) connect(ctx context.Context, addr string, n int, timeout time.Duration) error {
	f.readers = make([]*sseReader, n)
	sem := make(chan struct{}, connectParallel)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		if ctx.Err() != nil || len(errs) > 0 { // interrupted, or a stream failed
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s, err := dialStream(addr, prodServerKey, timeout)
			if err == nil {
				err = firstPut(s, timeout)
			}
			if err != nil {
				errs <- fmt.Errorf("stream %d: %w", i+1, err)
				return
			}
			f.readers[i] = s
			f.wg.Add(1)
			go f.read(i, s)
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	return nil
}

// firstPut waits for the stream's first event, which must be a put.
func firstPut(s *sseReader, timeout time.Duration) error {
	_ = s.conn.SetReadDeadline(time.Now().Add(timeout))
	ev, err := s.next()
	if err != nil {
		s.close()
		return fmt.Errorf("waiting for the put: %w", err)
	}
	_ = s.conn.SetReadDeadline(time.Time{})
	if ev.name != "put" {
		s.close()
		return fmt.Errorf("first event is %q, want put", ev.name)
	}
	return nil
}

// read notes when stream i sees an event during a round.
func (f *fleet) read(i int, s *sseReader) {
	defer f.wg.Done()
	for {
		ev, err := s.next()
		if err != nil {
			if !f.closing.Load() {
				f.dropped.Add(1)
			}
			return
		}
		switch ev.name {
		case "patch":
			f.patches.Add(1)
		case "put":
			f.puts.Add(1)
		default:
			continue
		}
		if r := f.current.Load(); r != nil && r.at[i].CompareAndSwap(0, time.Now().UnixNano()) {
			if r.left.Add(-1) == 0 {
				close(r.done)
			}
		}
	}
}

// measure starts a round, makes the change and waits until every stream
// has seen it. It returns each stream's latency (streams that never saw it
// are left out) and an error naming how many are missing on timeout.
func (f *fleet) measure(ctx context.Context, do func() error, timeout time.Duration) ([]time.Duration, error) {
	r := &round{at: make([]atomic.Int64, len(f.readers)), done: make(chan struct{})}
	r.left.Store(int64(len(f.readers)))
	f.current.Store(r)
	defer f.current.Store(nil)
	start := time.Now()
	if err := do(); err != nil {
		return nil, err
	}
	var err error
	select {
	case <-r.done:
	case <-time.After(timeout):
		err = fmt.Errorf("%d of %d streams did not get the change within %s (%d streams dropped)",
			r.left.Load(), len(f.readers), timeout, f.dropped.Load())
	case <-ctx.Done():
		err = errInterrupted
	}
	lat := make([]time.Duration, 0, len(f.readers))
	for i := range r.at {
		if ns := r.at[i].Load(); ns != 0 {
			lat = append(lat, time.Unix(0, ns).Sub(start))
		}
	}
	return lat, err
}

// close ends every stream and waits for the read loops.
func (f *fleet) close() {
	f.closing.Store(true)
	for _, s := range f.readers {
		if s != nil {
			s.close()
		}
	}
	f.wg.Wait()
}

// raiseNoFile raises the soft open-files limit to the hard one (children
// inherit it) and returns the new soft limit.
func raiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("raising RLIMIT_NOFILE to %d: %w", lim.Max, err)
		}
	}
	return lim.Cur, nil
}

// runFanout measures, for each size in cfg.fanout, how long a change takes
// to reach every one of N SSE streams on one flagpole serve, and what each
// idle stream costs the server in memory.
func runFanout(ctx context.Context, cfg *config) ([]*report, error) {
	limit, err := raiseNoFile()
	if err != nil {
		return nil, err
	}
	var reports []*report
	for _, n := range cfg.fanout {
		if uint64(n)+256 > limit {
			return reports, fmt.Errorf("fan-out of %d needs %d open files in this process and the server; the limit is %d", n, n+256, limit)
		}
		r, err := fanoutOnce(ctx, cfg, n)
		if r != nil {
			reports = append(reports, r)
		}
		if err != nil {
			return reports, fmt.Errorf("fan-out of %d: %w", n, err)
		}
	}
	return reports, nil
}

// fanoutOnce runs the fan-out scenario with n streams.
func fanoutOnce(ctx context.Context, cfg *config, n int) (*report, error) {
	repo, tog, cleanup, err := exampleCopy(cfg, "fanout")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var g group
	defer g.stopAll()
	srv, err := startFlagpole(cfg.bin, "flagpole serve", "serve", "--repo", repo)
	if err != nil {
		return nil, err
	}
	g.add(srv)
	if err := waitReady(ctx, srv.URL()); err != nil {
		return nil, err
	}
	before := sampleMemory(srv)

	var f fleet
	defer f.close()
	connStart := time.Now()
	if err := f.connect(ctx, srv.addr, n, cfg.wait); err != nil {
		return nil, fmt.Errorf("connecting: %w%s", err, aliveNote(&g))
	}
	connDur := time.Since(connStart)
	if err := sleep(ctx, fanoutSettleTime); err != nil {
		return nil, err
	}
	after := sampleMemory(srv)

	r := newReport(fmt.Sprintf("fanout: one change → all of N = %d SSE streams (flagpole serve, GET /v1/stream, server key)", n))
	r.add("setup", "%d raw SSE readers in the bench process (sharing the CPUs with the server), opened %d at a time; %d change(s) of %s", n, connectParallel, cfg.rounds, editFlag)
	r.add("connect", "%d streams opened and got their put in %.2f s (%.0f/s)", n, connDur.Seconds(), float64(n)/connDur.Seconds())
	var worst time.Duration
	for i := range cfg.rounds {
		lat, err := f.measure(ctx, tog.write, cfg.wait)
		q := r.latency(fmt.Sprintf("change %d", i+1), lat)
		worst = max(worst, q.max)
		if err != nil {
			return r, fmt.Errorf("change %d: %w%s", i+1, err, aliveNote(&g))
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return r, err
		}
	}
	r.add("events", "%d patch and %d put events after the first put; %d streams ended early", f.patches.Load(), f.puts.Load(), f.dropped.Load())
	perConn := memoryReport(r, before, after, n)
	r.target("all streams within 1 s", "BENCHMARKS.md", worst <= fanoutTarget, "slowest stream "+ms(worst)+" (worst change)")
	if perConn >= 0 {
		r.target("≤ 30 KB per connection", "BENCHMARKS.md, server RSS delta / N", perConn <= perConnTarget, kib(perConn))
	}
	return r, nil
}

// memSample is a server's memory at one moment.
type memSample struct {
	rss, heap, goroutines float64 // -1 when unavailable
}

// sampleMemory reads the server's RSS and, from /metrics, its Go heap in
// use and goroutine count.
func sampleMemory(p *proc) memSample {
	s := memSample{rss: -1, heap: -1, goroutines: -1}
	if rss, err := p.RSS(); err == nil {
		s.rss = float64(rss)
	}
	m, err := scrapeMetrics(p.URL(), "go_memstats_heap_inuse_bytes", "go_goroutines")
	if err == nil {
		s.heap, s.goroutines = m["go_memstats_heap_inuse_bytes"], m["go_goroutines"]
	}
	return s
}

// memoryReport adds the memory lines and returns RSS per connection in
// bytes (-1 when unavailable).
func memoryReport(r *report, before, after memSample, n int) float64 {
	per := func(a, b float64) float64 { return (b - a) / float64(n) }
	perConn := -1.0
	if before.rss >= 0 && after.rss >= 0 {
		perConn = per(before.rss, after.rss)
		r.add("server RSS", "%s before, %s with %d streams: %s per connection", mib(int64(before.rss)), mib(int64(after.rss)), n, kib(perConn))
	}
	if before.heap >= 0 && after.heap >= 0 {
		r.add("server Go heap", "in use %s before, %s after: %s per connection", mib(int64(before.heap)), mib(int64(after.heap)), kib(per(before.heap, after.heap)))
		r.add("server goroutines", "%.0f before, %.0f after: %.2f per connection", before.goroutines, after.goroutines, per(before.goroutines, after.goroutines))
	}
	return perConn
}

// scrapeMetrics reads the named unlabelled metrics from a Prometheus
// text endpoint.
func scrapeMetrics(base string, names ...string) (map[string]float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: status %d", resp.StatusCode)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || !want[name] {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = v
		}
	}
	if len(out) != len(want) {
		return nil, fmt.Errorf("GET /metrics: found %d of the metrics %v", len(out), names)
	}
	return out, sc.Err()
}

// waitReady polls /readyz until the server has its first rule set.
func waitReady(ctx context.Context, base string) error {
	return waitReadyWithin(ctx, base, startTimeout)
}

// waitReadyWithin is waitReady with its own bound, for large repositories.
func waitReadyWithin(ctx context.Context, base string, startTimeout time.Duration) error {
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/readyz not 200 within %s (last: %v)", base, startTimeout, firstErr(err))
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}
