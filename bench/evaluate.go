package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// evaluateTarget is BENCHMARKS.md's throughput target for POST /v1/evaluate.
const evaluateTarget = 10000 // requests per second on 2 cores

// evaluateWarmup runs before the measured period and is not counted.
const evaluateWarmup = time.Second

// contextBody is a realistic evaluation context: every attribute of
// flags.example, with the user key varied per request.
const contextBody = `{"context":{"key":"user-%d","email":"user-%d@example.com","state":"CA","student":true,"age":%d,` +
	`"app_version":"2.%d.1","signup":"2025-03-01T00:00:00Z","plan":"pro","country":"DE","beta":%t}}`

// evalResponse is the part of the POST /v1/evaluate response checked.
type evalResponse struct {
	Version string                     `json:"version"`
	Flags   map[string]json.RawMessage `json:"flags"`
}

// loadResult is what the load generator counted.
type loadResult struct {
	ok, failed int64
	firstErr   error
	lat        []time.Duration
	elapsed    time.Duration
}

// runEvaluate measures POST /v1/evaluate throughput and latency with
// cfg.concurrent keep-alive clients against flagpole serve on a generated
// repository of cfg.flags client-visible flags.
func runEvaluate(ctx context.Context, cfg *config) ([]*report, error) {
	dir, cleanup, err := tempDir("evaluate")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	repo := filepath.Join(dir, "repo")
	if err := generateRepo(cfg.example, repo, cfg.flags); err != nil {
		return nil, err
	}
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
	tr := &http.Transport{MaxIdleConnsPerHost: cfg.concurrent, MaxConnsPerHost: cfg.concurrent, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := srv.URL() + "/v1/evaluate"
	if err := checkEvaluate(client, url, cfg.flags); err != nil {
		return nil, err
	}

	newPoster := rawPoster(srv.addr)
	if cfg.loadgen == "net/http" {
		newPoster = netHTTPPoster(client, url)
	}
	load(ctx, newPoster, cfg.concurrent, evaluateWarmup)
	cpu0, errCPU0 := srv.CPU()
	res := load(ctx, newPoster, cfg.concurrent, cfg.duration)
	cpu1, errCPU1 := srv.CPU()
	if ctx.Err() != nil {
		return nil, errInterrupted
	}

	r := newReport(fmt.Sprintf("evaluate: POST /v1/evaluate, %d flags, client key (flagpole serve)", cfg.flags))
	r.add("setup", "%d concurrent keep-alive clients (%s) for %s after %s of warm-up; a realistic 10-attribute context, user key varied",
		cfg.concurrent, cfg.loadgen, cfg.duration, evaluateWarmup)
	r.add("note", "the load generator runs on the same %d CPUs as the server and takes a share of them", runtime.NumCPU())
	rps := float64(res.ok) / res.elapsed.Seconds()
	r.add("throughput", "%.0f requests/s (%d OK, %d failed in %.2f s)", rps, res.ok, res.failed, res.elapsed.Seconds())
	r.latency("latency", res.lat)
	if errCPU0 == nil && errCPU1 == nil && cpu1 > cpu0 {
		used := cpu1 - cpu0
		perCore := float64(res.ok) / used.Seconds()
		r.add("server CPU", "%.2f CPU-s for %d requests: %.0f µs each, %.0f requests per CPU-second (≈ %.0f/s on %d cores to itself)",
			used.Seconds(), res.ok, used.Seconds()*1e6/float64(res.ok), perCore, perCore*float64(runtime.NumCPU()), runtime.NumCPU())
	}
	if res.firstErr != nil {
		r.add("first error", "%v", res.firstErr)
	}
	r.memory(srv)
	r.target("≥ 10,000 requests/s on 2 cores", "BENCHMARKS.md, load generator sharing the cores", rps >= evaluateTarget, fmt.Sprintf("%.0f/s", rps))
	if res.failed > 0 {
		return []*report{r}, fmt.Errorf("%d of %d requests failed; first: %w", res.failed, res.ok+res.failed, res.firstErr)
	}
	return []*report{r}, nil
}

// checkEvaluate sends one request and checks that the client key sees
// every generated flag.
func checkEvaluate(client *http.Client, url string, want int) error {
	status, body, err := evaluateOnce(client, url, 0)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("POST /v1/evaluate: status %d: %s", status, body)
	}
	var resp evalResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("POST /v1/evaluate: decoding the response: %w", err)
	}
	if len(resp.Flags) != want {
		return fmt.Errorf("POST /v1/evaluate: %d flags in the response, want %d", len(resp.Flags), want)
	}
	return nil
}

// evaluateOnce posts the i-th context and returns status and body.
func evaluateOnce(client *http.Client, url string, i int) (int, []byte, error) {
	body := fmt.Sprintf(contextBody, i, i, 16+i%60, i%8, i%3 == 0)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+prodClientKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("POST /v1/evaluate: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("POST /v1/evaluate: reading the response: %w", err)
	}
	return resp.StatusCode, b, nil
}

// poster sends the i-th evaluation request and returns status and body
// (the body only when the status is not 200).
type poster func(i int) (int, []byte, error)

// load runs c workers, each with a poster of its own from newPoster,
// sending requests back to back for d, and counts.
func load(ctx context.Context, newPoster func() (poster, func()), c int, d time.Duration) loadResult {
	var (
		res      loadResult
		mu       sync.Mutex
		wg       sync.WaitGroup
		ok, fail atomic.Int64
		seq      atomic.Int64
	)
	record := func(err error) {
		fail.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if res.firstErr == nil {
			res.firstErr = err
		}
	}
	start := time.Now()
	deadline := start.Add(d)
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			post, done := newPoster()
			defer done()
			lat := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t := time.Now()
				status, body, err := post(int(seq.Add(1)))
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("POST /v1/evaluate: status %d: %.200s", status, body)
				}
				if err != nil {
					record(err)
					continue
				}
				ok.Add(1)
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.ok, res.failed = ok.Load(), fail.Load()
	return res
}

// netHTTPPoster returns posters that share one net/http client.
func netHTTPPoster(client *http.Client, url string) func() (poster, func()) {
	return func() (poster, func()) {
		return func(i int) (int, []byte, error) { return evaluateOnce(client, url, i) }, func() {}
	}
}

// rawPoster returns posters that each hold one keep-alive connection and
// speak HTTP/1.1 directly: a lighter load generator than net/http's
// client, so that more of the shared CPUs are left to the server.
func rawPoster(addr string) func() (poster, func()) {
	return func() (poster, func()) {
		c := &rawConn{addr: addr}
		return c.post, c.close
	}
}

// rawConn is one keep-alive HTTP/1.1 connection, redialled when lost.
type rawConn struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	buf  []byte
}

func (c *rawConn) post(i int) (int, []byte, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 10*time.Second)
		if err != nil {
			return 0, nil, fmt.Errorf("connecting to %s: %w", c.addr, err)
		}
		c.conn, c.br = conn, bufio.NewReaderSize(conn, 16*1024)
	}
	body := fmt.Sprintf(contextBody, i, i, 16+i%60, i%8, i%3 == 0)
	c.buf = fmt.Appendf(c.buf[:0], "POST /v1/evaluate HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", c.addr, prodClientKey, len(body), body)
	_ = c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.conn.Write(c.buf); err != nil {
		c.close()
		return 0, nil, fmt.Errorf("POST /v1/evaluate: %w", err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return 0, nil, fmt.Errorf("POST /v1/evaluate: reading the response: %w", err)
	}
	var out []byte
	if resp.StatusCode == http.StatusOK {
		_, err = io.Copy(io.Discard, resp.Body)
	} else {
		out, err = io.ReadAll(resp.Body)
	}
	resp.Body.Close()
	if err != nil || resp.Close {
		c.close()
	}
	if err != nil {
		return resp.StatusCode, out, fmt.Errorf("POST /v1/evaluate: reading the body: %w", err)
	}
	return resp.StatusCode, out, nil
}

func (c *rawConn) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn, c.br = nil, nil
	}
}
