package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

func snapshot(env, version string) *store.Snapshot {
	return &store.Snapshot{Environment: env, Version: version,
		Document: &ruleset.Document{Version: version, Environment: env, Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{})}}
}

func TestMemoryPublishAndRead(t *testing.T) {
	ctx := t.Context()
	m := store.NewMemory()
	if _, err := m.Snapshot(ctx, "production"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Snapshot before Publish: err = %v, want ErrNotFound", err)
	}
	if _, err := m.Status(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Status before PutStatus: err = %v, want ErrNotFound", err)
	}
	for _, s := range []*store.Snapshot{snapshot("staging", "a"), snapshot("production", "a"), snapshot("production", "b")} {
		if err := m.Publish(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := m.Snapshot(ctx, "production")
	if err != nil || got.Version != "b" {
		t.Fatalf("Snapshot = %v, %v; want version b", got, err)
	}
	envs, _ := m.Environments(ctx)
	if fmt.Sprint(envs) != "[production staging]" {
		t.Errorf("Environments = %v, want [production staging]", envs)
	}
	if v, _ := m.Versions(ctx); fmt.Sprint(v) != "map[production:b staging:a]" {
		t.Errorf("Versions = %v, want production b, staging a", v)
	}
	if err := m.PutStatus(ctx, &store.SyncStatus{Commit: "abc"}); err != nil {
		t.Fatal(err)
	}
	if st, err := m.Status(ctx); err != nil || st.Commit != "abc" {
		t.Errorf("Status = %v, %v", st, err)
	}
}

func TestMemoryWatch(t *testing.T) {
	m := store.NewMemory()
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := m.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Publish(ctx, snapshot("production", "v1")); err != nil {
		t.Fatal(err)
	}
	if c := <-ch; c.Environment != "production" || c.Version != "v1" || c.Resync {
		t.Errorf("change = %+v, want production v1", c)
	}

	// A watcher that does not read is never waited for: once its buffer is
	// full it is told to resync instead.
	for i := range 1000 {
		if err := m.Publish(ctx, snapshot("production", fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	resync := false
	for len(ch) > 0 {
		if c := <-ch; c.Resync {
			resync = true
		}
	}
	if !resync {
		t.Error("a watcher that fell behind got no Resync")
	}

	cancel()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch channel not closed after its context ended")
	}
}

func TestMemoryRemove(t *testing.T) {
	ctx := t.Context()
	m := store.NewMemory()
	ch, _ := m.Watch(ctx)
	_ = m.Publish(ctx, snapshot("staging", "a"))
	if err := m.Remove(ctx, "staging"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Snapshot(ctx, "staging"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Snapshot after Remove: err = %v, want ErrNotFound", err)
	}
	if envs, _ := m.Environments(ctx); len(envs) != 0 {
		t.Errorf("Environments after Remove = %v", envs)
	}
	<-ch
	if c := <-ch; c != (store.Change{Environment: "staging", Removed: true}) {
		t.Errorf("change after Remove = %+v, want staging removed", c)
	}
}
