package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
)

// newRedisURL is newRedis for any URL form (Cluster, Sentinel).
func newRedisURL(t *testing.T, url string, opts redisstore.Options) *redisstore.Redis {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	r, err := redisstore.New(ctx, url, opts)
	if err != nil {
		t.Fatalf("New(%s): %v", url, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// checkBasics publishes through pub and reads back through sub, which must
// start empty: snapshots, environments, status, and the changes that ch, a
// watch of sub, delivers in publish order.
func checkBasics(t *testing.T, pub, sub *redisstore.Redis, ch <-chan store.Change) {
	t.Helper()
	ctx := t.Context()
	if _, err := sub.Snapshot(ctx, "production"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Snapshot before publish: err = %v, want ErrNotFound", err)
	}
	if _, err := sub.Status(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Status before put: err = %v, want ErrNotFound", err)
	}
	for _, s := range []*store.Snapshot{snap("staging", "v1"), snap("production", "v1"), snap("production", "v2")} {
		if err := pub.Publish(ctx, s); err != nil {
			t.Fatalf("Publish %s %s: %v", s.Environment, s.Version, err)
		}
		want := store.Change{Environment: s.Environment, Version: s.Version}
		if c := recv(t, ch); c != want {
			t.Fatalf("watched change = %+v, want %+v", c, want)
		}
	}
	got, err := sub.Snapshot(ctx, "production")
	if err != nil || got.Version != "v2" || got.Document.Version != "v2" || len(got.Keys) != 1 {
		t.Fatalf("Snapshot = %+v, %v; want version v2 with one key", got, err)
	}
	envs, err := sub.Environments(ctx)
	if err != nil || strings.Join(envs, ",") != "production,staging" {
		t.Fatalf("Environments = %v, %v; want production,staging", envs, err)
	}
	if err := pub.PutStatus(ctx, &store.SyncStatus{Source: "file:///repo", Commit: "abc"}); err != nil {
		t.Fatalf("PutStatus: %v", err)
	}
	if st, err := sub.Status(ctx); err != nil || st.Commit != "abc" {
		t.Fatalf("Status = %+v, %v; want commit abc", st, err)
	}
}
