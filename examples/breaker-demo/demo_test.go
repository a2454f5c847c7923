package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/bearer"
	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/store"
)

// demoServerKey is the production server key of flags.example
// (flags.example/DEMO-KEYS.md).
const demoServerKey = "fp_srv_prod_00924f0ac53302c0eed957fb2f4f221a"

// TestGuardFallsBackAndReports runs the demo service and its load loop's
// calls against a real bearer serving flags.example: v2 serves while it
// works, v1 serves when it fails, and both outcomes reach the bearer's
// POST /v1/metrics, in the counts the breaker reads.
func TestGuardFallsBackAndReports(t *testing.T) {
	st := store.NewMemory()
	bearerURL := startBearer(t, st)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	client, err := sdk.New(context.Background(), sdk.Options{URL: bearerURL, Key: demoServerKey, Logger: quiet})
	if err != nil {
		t.Fatalf("sdk.New: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	svc := httptest.NewServer((&service{flags: client}).routes())
	t.Cleanup(svc.Close)
	l := &loadLoop{base: svc.URL, http: svc.Client(), users: 7}

	steps := []struct {
		name, fail string
		want       tally
	}{
		{"v2 works", "false", tally{calls: 10, v2: 10, tried: 10}},
		{"v2 fails, v1 serves", "true", tally{calls: 10, v1: 10, tried: 10, failed: 10}},
		{"v2 mended", "false", tally{calls: 5, v2: 5, tried: 5}},
	}
	for _, s := range steps {
		resp, err := http.Post(svc.URL+"/fail?on="+s.fail, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /fail?on=%s: status %d", s.fail, resp.StatusCode)
		}
		var got tally
		for range s.want.calls {
			got.add(l.call(context.Background()))
		}
		if got != s.want {
			t.Errorf("%s: %v, want %v", s.name, got, s.want)
		}
	}

	// Close sends the outcomes not yet reported; the bearer has added them
	// to the store by the time it answers.
	if err := client.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if ms := client.MetricsStats(); ms.SentCalls != 25 || ms.RejectedCalls != 0 {
		t.Errorf("MetricsStats %+v, want 25 calls sent, none rejected", ms)
	}
	counts, err := st.WindowCounts(context.Background(), "production", time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c := counts[flagKey]; c.Success != 15 || c.Failure != 10 {
		t.Errorf("bearer counted %+v for %s, want 15 successes and 10 failures", c, flagKey)
	}
}

// TestLoadLoopPrintsEachSecond runs the load loop against the demo service
// until it has printed its first second.
func TestLoadLoopPrintsEachSecond(t *testing.T) {
	st := store.NewMemory()
	client, err := sdk.New(context.Background(), sdk.Options{URL: startBearer(t, st), Key: demoServerKey,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("sdk.New: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	svc := httptest.NewServer((&service{flags: client}).routes())
	t.Cleanup(svc.Close)

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() { newLoadLoop(svc.URL, 10).run(ctx, 20, pw); close(done) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }() // a second line may be on its way
	<-done
	pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\d\d:\d\d:\d\d +(\d+) calls: v2 served +(\d+), v1 served +0 \| new path tried +(\d+), failed +0 \(0%\)\n$`)
	m := re.FindStringSubmatch(line)
	if m == nil || m[1] == "0" || m[1] != m[2] || m[1] != m[3] {
		t.Errorf("first line %q, want calls all served by v2", line)
	}
}

// TestTallyLine checks the line the load loop prints each second.
func TestTallyLine(t *testing.T) {
	var tl tally
	tl.add(answer{Served: "v2", NewPath: "ok"}, nil)
	tl.add(answer{Served: "v1", NewPath: "failed"}, nil)
	tl.add(answer{Served: "v1", NewPath: "skipped"}, nil)
	tl.add(answer{}, io.ErrUnexpectedEOF)
	want := "  4 calls: v2 served   1, v1 served   2 | new path tried   2, failed   1 (50%) | 1 requests failed"
	if got := tl.String(); got != want {
		t.Errorf("line\n%q, want\n%q", got, want)
	}
	if !strings.Contains((tally{calls: 1, v1: 1}).String(), "tried   0, failed   0") {
		t.Error("a second without tries prints no rate")
	}
}

// startBearer serves flags.example's production rule set from st, with st
// also keeping the outcome counts of POST /v1/metrics.
func startBearer(t *testing.T, st *store.Memory) string {
	repo, err := loader.Load("../../flags.example", loader.Options{})
	if err != nil {
		t.Fatalf("loading flags.example: %v", err)
	}
	doc := repo.Documents["production"]
	snap := &store.Snapshot{Environment: "production", Version: doc.Version, Document: doc, Keys: repo.Settings.Keys, Published: time.Now()}
	if err := st.Publish(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	b, err := bearer.New(bearer.Options{Store: st, Metrics: st})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = b.Run(ctx); close(done) }()
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return srv.URL
}
