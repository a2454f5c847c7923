package redisstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
	"github.com/flagpole/flagpole/store/storetest"
)

// Outcome counts behave as the in-memory store's, on a single node and on
// a Cluster; each bearer of "many bearers" has its own connections.
func TestRedisMetrics(t *testing.T) {
	t.Run("single node", func(t *testing.T) {
		srv := redistest.Start(t)
		storetest.Metrics(t, func(t *testing.T) store.Metrics { return newRedis(t, srv, redisstore.Options{}) })
	})
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t, 3)
		storetest.Metrics(t, func(t *testing.T) store.Metrics {
			return newRedisURL(t, c.URL(), redisstore.Options{Prefix: "app:"})
		})
	})
}

// TestRedisMetricsExpire: every bucket expires MetricsRetention after its
// last write by Redis's clock, also one stamped with a second long past
// (a bearer whose clock is behind, or a test's fake clock): its counts
// are readable, and Redis still holds at most an hour of them.
func TestRedisMetricsExpire(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, srv, redisstore.Options{})
	ctx := t.Context()
	past := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	if err := r.AddCounts(ctx, "production", past, map[string]store.Counts{"a": {Success: 3}}); err != nil {
		t.Fatal(err)
	}
	if got, err := r.WindowCounts(ctx, "production", past, time.Minute); err != nil || got["a"] != (store.Counts{Success: 3}) {
		t.Fatalf("window at the past second = %v, %v; want a: 3", got, err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer c.Close()
	keys, err := c.Keys(ctx, "*m:production:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("bucket keys %v, %v; want one", keys, err)
	}
	ttl, err := c.TTL(ctx, keys[0]).Result()
	if err != nil || ttl <= 0 || ttl > store.MetricsRetention+time.Second {
		t.Fatalf("TTL of %s = %v, %v; want (0, %v]", keys[0], ttl, err, store.MetricsRetention+time.Second)
	}
}

// BenchmarkWindowCounts1000 reads a 60 s window of 1,000 flags, every
// second of it written: what the breaker reads once a tick.
func BenchmarkWindowCounts1000(b *testing.B) {
	srv := redistest.Start(b)
	r, err := redisstore.New(b.Context(), srv.URL(), redisstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	now := time.Now().Truncate(time.Second)
	counts := map[string]store.Counts{}
	for i := range 1000 {
		counts[fmt.Sprintf("flag-%04d", i)] = store.Counts{Success: 10, Failure: 1}
	}
	for s := range 60 {
		if err := r.AddCounts(b.Context(), "production", now.Add(-time.Duration(s)*time.Second), counts); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		got, err := r.WindowCounts(b.Context(), "production", now, time.Minute)
		if err != nil || len(got) != 1000 {
			b.Fatalf("window: %d flags, %v", len(got), err)
		}
	}
}
