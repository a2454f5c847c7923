package sdk

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/flagpole/flagpole/sdk/internal/sdktest"
)

// BenchmarkPropagation measures the time from a publish to the store until
// a subscriber of a client streaming from a real bearer on loopback sees
// the change (patch encoded, sent, decoded, applied, compiled, swapped and
// notified). It reports p50 and p99 in milliseconds.
func BenchmarkPropagation(b *testing.B) {
	f := sdktest.NewFleet(b)
	f.Publish(sdktest.Doc("v0", sdktest.BoolFlag("checkout-v2", false)))
	br := f.Start("127.0.0.1:0")
	c, err := New(context.Background(), Options{URL: br.URL(), Key: f.ServerKey, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	seen := make(chan string, 1)
	defer c.Subscribe(func(ch Change) { seen <- ch.Version })()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		v := fmt.Sprintf("v%d", i+1)
		start := time.Now()
		f.Publish(sdktest.Doc(v, sdktest.BoolFlag("checkout-v2", i%2 == 0)))
		for got := ""; got != v; {
			select {
			case got = <-seen:
			case <-time.After(10 * time.Second):
				b.Fatalf("%s not seen within 10 s", v)
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(ms(0.5), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}
