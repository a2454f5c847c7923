package bearer

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// setLayer stores a layer entry of production in the fixture's store.
func (f *fixture) setLayer(e store.LayerEntry) uint64 {
	f.t.Helper()
	seq, err := f.store.SetOverride(context.Background(), "production", e)
	if err != nil {
		f.t.Fatalf("SetOverride %+v: %v", e, err)
	}
	return seq
}

// evalBanner evaluates banner for juan (not an allowed user) with the
// client key through /v1/evaluate and OFREP, and checks that both agree.
func (f *fixture) evalBanner() (version string, value any, reason string) {
	f.t.Helper()
	status, _, body := f.do("POST", "/v1/evaluate", clientKey, ctxBody(`{"key":"juan"}`))
	if status != 200 {
		f.t.Fatalf("/v1/evaluate: status %d: %s", status, body)
	}
	r := decode[evalResponse](f.t, body)
	b := r.Flags["banner"]
	status, _, body = f.do("POST", "/ofrep/v1/evaluate/flags/banner", clientKey, ctxBody(`{"targetingKey":"juan"}`), "Content-Type", "application/json")
	o := decode[ofrepResult](f.t, body)
	if status != 200 || o.Value != b.Value || o.Reason != b.Reason || o.Metadata["version"] != r.Version {
		f.t.Fatalf("OFREP says %d %s; /v1/evaluate says %v %s at %s", status, body, b.Value, b.Reason, r.Version)
	}
	return r.Version, b.Value, b.Reason
}

// A layer entry reaches every surface as a patch of that override alone,
// with the served version git version + counter; its tombstone brings the
// flag back to its rules and hides git's own override until git drops it.
func TestLayerSetAndClear(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"))
	s := f.openStream("/v1/stream", serverKey)
	if put := s.next(false); put.Event != "put" || put.ID != "v1" {
		t.Fatalf("first event %+v, want a put of v1 (counter 0 is the bare git version)", put)
	}
	ctxJSON := base64.RawURLEncoding.EncodeToString([]byte(`{"key":"juan"}`))
	evaluated := f.openStream("/v1/stream/evaluated?context="+ctxJSON, clientKey)
	if put := evaluated.next(false); !strings.Contains(put.Data, `"banner":{"value":false`) {
		t.Fatalf("evaluated put %s, want banner false", put.Data)
	}

	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	f.setLayer(store.LayerEntry{Flag: "banner", Override: &ruleset.Override{Flag: "banner", Serve: "on", By: "alice", At: at}})
	ev := s.next(false)
	p := decode[ruleset.Patch](t, []byte(ev.Data))
	if ev.Event != "patch" || ev.ID != "v1-1" || p.Base != "v1" || p.Version != "v1-1" ||
		len(p.Flags) != 0 || len(p.Audiences) != 0 || len(p.Overrides) != 1 || p.Overrides["banner"] == nil || p.Overrides["banner"].Serve != "on" {
		t.Fatalf("event after a set: %+v, want a patch v1→v1-1 of banner's override only", ev)
	}
	if put := evaluated.next(false); put.ID != "v1-1" || !strings.Contains(put.Data, `"banner":{"value":true,"variant":"on","reason":"OVERRIDE"`) {
		t.Fatalf("evaluated stream after a set: %+v", put)
	}
	if v, val, reason := f.evalBanner(); v != "v1-1" || val != true || reason != "OVERRIDE" {
		t.Fatalf("banner for juan = %v %s at %s, want true OVERRIDE at v1-1", val, reason, v)
	}
	status, hdr, body := f.do("GET", "/v1/flags", serverKey, "")
	if doc := decode[ruleset.Document](t, body); status != 200 || hdr.Get("ETag") != `"v1-1"` || doc.Version != "v1-1" || doc.Overrides["banner"] == nil {
		t.Fatalf("/v1/flags: %d ETag %s: %s", status, hdr.Get("ETag"), body)
	}
	if status, _, _ := f.do("GET", "/v1/flags", serverKey, "", "If-None-Match", `"v1-1"`); status != 304 {
		t.Fatalf("If-None-Match of the served version: status %d, want 304", status)
	}

	// Clear: a tombstone. Git now has its own override of banner too (an
	// older one); the tombstone hides it until git drops it.
	f.setLayer(store.LayerEntry{Flag: "banner", By: "bob", At: at.Add(time.Minute)})
	ev = s.next(false)
	if p := decode[ruleset.Patch](t, []byte(ev.Data)); ev.ID != "v1-2" || len(p.Overrides) != 1 || p.Overrides["banner"] != nil {
		t.Fatalf("event after a clear: %+v, want a patch deleting banner's override", ev)
	}
	if v, val, reason := f.evalBanner(); v != "v1-2" || val != false || reason != "DEFAULT" {
		t.Fatalf("banner for juan after a clear = %v %s at %s, want false DEFAULT at v1-2", val, reason, v)
	}
	v2 := testDoc("production", "v2")
	v2.Overrides = map[string]*ruleset.Override{"banner": {Flag: "banner", Environment: "production", Serve: "on", By: "carol", At: at.Add(-time.Hour)}}
	f.publish(v2)
	ev = s.next(false)
	if p := decode[ruleset.Patch](t, []byte(ev.Data)); ev.ID != "v2-2" || p.Base != "v1-2" || !p.Empty() {
		t.Fatalf("event after a publish under a tombstone: %+v, want an empty patch v1-2→v2-2", ev)
	}
	if _, val, reason := f.evalBanner(); val != false || reason != "DEFAULT" {
		t.Fatalf("git's override showed through the tombstone: %v %s", val, reason)
	}

	// A client resuming from an older served version gets a put.
	r := f.openStream("/v1/stream", serverKey, "Last-Event-ID", "v1-1")
	if put := r.next(false); put.Event != "put" || put.ID != "v2-2" {
		t.Fatalf("resume from v1-1: %+v, want a put of v2-2", put)
	}
}

// Overrides of the layer expire by the bearer's clock, like git's.
func TestLayerExpiresByClock(t *testing.T) {
	clk := clockwork.NewFakeClockAt(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
	f := newFixture(t, Options{Clock: clk}, testDoc("production", "v1"))
	exp := clk.Now().Add(time.Hour)
	f.setLayer(store.LayerEntry{Flag: "banner", Override: &ruleset.Override{Flag: "banner", Serve: "on", By: "alice", At: clk.Now(), Expires: &exp}})
	f.waitVersion("production", "v1-1")
	if _, val, reason := f.evalBanner(); val != true || reason != "OVERRIDE" {
		t.Fatalf("before expiry: %v %s, want true OVERRIDE", val, reason)
	}
	clk.Advance(61 * time.Minute)
	if v, val, reason := f.evalBanner(); v != "v1-1" || val != false || reason != "DEFAULT" {
		t.Fatalf("after expiry: %v %s at %s, want false DEFAULT with no new version", val, reason, v)
	}
}

// An entry whose flag git has since removed is left out; the rest loads.
func TestLayerEntryThatNoLongerFits(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"))
	f.setLayer(store.LayerEntry{Flag: "color", Override: &ruleset.Override{Flag: "color", Serve: "blue", At: time.Now()}})
	f.setLayer(store.LayerEntry{Flag: "banner", Override: &ruleset.Override{Flag: "banner", Serve: "on", At: time.Now()}})
	v2 := testDoc("production", "v2")
	v2.Flags = v2.Flags.With(map[string]*ruleset.Flag{"color": nil})
	f.publish(v2)
	f.waitVersion("production", "v2-2")
	if _, val, reason := f.evalBanner(); val != true || reason != "OVERRIDE" {
		t.Fatalf("banner: %v %s, want the other entry applied", val, reason)
	}
	if st := f.srv.hub("production").cur.Load(); st.doc.Overrides["color"] != nil {
		t.Fatal("an entry of a removed flag was applied")
	}
}
