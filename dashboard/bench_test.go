package dashboard

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// BenchmarkOpenDashboards100 is the server's cost of 100 open pages: the
// memory each event stream holds, and what one breaker sample (every
// second by default) costs to compute and send to all of them, until
// every page has read it. The pages' readers run in the same process, so
// ns/op is an upper bound of the server's share.
func BenchmarkOpenDashboards100(b *testing.B) {
	const pages = 100
	f := newFixture(b, Options{MaxStreams: pages, MaxStreamsPerKey: pages, Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got atomic.Int64
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	for range pages {
		req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/ui/api/events", nil)
		req.Header.Set("Authorization", "Bearer "+viewerKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("opening a stream: %v %v", err, resp)
		}
		go func() {
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if sc.Text() == "event: breakers" {
					got.Add(1)
				}
			}
		}()
	}
	for f.d.hub.count() < pages {
		time.Sleep(time.Millisecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapInuse-before.HeapInuse) / pages
	perPage := float64(runtime.NumGoroutine()-goroutines) / pages
	want := int64(0)
	for b.Loop() {
		f.d.tick(ctx)
		want += pages
		for got.Load() < want {
			runtime.Gosched()
		}
	}
	b.StopTimer()
	b.ReportMetric(heap, "heap-B/page")
	b.ReportMetric(perPage, "goroutines/page")
	b.ReportMetric(float64(len(f.d.breakers(&principal{envs: map[string]bool{"production": true, "staging": true}}))), "breakers")
}

// BenchmarkFirstPaint is the time from navigation to the first view drawn
// (the flags of every environment, the key already in the tab), in a
// headless chromium over loopback.
func BenchmarkFirstPaint(b *testing.B) {
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path, _ = exec.LookPath("chromium")
	}
	if path == "" {
		b.Skip("chromium not found")
	}
	f := newFixture(b, Options{})
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path), chromedp.UserDataDir(b.TempDir()),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-quic", true))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+"/ui/")); err != nil {
		b.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`sessionStorage.setItem("flagpole.key", "`+viewerKey+`"), true`)); err != nil {
		b.Fatal(err)
	}
	var ms []float64
	for b.Loop() {
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(f.srv.URL+"/ui/#/flags")); err != nil {
			b.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#view tr[data-flag="checkout-v2"]`))); err != nil {
			b.Fatal(err)
		}
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.getEntriesByName("flagpole:first-view")[0].startTime`))
		if err != nil {
			b.Fatal(err)
		}
		ms = append(ms, v)
	}
	slices.Sort(ms)
	b.ReportMetric(ms[len(ms)/2], "p50-ms")
	b.ReportMetric(ms[len(ms)*9/10], "p90-ms")
	b.ReportMetric(0, "ns/op")
}
