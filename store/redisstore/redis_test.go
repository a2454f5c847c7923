package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
)

// eventually is the generous bound for asynchronous effects in these tests.
const eventually = 10 * time.Second

func newRedis(t *testing.T, srv *redistest.Server, opts redisstore.Options) *redisstore.Redis {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventually)
	defer cancel()
	r, err := redisstore.New(ctx, srv.URL(), opts)
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func snap(env, version string) *store.Snapshot {
	return &store.Snapshot{
		Environment: env,
		Version:     version,
		Document:    &ruleset.Document{Version: version, Environment: env, Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{})},
		Keys:        []store.Key{{Name: "svc", Environment: env, Kind: store.KeyServer, SHA256: strings.Repeat("a", 64)}},
		Published:   time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC),
	}
}

func TestRedisPublishAndRead(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, srv, redisstore.Options{})
	ctx := t.Context()

	if _, err := r.Snapshot(ctx, "production"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Snapshot before publish: err = %v, want ErrNotFound", err)
	}
	if _, err := r.Status(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Status before put: err = %v, want ErrNotFound", err)
	}
	for _, s := range []*store.Snapshot{snap("staging", "v1"), snap("production", "v1"), snap("production", "v2")} {
		if err := r.Publish(ctx, s); err != nil {
			t.Fatalf("Publish %s %s: %v", s.Environment, s.Version, err)
		}
	}
	got, err := r.Snapshot(ctx, "production")
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if got.Version != "v2" || got.Document.Version != "v2" || len(got.Keys) != 1 || !got.Published.Equal(snap("", "").Published) {
		t.Fatalf("Snapshot = %+v, want version v2 with one key", got)
	}
	envs, err := r.Environments(ctx)
	if err != nil || strings.Join(envs, ",") != "production,staging" {
		t.Fatalf("Environments = %v, %v; want production,staging", envs, err)
	}
	if v, err := r.Versions(ctx); err != nil || v["production"] != "v2" || v["staging"] != "v1" || len(v) != 2 {
		t.Fatalf("Versions = %v, %v; want production v2, staging v1", v, err)
	}
	st := &store.SyncStatus{Source: "file:///repo", Commit: "abc", LastError: &store.SyncError{Message: "bad", Problems: []string{"flags/a.yaml:1:2: key: required"}}}
	if err := r.PutStatus(ctx, st); err != nil {
		t.Fatalf("PutStatus: %v", err)
	}
	gst, err := r.Status(ctx)
	if err != nil || gst.Commit != "abc" || gst.LastError == nil || gst.LastError.Problems[0] != st.LastError.Problems[0] {
		t.Fatalf("Status = %+v, %v", gst, err)
	}
	// The documented key layout is what other tools may rely on.
	n, err := r.Client().Exists(ctx, "flagpole:snap:production", "flagpole:envs", "flagpole:status").Result()
	if err != nil || n != 3 {
		t.Fatalf("documented keys present = %d, %v; want 3", n, err)
	}
}

func TestRedisPrefix(t *testing.T) {
	srv := redistest.Start(t)
	a := newRedis(t, srv, redisstore.Options{Prefix: "a:"})
	b := newRedis(t, srv, redisstore.Options{Prefix: "b:"})
	if err := a.Publish(t.Context(), snap("production", "v1")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Snapshot(t.Context(), "production"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("prefix b sees prefix a's snapshot: err = %v", err)
	}
}

func recv(t *testing.T, ch <-chan store.Change) store.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return c
	case <-time.After(eventually):
		t.Fatal("no change within", eventually)
	}
	return store.Change{}
}

func TestRedisWatch(t *testing.T) {
	srv := redistest.Start(t)
	pub := newRedis(t, srv, redisstore.Options{})
	sub := newRedis(t, srv, redisstore.Options{HealthInterval: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := sub.Watch(ctx)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if err := pub.Publish(t.Context(), snap("production", "v1")); err != nil {
		t.Fatal(err)
	}
	if c := recv(t, ch); c != (store.Change{Environment: "production", Version: "v1"}) {
		t.Fatalf("change = %+v", c)
	}

	// Redis dies and comes back empty: the watcher must be told to reload.
	srv.Restart()
	if c := recv(t, ch); !c.Resync {
		t.Fatalf("after restart: change = %+v, want Resync", c)
	}
	if err := pub.Publish(t.Context(), snap("production", "v2")); err != nil {
		t.Fatalf("Publish after restart: %v", err)
	}
	if c := recv(t, ch); c.Version != "v2" {
		t.Fatalf("after restart: change = %+v, want v2", c)
	}

	cancel()
	deadline := time.After(eventually)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed after cancel")
		}
	}
}

func TestRedisWatchSlowConsumer(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, srv, redisstore.Options{WatchBuffer: 4})
	ch, err := r.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := r.Publish(t.Context(), snap("production", "v"+string(rune('a'+i%26)))); err != nil {
			t.Fatal(err)
		}
	}
	// Nobody read: the publisher was not blocked, and the watcher is told to
	// resync rather than silently missing changes.
	deadline := time.After(eventually)
	for {
		select {
		case c := <-ch:
			if c.Resync {
				return
			}
		case <-deadline:
			t.Fatal("slow watcher never got a Resync")
		}
	}
}

func TestRedisNewErrors(t *testing.T) {
	cases := []struct {
		name, url, want string
	}{
		{"no scheme", "localhost:6379", "missing scheme"},
		{"unknown scheme", "http://u:hunter2@localhost", "unknown scheme"},
		{"sentinel without master", "redis+sentinel://u:hunter2@h1:26379,h2:26379", "mastername"},
		{"cluster with path", "redis+cluster://u:hunter2@h1:7000,h2:7001/3", "no path"},
		{"unreachable", "redis://u:hunter2@127.0.0.1:1/0?dial_timeout=200ms", "connecting to redis"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redisstore.New(t.Context(), tc.url, redisstore.Options{})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("err leaks the password: %v", err)
			}
		})
	}
}

func TestRedisURLForms(t *testing.T) {
	srv := redistest.Start(t)
	cases := []struct{ name, url string }{
		{"redis", "redis://" + srv.Addr()},
		{"redis with db and options", "redis://" + srv.Addr() + "/2?dial_timeout=2s"},
		{"unix socket", "unix://" + srv.Socket() + "?db=1"},
		{"cluster form, single node", "redis+cluster://" + srv.Addr()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := redisstore.New(t.Context(), tc.url, redisstore.Options{})
			if err != nil {
				if strings.Contains(tc.name, "cluster") && strings.Contains(err.Error(), "cluster support disabled") {
					t.Skip("redis-server runs without cluster mode")
				}
				t.Fatalf("NewRedis(%s): %v", tc.url, err)
			}
			defer r.Close()
			if strings.Contains(tc.name, "cluster") && r.Prefix() != "{flagpole}:" {
				t.Errorf("cluster prefix = %q, want hash-tagged {flagpole}:", r.Prefix())
			}
		})
	}
}

func TestRedisRemove(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, srv, redisstore.Options{})
	ctx := t.Context()
	ch, err := r.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*store.Snapshot{snap("staging", "v1"), snap("production", "v1")} {
		if err := r.Publish(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Remove(ctx, "staging"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Snapshot(ctx, "staging"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Snapshot after Remove: err = %v, want ErrNotFound", err)
	}
	if v, _ := r.Versions(ctx); len(v) != 1 || v["production"] != "v1" {
		t.Errorf("Versions after Remove = %v, want production only", v)
	}
	recv(t, ch)
	recv(t, ch)
	if c := recv(t, ch); c != (store.Change{Environment: "staging", Removed: true}) {
		t.Errorf("change after Remove = %+v, want staging removed", c)
	}
}
