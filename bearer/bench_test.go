package bearer

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

var fanoutClients = flag.Int("fanout", 200, "SSE clients in TestFanout")

// doc100 is a production rule set of 100 flags of every shape: static,
// allow lists, 3-condition audiences, rollouts; a quarter are client flags.
func doc100(version string) *ruleset.Document {
	doc := &ruleset.Document{
		Version: version, Environment: "production", Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{}),
		Audiences: map[string]*ruleset.Audience{"west-coast-students": {
			Key: "west-coast-students",
			Conditions: []ruleset.Condition{
				{Attribute: "state", Type: ruleset.AttrString, Operator: ruleset.OpIn,
					Values: []json.RawMessage{json.RawMessage(`"CA"`), json.RawMessage(`"WA"`), json.RawMessage(`"OR"`)}},
				{Attribute: "student", Type: ruleset.AttrBoolean, Operator: ruleset.OpEq, Values: []json.RawMessage{json.RawMessage(`true`)}},
				{Attribute: "age", Type: ruleset.AttrNumber, Operator: ruleset.OpLt, Values: []json.RawMessage{json.RawMessage(`30`)}},
			},
		}},
	}
	for i := range 100 {
		key := fmt.Sprintf("flag-%03d", i)
		fl := &ruleset.Flag{Key: key, Client: i%4 == 0, Type: ruleset.TypeBoolean, Variants: boolVariants(),
			Enabled: true, Off: "off", Default: "off", Description: "benchmark flag " + key}
		switch i % 4 {
		case 1:
			fl.Rules = []ruleset.Rule{{Users: []string{"audrey", "rob", "user-7"}, Serve: "on"}}
		case 2:
			fl.Rules = []ruleset.Rule{{Audiences: []string{"west-coast-students"}, Serve: "on"}}
		case 3:
			fl.Rules = []ruleset.Rule{{Rollout: []ruleset.Weight{{Variant: "on", Weight: 25000}, {Variant: "off", Weight: 75000}}}}
		}
		doc.Flags = doc.Flags.With(map[string]*ruleset.Flag{key: fl})
	}
	return doc
}

// BenchmarkEvaluate100 measures POST /v1/evaluate with 100 flags through
// the handler over loopback, with parallel clients in the same process.
func BenchmarkEvaluate100(b *testing.B) {
	_, _, url := benchServer(b, doc100("v1"))
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	body := []byte(`{"context":{"key":"user-7","state":"CA","student":true,"age":21}}`)
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.ReportMetric(float64(b.N)/postParallel(b, client, url+"/v1/evaluate", body), "req/s")
}

// postParallel posts body to url with the server key b.N times from
// parallel goroutines, fails unless every answer is 200, and returns the
// seconds it took.
func postParallel(b *testing.B, client *http.Client, url string, body []byte) float64 {
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+serverKey)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	return time.Since(start).Seconds()
}

// benchServer starts a bearer serving doc on a real loopback listener.
func benchServer(tb testing.TB, doc *ruleset.Document) (*Server, *store.Memory, string) {
	return benchServerWith(tb, doc, Options{})
}

// benchServerWith is benchServer with opts (Store aside).
func benchServerWith(tb testing.TB, doc *ruleset.Document, opts Options) (*Server, *store.Memory, string) {
	tb.Helper()
	mem := store.NewMemory()
	if err := mem.Publish(context.Background(), snapshot(doc)); err != nil {
		tb.Fatal(err)
	}
	// Every client of a benchmark comes from one address and key.
	opts.Store, opts.MaxStreamsPerAddr, opts.MaxStreamsPerKey = mem, 1<<20, 1<<20
	srv, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	go func() { _ = hs.Serve(ln) }()
	tb.Cleanup(func() {
		cancel()
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), waitFor)
		defer scancel()
		_ = hs.Shutdown(sctx)
	})
	deadline := time.Now().Add(waitFor)
	for srv.hub(doc.Environment) == nil {
		if time.Now().After(deadline) {
			tb.Fatal("rule set not loaded")
		}
		time.Sleep(time.Millisecond)
	}
	return srv, mem, "http://" + ln.Addr().String()
}

// TestFanout connects -fanout SSE clients to one bearer, publishes a
// change and measures how long until every client has it, and the memory
// that each connection costs (server and client side together, both being
// in this process). Run with -fanout 1000 (or 10000) to measure.
func TestFanout(t *testing.T) {
	n := *fanoutClients
	if testing.Short() {
		n = min(n, 50)
	}
	clientSide := clientCost(t, n)
	doc := doc100("v1")
	_, mem, url := benchServer(t, doc)
	addr := strings.TrimPrefix(url, "http://")

	before := memInUse()
	var connected, got sync.WaitGroup
	connected.Add(n)
	got.Add(n)
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("client %d: %v", len(conns), err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET /v1/stream HTTP/1.1\r\nHost: bearer\r\nAuthorization: Bearer %s\r\n\r\n", serverKey)
		go watchFor(c, []string{"\nid: v1\n", "\nid: v2\n"}, &connected, &got)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	waitGroup(t, &connected, "every client has its put")
	after := memInUse()
	perConn := float64(after-before) / float64(n)

	next := doc100("v2")
	next.Flags.Get("flag-000").Default = "on"
	start := time.Now()
	if err := mem.Publish(context.Background(), snapshot(next)); err != nil {
		t.Fatal(err)
	}
	waitGroup(t, &got, "every client has the patch")
	elapsed := time.Since(start)
	t.Logf("fan-out: %d clients got the patch in %s; %.1f KB per connection in all (heap+stacks), of which the bearer's share is %.1f KB (%.1f KB measured for a bare client)",
		n, elapsed.Round(time.Millisecond), perConn/1024, (perConn-clientSide)/1024, clientSide/1024)
	if perConn > 60<<10 {
		t.Errorf("%.1f KB per connection, want well under 60 KB", perConn/1024)
	}
}

// clientCost measures what n of TestFanout's clients cost without a bearer:
// connections to a listener that accepts and holds them, each read by a
// watchFor goroutine.
func clientCost(t *testing.T, n int) float64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, n)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	before := memInUse()
	var wg, never sync.WaitGroup
	wg.Add(n)
	never.Add(1)
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		go watchFor(c, []string{"\nid: v1\n", "\nid: never\n"}, &wg, &never)
	}
	for range n {
		c := <-accepted
		conns = append(conns, c)
		if _, err := c.Write([]byte("\nid: v1\n")); err != nil {
			t.Fatal(err)
		}
	}
	waitGroup(t, &wg, "bare clients read their first event")
	cost := float64(memInUse()-before) / float64(n)
	for _, c := range conns {
		c.Close()
	}
	return cost
}

// watchFor reads c and marks each wait group done when the matching
// pattern has been seen, in order.
func watchFor(c net.Conn, patterns []string, wgs ...*sync.WaitGroup) {
	buf := make([]byte, 2048)
	var tail []byte
	i := 0
	for i < len(patterns) {
		n, err := c.Read(buf)
		chunk := append(tail, buf[:n]...)
		for i < len(patterns) && bytes.Contains(chunk, []byte(patterns[i])) {
			wgs[i].Done()
			i++
		}
		if len(chunk) > 16 {
			chunk = chunk[len(chunk)-16:]
		}
		tail = append(tail[:0:0], chunk...)
		if err != nil {
			return
		}
	}
	_, _ = io.Copy(io.Discard, c)
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("timed out waiting until %s", what)
	}
}

// memInUse is the heap and stack memory in use after a GC.
func memInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// BenchmarkEvaluateHandler measures the handler alone (no network): the
// bearer's own CPU cost of one POST /v1/evaluate with 100 flags.
func BenchmarkEvaluateHandler(b *testing.B) {
	srv, _, _ := benchServer(b, doc100("v1"))
	h := srv.Handler()
	body := []byte(`{"context":{"key":"user-7","state":"CA","student":true,"age":21}}`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/v1/evaluate", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+serverKey)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}
