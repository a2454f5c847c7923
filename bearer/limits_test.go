package bearer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/store"
)

// Streams over the per-key or per-address cap get a JSON 429; closing one
// frees its place at once (the bearer notices the closed peer).
func TestStreamCaps(t *testing.T) {
	f := newFixture(t, Options{MaxStreamsPerKey: 2, MaxStreamsPerAddr: 3}, testDoc("production", "v1"))
	open := func(path, key string) (*http.Response, httpx.ErrorBody) {
		t.Helper()
		req, _ := http.NewRequest("GET", f.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := (&http.Transport{}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		var e httpx.ErrorBody
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			e = decode[httpx.ErrorBody](t, b)
		}
		return resp, e
	}
	const evaluated = "/v1/stream/evaluated"
	first, _ := open(evaluated, clientKey)
	if r, _ := open(evaluated, clientKey); r.StatusCode != 200 {
		t.Fatalf("2nd stream of the client key: %d", r.StatusCode)
	}
	r, e := open(evaluated, clientKey)
	if r.StatusCode != http.StatusTooManyRequests || e.Error.Code != codeTooManyStreams || !strings.Contains(e.Error.Message, "2 open streams") {
		t.Fatalf("3rd stream of the client key: %d %+v", r.StatusCode, e)
	}
	if r, _ := open("/v1/stream", serverKey); r.StatusCode != 200 {
		t.Fatalf("a stream of another key: %d", r.StatusCode)
	}
	r, e = open("/v1/stream", serverKey)
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(e.Error.Message, "address has 3 open streams") {
		t.Fatalf("4th stream of the address: %d %+v", r.StatusCode, e)
	}
	first.Body.Close()
	deadline := time.Now().Add(waitFor)
	for f.srv.hub("production").streams.Load() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("closed stream still counted after %s", waitFor)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r, _ := open(evaluated, clientKey); r.StatusCode != 200 {
		t.Fatalf("stream after one was closed: %d", r.StatusCode)
	}
}

// BenchmarkStreamChurn opens and closes b.N evaluated streams with the
// client key, one after the other, through the bearer's own listener and
// http.Server, while another client polls /healthz. It reports the
// descriptors and streams left open afterwards, the process RSS, and the
// worst and p99 /healthz latency during the churn. BENCHMARKS.md records
// -benchtime 24000x.
func BenchmarkStreamChurn(b *testing.B) {
	mem := store.NewMemory()
	if err := mem.Publish(context.Background(), snapshot(testDoc("production", "v1"))); err != nil {
		b.Fatal(err)
	}
	srv, err := New(Options{Store: mem})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := srv.HTTPServer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	go func() { _ = hs.Serve(srv.Listener(ln)) }()
	defer func() { cancel(); <-done; _ = hs.Close() }()
	for srv.hub("production") == nil {
		time.Sleep(time.Millisecond)
	}
	addr := ln.Addr().String()
	fdsBefore := countFDs()

	stop := make(chan struct{})
	var lat []time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		hc := &http.Client{Timeout: waitFor}
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			start := time.Now()
			resp, err := hc.Get("http://" + addr + "/healthz")
			if err != nil {
				lat = append(lat, waitFor)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(start))
		}
	}()
	b.ResetTimer()
	for range b.N {
		if err := churnOnce(addr); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	deadline := time.Now().Add(waitFor)
	for srv.hub("production").streams.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(srv.hub("production").streams.Load()), "streams-left")
	b.ReportMetric(float64(countFDs()-fdsBefore), "fds-grown")
	b.ReportMetric(float64(rssBytes())/(1<<20), "RSS-MiB")
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "healthz-max-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "healthz-p99-ms")
	}
}

// churnOnce opens an evaluated stream with the client key, reads its first
// put and closes the connection.
func churnOnce(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitFor))
	fmt.Fprintf(c, "GET /v1/stream/evaluated HTTP/1.1\r\nHost: bearer\r\nAuthorization: Bearer %s\r\n\r\n", clientKey)
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("reading the stream: %w", err)
		}
		if strings.HasPrefix(line, "HTTP/1.1 ") && !strings.HasPrefix(line, "HTTP/1.1 200") {
			return fmt.Errorf("stream refused: %s", line)
		}
		if strings.HasPrefix(line, "event: put") {
			return nil
		}
	}
}

// countFDs returns the open descriptors of this process (Linux), or 0.
func countFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// rssBytes returns this process's resident set size (Linux), or 0.
func rssBytes() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			_, _ = fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}
