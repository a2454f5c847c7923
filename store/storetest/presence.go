package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/store"
)

// Bearer returns a bearer record with id, seen at seen, serving one
// environment.
func Bearer(id string, seen time.Time) *store.BearerInfo {
	return &store.BearerInfo{
		ID: id, Host: "host", Address: "10.0.0.1:8080", Version: "v1.2.3",
		Started: seen.Add(-time.Minute).UTC(), LastSeen: seen.UTC(),
		Envs: map[string]store.BearerEnv{"production": {Version: "abc123", Streams: store.StreamCounts{SDK: 3, Evaluated: 2, OFREP: 1}}},
	}
}

// Presence checks a store's bearer records: put, list in order of last
// heartbeat, update, remove, refusal of records out of bounds, and expiry
// of a record whose heartbeats stop (waited for with a deadline, not a
// sleep: the record must be gone within its ttl plus eventually).
func Presence(t *testing.T, s store.Store) {
	ctx := t.Context()
	list := func() []store.BearerInfo {
		t.Helper()
		l, err := s.Bearers(ctx)
		if err != nil {
			t.Fatalf("Bearers: %v", err)
		}
		return l
	}
	ids := func(l []store.BearerInfo) string {
		var out []string
		for _, b := range l {
			out = append(out, b.ID)
		}
		return strings.Join(out, ",")
	}
	if l := list(); len(l) != 0 {
		t.Fatalf("Bearers of an empty store = %v, want none", ids(l))
	}
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	a, b := Bearer("a-1-x", t0), Bearer("b-2-y", t0.Add(time.Second))
	for _, rec := range []*store.BearerInfo{a, b} {
		if err := s.PutBearer(ctx, rec, time.Minute); err != nil {
			t.Fatalf("PutBearer %s: %v", rec.ID, err)
		}
	}
	got := list()
	if ids(got) != "b-2-y,a-1-x" {
		t.Fatalf("Bearers = %s, want b-2-y,a-1-x (the most recently seen first)", ids(got))
	}
	if e := got[1].Envs["production"]; e.Version != "abc123" || e.Streams.Total() != 6 || got[1].Address != "10.0.0.1:8080" || !got[1].LastSeen.Equal(t0) {
		t.Errorf("record a read back as %+v", got[1])
	}
	// A heartbeat replaces the record.
	a = Bearer("a-1-x", t0.Add(2*time.Second))
	a.Envs["production"] = store.BearerEnv{Version: "def456"}
	if err := s.PutBearer(ctx, a, time.Minute); err != nil {
		t.Fatalf("PutBearer again: %v", err)
	}
	got = list()
	if ids(got) != "a-1-x,b-2-y" || got[0].Envs["production"].Version != "def456" {
		t.Fatalf("after a heartbeat: %s %+v, want a-1-x first serving def456", ids(got), got)
	}
	// Out of bounds: refused, naming the field.
	big := Bearer("c-3-z", t0)
	big.Address = strings.Repeat("x", store.MaxBearerField+1)
	if err := s.PutBearer(ctx, big, time.Minute); !errors.Is(err, store.ErrBearerRecord) || !strings.Contains(err.Error(), "address") {
		t.Errorf("PutBearer with a long address: %v, want ErrBearerRecord naming address", err)
	}
	many := Bearer("d-4-w", t0)
	for i := range store.MaxBearerEnvs + 1 {
		many.Envs[fmt.Sprintf("env%d", i)] = store.BearerEnv{}
	}
	if err := s.PutBearer(ctx, many, time.Minute); !errors.Is(err, store.ErrBearerRecord) {
		t.Errorf("PutBearer with %d environments: %v, want ErrBearerRecord", len(many.Envs), err)
	}
	many.Clip()
	if err := s.PutBearer(ctx, many, time.Minute); err != nil || many.EnvsOmitted != 2 {
		t.Errorf("PutBearer clipped: %v (omitted %d, want 2)", err, many.EnvsOmitted)
	}
	// Removed: gone at once; removing again is no error.
	for _, id := range []string{"b-2-y", "d-4-w", "d-4-w"} {
		if err := s.RemoveBearer(ctx, id); err != nil {
			t.Fatalf("RemoveBearer %s: %v", id, err)
		}
	}
	if got := list(); ids(got) != "a-1-x" {
		t.Fatalf("after RemoveBearer: %s, want a-1-x", ids(got))
	}
	// A bearer that stops its heartbeats expires.
	if err := s.PutBearer(ctx, Bearer("e-5-v", t0.Add(3*time.Second)), 300*time.Millisecond); err != nil {
		t.Fatalf("PutBearer short ttl: %v", err)
	}
	if got := list(); ids(got) != "e-5-v,a-1-x" {
		t.Fatalf("with a short-lived record: %s, want e-5-v,a-1-x", ids(got))
	}
	deadline := time.Now().Add(300*time.Millisecond + eventually)
	for ids(list()) != "a-1-x" {
		if time.Now().After(deadline) {
			t.Fatalf("record with a 300ms ttl still listed after %s: %s", eventually, ids(list()))
		}
		time.Sleep(20 * time.Millisecond) // poll
	}
	if err := s.RemoveBearer(ctx, "a-1-x"); err != nil {
		t.Fatalf("RemoveBearer: %v", err)
	}
}
