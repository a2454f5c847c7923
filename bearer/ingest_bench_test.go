package bearer

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
)

// docFlags is a production rule set of n plain boolean flags.
func docFlags(n int) *ruleset.Document {
	flags := ruleset.NewFlagMapBuilder(n)
	for i := range n {
		key := fmt.Sprintf("flag-%04d", i)
		flags.Set(key, &ruleset.Flag{Key: key, Type: ruleset.TypeBoolean, Variants: boolVariants(), Enabled: true, Off: "off", Default: "on"})
	}
	return &ruleset.Document{Version: "v1", Environment: "production", Flags: flags.FlagMap()}
}

// BenchmarkIngest posts full batches (1,000 entries, one per flag, 10
// calls each) to POST /v1/metrics of one bearer over loopback from
// parallel clients, adding into a memory store or a redis-server that the
// benchmark starts. counts/s are entries added per second.
func BenchmarkIngest(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"counts":[`)
	for i := range MaxMetricsEntries {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"flag":"flag-%04d","variant":"on","success":9,"failure":1,"slow":2}`, i)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())

	b.Run("memory", func(b *testing.B) {
		benchIngest(b, body, func(*testing.B) store.Metrics { return store.NewMemory() })
	})
	b.Run("redis", func(b *testing.B) {
		benchIngest(b, body, func(b *testing.B) store.Metrics {
			srv := redistest.Start(b)
			r, err := redisstore.New(context.Background(), srv.URL(), redisstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { r.Close() })
			return r
		})
	})
}

func benchIngest(b *testing.B, body []byte, open func(*testing.B) store.Metrics) {
	m := open(b)
	_, _, url := benchServerWith(b, docFlags(MaxMetricsEntries), Options{Metrics: m})
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	elapsed := postParallel(b, client, url+"/v1/metrics", body)
	b.ReportMetric(float64(b.N*MaxMetricsEntries)/elapsed, "counts/s")
	b.ReportMetric(float64(b.N*MaxMetricsEntries*10)/elapsed, "calls/s")
	b.StopTimer()
	// Every batch was added: the window holds b.N × 10 calls of each flag
	// (the store may have split them over two seconds' buckets).
	got, err := m.WindowCounts(context.Background(), "production", time.Now(), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	if c := got["flag-0007"]; c.Total() != int64(b.N)*10 || c.Slow != int64(b.N)*2 {
		b.Fatalf("flag-0007 = %+v after %d batches", c, b.N)
	}
}
