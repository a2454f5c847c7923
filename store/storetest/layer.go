// Package storetest holds the conformance tests that every store.Store
// implementation runs, so that the in-memory store and Redis behave alike.
package storetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// LayerStore is a store with an override layer.
type LayerStore interface {
	store.Store
	store.Overrider
}

// eventually bounds how long a change may take to reach a watcher.
const eventually = 10 * time.Second

// Doc returns a rule set of env with one boolean flag, checkout-v2.
func Doc(env, version string) *ruleset.Document {
	return &ruleset.Document{Version: version, Environment: env, Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{
		"checkout-v2": {Key: "checkout-v2", Type: ruleset.TypeBoolean, Enabled: true, Off: "off", Default: "on",
			Variants: []ruleset.Variant{{Name: "on", Value: json.RawMessage(`true`)}, {Name: "off", Value: json.RawMessage(`false`)}}},
	})}
}

// Kill is an override of Doc's flag to off, made at at by by.
func Kill(by string, at time.Time) *ruleset.Override {
	return &ruleset.Override{Flag: "checkout-v2", Serve: "off", By: by, At: at, Reason: "test"}
}

// Layer checks an Overrider: validation, counter, entries, tombstones,
// DropOverride's seq guard and the changes watchers see.
func Layer(t *testing.T, s LayerStore) {
	ctx := t.Context()
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	if l, err := s.Layer(ctx, "production"); err != nil || l.Seq != 0 || len(l.Entries) != 0 {
		t.Fatalf("Layer of a new environment = %+v, %v; want empty with Seq 0", l, err)
	}
	if _, err := s.SetOverride(ctx, "production", store.LayerEntry{Flag: "checkout-v2", Override: Kill("alice", at)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetOverride before any snapshot: err = %v, want ErrNotFound", err)
	}
	if err := s.Publish(ctx, &store.Snapshot{Environment: "production", Version: "abc", Document: Doc("production", "abc")}); err != nil {
		t.Fatal(err)
	}
	changes, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}

	bad := Kill("alice", at)
	bad.Serve = "maybe"
	bad.Expires = &at
	_, err = s.SetOverride(ctx, "production", store.LayerEntry{Flag: "checkout-v2", Override: bad})
	var oe *store.OverrideError
	if !errors.As(err, &oe) || len(oe.Problems) != 2 {
		t.Fatalf("SetOverride of an invalid override: err = %v, want an OverrideError with 2 problems", err)
	}
	paths := map[string]bool{}
	for _, p := range oe.Problems {
		paths[p.PathString()] = true
	}
	if !paths["serve"] || !paths["expires"] {
		t.Errorf("problems %v, want serve and expires", oe.Problems)
	}
	if _, err := s.SetOverride(ctx, "production", store.LayerEntry{Flag: "nope", Override: &ruleset.Override{Flag: "nope", Serve: "off", At: at}}); !errors.As(err, &oe) || oe.Problems[0].PathString() != "flag" {
		t.Fatalf("SetOverride of an unknown flag: err = %v, want a problem at flag", err)
	}
	if l, _ := s.Layer(ctx, "production"); l.Seq != 0 || len(l.Entries) != 0 {
		t.Fatalf("an invalid entry was stored: %+v", l)
	}

	seq, err := s.SetOverride(ctx, "production", store.LayerEntry{Flag: "checkout-v2", Override: Kill("alice", at)})
	if err != nil || seq != 1 {
		t.Fatalf("SetOverride = %d, %v; want seq 1", seq, err)
	}
	waitChange(t, changes, "production")
	l, err := s.Layer(ctx, "production")
	if err != nil {
		t.Fatal(err)
	}
	e := l.Entries["checkout-v2"]
	if l.Seq != 1 || len(l.Entries) != 1 || e.Seq != 1 || e.Override == nil || e.Override.Serve != "off" ||
		e.Override.Environment != "production" || !e.At.Equal(at) || e.By != "alice" {
		t.Fatalf("Layer after a set = %+v (entry %+v)", l, e)
	}

	seq, err = s.SetOverride(ctx, "production", store.LayerEntry{Flag: "checkout-v2", By: "bob", At: at.Add(time.Minute)})
	if err != nil || seq != 2 {
		t.Fatalf("SetOverride of a tombstone = %d, %v; want seq 2", seq, err)
	}
	waitChange(t, changes, "production")
	if l, _ := s.Layer(ctx, "production"); l.Seq != 2 || l.Entries["checkout-v2"].Override != nil || l.Entries["checkout-v2"].By != "bob" {
		t.Fatalf("Layer after a clear = %+v, want a tombstone by bob at seq 2", l)
	}

	// A drop for an older seq must not lose the newer entry.
	if err := s.DropOverride(ctx, "production", "checkout-v2", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.DropOverride(ctx, "production", "other", 2); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Layer(ctx, "production"); l.Seq != 2 || len(l.Entries) != 1 {
		t.Fatalf("Layer after a stale drop = %+v, want the tombstone kept at seq 2", l)
	}
	if err := s.DropOverride(ctx, "production", "checkout-v2", 2); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changes, "production")
	if l, _ := s.Layer(ctx, "production"); l.Seq != 3 || len(l.Entries) != 0 {
		t.Fatalf("Layer after a drop = %+v, want no entries at seq 3", l)
	}
	if l, _ := s.Layer(ctx, "staging"); l.Seq != 0 || len(l.Entries) != 0 {
		t.Fatalf("another environment's layer = %+v, want empty", l)
	}
}

// waitChange waits for a change of env.
func waitChange(t *testing.T, ch <-chan store.Change, env string) {
	t.Helper()
	timeout := time.After(eventually)
	for {
		select {
		case c := <-ch:
			if c.Environment == env || c.Resync {
				return
			}
		case <-timeout:
			t.Fatalf("no change of %s within %s", env, eventually)
		}
	}
}
