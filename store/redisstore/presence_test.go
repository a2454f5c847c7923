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

// Bearer records behave as the in-memory store's, expire by Redis's TTL,
// and their two keys share a slot under Cluster.
func TestRedisPresence(t *testing.T) {
	t.Run("single node", func(t *testing.T) {
		srv := redistest.Start(t)
		r := newRedis(t, srv, redisstore.Options{})
		storetest.Presence(t, r)
		// The index goes with the last record: nothing is left behind.
		n, err := r.Client().Exists(t.Context(), r.Prefix()+"bearers", r.Prefix()+"bearer:a-1-x").Result()
		if err != nil || n != 0 {
			t.Errorf("keys left after every bearer left: %d, %v", n, err)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t, 3)
		r := newRedisURL(t, c.URL(), redisstore.Options{Prefix: "app:"})
		storetest.Presence(t, r)
		checkSlots(t, c, r.Prefix(), "bearers", "bearer:a-1-x", "bearer:other-host-99-abcdef", "snap:production")
	})
}

// Bearers lists at most store.MaxBearers records, the most recently
// written first.
func TestRedisPresenceCap(t *testing.T) {
	r := newRedis(t, redistest.Start(t), redisstore.Options{})
	ctx := t.Context()
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for i := range store.MaxBearers + 5 {
		if err := r.PutBearer(ctx, storetest.Bearer(fmt.Sprintf("b-%04d", i), t0.Add(time.Duration(i)*time.Millisecond)), time.Minute); err != nil {
			t.Fatalf("PutBearer %d: %v", i, err)
		}
	}
	l, err := r.Bearers(ctx)
	if err != nil {
		t.Fatalf("Bearers: %v", err)
	}
	if len(l) != store.MaxBearers || l[0].ID != fmt.Sprintf("b-%04d", store.MaxBearers+4) {
		t.Fatalf("Bearers listed %d records starting %s, want %d starting with the newest", len(l), l[0].ID, store.MaxBearers)
	}
}

// checkSlots fails unless every key (after prefix) hashes to one slot.
func checkSlots(t *testing.T, c *redistest.Cluster, prefix string, keys ...string) {
	t.Helper()
	var first any
	for _, k := range keys {
		slot, err := c.Do(t.Context(), 0, "CLUSTER", "KEYSLOT", prefix+k)
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %s: %v", prefix+k, err)
		}
		if first == nil {
			first = slot
		}
		if slot != first {
			t.Errorf("key %s is in slot %v, %s in %v", prefix+k, slot, prefix+keys[0], first)
		}
	}
}
