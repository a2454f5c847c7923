package bearer

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store/redisstore"
)

// A bearer on Redis builds a one-flag change from the flag the store's
// patch names: its state records the change from the state it replaces,
// and its streams get a patch of that flag alone.
func TestRedisPatchBuildsNamedFlagsOnly(t *testing.T) {
	srv := redistest.Start(t)
	pub, err := redisstore.New(t.Context(), srv.URL(), redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	sub, err := redisstore.New(t.Context(), srv.URL(), redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	v1 := testDoc("production", "v1")
	f := newFixtureOn(t, Options{}, pub, sub, v1)
	s := f.openStream("/v1/stream", serverKey)
	if ev := s.next(false); ev.Event != "put" {
		t.Fatalf("first event %+v, want a put", ev)
	}
	before := f.srv.hub("production").cur.Load()

	v2 := *v1
	v2.Version = "v2"
	color := *v1.Flags.Get("color")
	color.Default = "blue"
	v2.Flags = v1.Flags.With(map[string]*ruleset.Flag{"color": &color}) // the syncer shares every unchanged *Flag
	f.publish(&v2)
	f.waitVersion("production", "v2")

	after := f.srv.hub("production").cur.Load()
	if flags, ok := after.change.From(before.doc); !ok || !slices.Equal(flags, []string{"color"}) {
		t.Fatalf("state built from v1: %v, with changed %v; want from v1 with [color]", ok, flags)
	}
	if after.flag("banner") != before.flag("banner") || after.flag("color") == before.flag("color") {
		t.Error("the unchanged flag was encoded again, or the changed one was not")
	}
	ev := s.next(false)
	if ev.Event != "patch" {
		t.Fatalf("event %+v, want a patch", ev)
	}
	p := decode[ruleset.Patch](t, []byte(ev.Data))
	if len(p.Flags) != 1 || p.Flags["color"] == nil || p.Flags["color"].Default != "blue" || p.Base != "v1" || p.Version != "v2" {
		b, _ := json.Marshal(p)
		t.Errorf("patch %s, want color alone from v1 to v2", b)
	}
	if r := after.rs.Evaluate("color", nil); r.Variant != "blue" {
		t.Errorf("color = %+v, want blue", r)
	}
}
