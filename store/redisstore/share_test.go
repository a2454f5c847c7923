package redisstore_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
)

// envSnap is flagsSnap's n flags in environment env, each a fresh value (as
// a publisher in another process decodes them), with audience "beta" and
// flag f1 differing in staging as an overlay makes it.
func envSnap(env, version string, n int) *store.Snapshot {
	s := flagsSnap(version, n)
	s.Environment, s.Document.Environment = env, env
	for i := range s.Keys {
		s.Keys[i].Environment = env
	}
	s.Document.Audiences = map[string]*ruleset.Audience{
		"beta": {Key: "beta", Match: "all", Conditions: []ruleset.Condition{{Attribute: "plan", Operator: "eq", Values: []json.RawMessage{json.RawMessage(`"beta"`)}}}},
	}
	if env == "staging" {
		f1 := *s.Document.Flags.Get("f1")
		f1.Enabled = false
		s.Document.Flags = s.Document.Flags.With(map[string]*ruleset.Flag{"f1": &f1})
	}
	return s
}

// A reader of two environments holds a flag the environments have alike
// once: the second environment read whole shares the first's *Flag and
// *Audience where their JSON is the same, and decodes its own where it is
// not. Patches then share likewise, and never change what is served.
func TestSnapshotsShareAcrossEnvironments(t *testing.T) {
	srv := redistest.Start(t)
	pub := newRedis(t, srv, redisstore.Options{})
	sub := newRedis(t, srv, redisstore.Options{})
	ch, err := sub.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	prod, stag := envSnap("production", "p1", 20), envSnap("staging", "s1", 20)
	for _, s := range []*store.Snapshot{prod, stag} {
		if err := pub.Publish(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	waitVersion(t, ch, "s1")
	p, err := sub.SnapshotSince(ctx, "production", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sub.SnapshotSince(ctx, "staging", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []*store.Snapshot{p, s} {
		want := prod
		if got.Environment == "staging" {
			want = stag
		}
		if !reflect.DeepEqual(got.Document, want.Document) || got.Version != want.Version || len(got.Keys) != 1 || got.Keys[0].Environment != want.Environment {
			t.Fatalf("%s read back differs from what was published", got.Environment)
		}
	}
	for k, f := range s.Document.Flags.All() {
		if shared := p.Document.Flags.Get(k) == f; shared != (k != "f1") {
			t.Errorf("staging flag %s shared with production: %v", k, shared)
		}
	}
	if s.Document.Audiences["beta"] != p.Document.Audiences["beta"] {
		t.Error("staging's audience beta, the same as production's, is not shared")
	}

	// The same edit in both environments: staging's patched f0 is
	// production's, f1 (different in each) stays apart.
	p2, s2 := next(prod, "p2", "two"), next(stag, "s2", "two")
	for _, sn := range []*store.Snapshot{p2, s2} {
		f1 := *sn.Document.Flags.Get("f1")
		f1.Description = "edited"
		sn.Document.Flags = sn.Document.Flags.With(map[string]*ruleset.Flag{"f1": &f1})
		if err := pub.Publish(ctx, sn); err != nil {
			t.Fatal(err)
		}
	}
	waitVersion(t, ch, "s2")
	gp, err := sub.SnapshotSince(ctx, "production", p)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := sub.SnapshotSince(ctx, "staging", s)
	if err != nil {
		t.Fatal(err)
	}
	if gp.Version != "p2" || gs.Version != "s2" || gp.Document.Flags.Get("f2") != p.Document.Flags.Get("f2") {
		t.Fatalf("patches not applied: %s %s", gp.Version, gs.Version)
	}
	if gs.Document.Flags.Get("f0") != gp.Document.Flags.Get("f0") || gs.Document.Flags.Get("f0").Description != "two" {
		t.Error("staging's patched f0, the same as production's, is not shared")
	}
	if gs.Document.Flags.Get("f1") == gp.Document.Flags.Get("f1") || gs.Document.Flags.Get("f1").Enabled || !gp.Document.Flags.Get("f1").Enabled {
		t.Error("f1, which differs between the environments, was shared")
	}
	if !reflect.DeepEqual(gs.Document, s2.Document) || !reflect.DeepEqual(gp.Document, p2.Document) {
		t.Error("patched documents differ from what was published")
	}
}

// A flag that does not decode is reported by key; a null flag stays null
// (compiling reports it).
func TestSnapshotBadFlagNamed(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, srv, redisstore.Options{})
	ctx := t.Context()
	s := flagsSnap("v1", 2)
	if err := r.Publish(ctx, s); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(s)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	flags := m["document"].(map[string]any)["flags"].(map[string]any)
	flags["f0"] = nil
	flags["f1"] = map[string]any{"enabled": "yes"}
	bad, _ := json.Marshal(m)
	if err := r.Client().Set(ctx, "flagpole:snap:production", bad, 0).Err(); err != nil {
		t.Fatal(err)
	}
	fresh := newRedis(t, srv, redisstore.Options{})
	_, err := fresh.Snapshot(ctx, "production")
	if err == nil || !containsAll(err.Error(), "flags.f1", "snap:production") {
		t.Errorf("bad flag: err = %v, want it to name flags.f1 and the key", err)
	}
	delete(flags, "f1")
	nullOnly, _ := json.Marshal(m)
	if err := r.Client().Set(ctx, "flagpole:snap:production", nullOnly, 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := fresh.Snapshot(ctx, "production")
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := got.Document.Flags.Lookup("f0"); !ok || f != nil {
		t.Errorf("null flag f0 = %v, %v; want present and nil", f, ok)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
