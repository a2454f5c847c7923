package redisstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
	"github.com/flagpole/flagpole/store/storetest"
)

// BenchmarkBearersList lists store.MaxBearers records of 4 environments
// each: what the dashboard reads every second while a page is open.
func BenchmarkBearersList(b *testing.B) {
	r := newRedisB(b)
	ctx := b.Context()
	for i := range store.MaxBearers {
		rec := storetest.Bearer(fmt.Sprintf("host-%04d-1234-abcdef01", i), time.Now())
		for _, env := range []string{"staging", "canary", "eu"} {
			rec.Envs[env] = store.BearerEnv{Version: "0123456789ab", Streams: store.StreamCounts{SDK: 10, Evaluated: 500}}
		}
		if err := r.PutBearer(ctx, rec, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		l, err := r.Bearers(ctx)
		if err != nil || len(l) != store.MaxBearers {
			b.Fatalf("%d, %v", len(l), err)
		}
	}
}

// BenchmarkBearerHeartbeat is one bearer's heartbeat write.
func BenchmarkBearerHeartbeat(b *testing.B) {
	r := newRedisB(b)
	rec := storetest.Bearer("host-1-abcdef01", time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if err := r.PutBearer(b.Context(), rec, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func newRedisB(b *testing.B) *redisstore.Redis {
	srv := redistest.Start(b)
	r, err := redisstore.New(b.Context(), srv.URL(), redisstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}
