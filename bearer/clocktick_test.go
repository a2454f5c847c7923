package bearer

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/ruleset"
)

// clockDoc is testDoc with a client flag that a schedule turns on at
// christmas and a server-only flag whose schedule step changes nothing a
// client key sees.
func clockDoc(version string) *ruleset.Document {
	doc := testDoc("production", version)
	on := true
	doc.Flags = doc.Flags.With(map[string]*ruleset.Flag{"holiday": {Key: "holiday", Client: true, Type: ruleset.TypeBoolean, Variants: boolVariants(),
		Enabled: false, Off: "off", Default: "on", Metadata: map[string]any{"team": "growth", "tier": 2.0},
		Schedule: []ruleset.ScheduleStep{{At: christmas, Enabled: &on}}}})
	doc.Flags.Get("checkout-v2").Schedule = []ruleset.ScheduleStep{{At: christmas.Add(-time.Minute), Default: "on"}}
	return doc
}

var christmas = time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC)

// waitTick waits until the hub's clock timer is armed for at (the zero
// time: disarmed, no boundary ahead).
func (f *fixture) waitTick(env string, at time.Time) {
	f.t.Helper()
	want := int64(0)
	if !at.IsZero() {
		want = at.UnixNano()
	}
	waitUntil(f.t, "clock timer of "+env+" armed for "+at.String(), func() bool {
		h := f.srv.hub(env)
		return h != nil && h.nextTick.Load() == want
	})
}

// An evaluated stream is re-sent when a schedule step passes on the
// bearer's clock, without a new version, and only when its results change.
func TestEvaluatedStreamClockTick(t *testing.T) {
	clock := clockwork.NewFakeClockAt(christmas.Add(-time.Hour))
	f := newFixture(t, Options{Clock: clock, PingInterval: time.Hour}, clockDoc("v1"))
	ctx := base64.RawURLEncoding.EncodeToString([]byte(`{"key":"bob"}`))
	s := f.openStream("/v1/stream/evaluated?context="+ctx, clientKey)
	put := decode[evalResponse](t, []byte(s.next(false).Data))
	if put.Flags["holiday"].Value != false {
		t.Fatalf("before christmas: %+v", put.Flags["holiday"])
	}
	// The server-only flag's step passes: evaluated, not re-sent.
	f.waitTick("production", christmas.Add(-time.Minute))
	_, _, sb := f.do("GET", "/v1/status", "", "")
	if st := decode[Status](t, sb); !st.Environments["production"].NextClockChange.Equal(christmas.Add(-time.Minute)) {
		t.Errorf("status: next clock change %v, want %v", st.Environments["production"].NextClockChange, christmas.Add(-time.Minute))
	}
	clock.Advance(59 * time.Minute)
	f.waitTick("production", christmas)
	waitUntil(t, "the stream re-evaluated at the tick", func() bool { return f.srv.streamEvals.Load() == 2 })
	clock.Advance(time.Minute)
	ev := s.next(false)
	if ev.Event != "put" || ev.ID != "v1" {
		t.Fatalf("after the step: %+v, want a put of v1", ev)
	}
	got := decode[evalResponse](t, []byte(ev.Data))
	if h := got.Flags["holiday"]; h.Value != true || h.Reason != "DEFAULT" {
		t.Errorf("holiday after the step: %+v", h)
	}
	if m := got.Flags["holiday"].Metadata; m["team"] != "growth" || m["tier"] != 2.0 {
		t.Errorf("metadata: %v", m)
	}
	f.waitTick("production", time.Time{}) // no boundary ahead: disarmed
}

// The OFREP bulk ETag follows the results: the same before a boundary,
// different after it, so that polling providers see the flip.
func TestOFREPETagAtBoundary(t *testing.T) {
	clock := clockwork.NewFakeClockAt(christmas.Add(-time.Hour))
	f := newFixture(t, Options{Clock: clock}, clockDoc("v1"))
	body := ctxBody(`{"targetingKey":"bob"}`)
	_, h1, b1 := f.do("POST", "/ofrep/v1/evaluate/flags", clientKey, body)
	etag := h1.Get("ETag")
	if status, _, b := f.do("POST", "/ofrep/v1/evaluate/flags", clientKey, body, "If-None-Match", etag); status != http.StatusNotModified {
		t.Fatalf("same time: %d, want 304: %s", status, b)
	}
	clock.Advance(time.Hour)
	status, h2, b2 := f.do("POST", "/ofrep/v1/evaluate/flags", clientKey, body, "If-None-Match", etag)
	if status != http.StatusOK || h2.Get("ETag") == etag {
		t.Fatalf("after the step: %d ETag %s (was %s)\n%s\n%s", status, h2.Get("ETag"), etag, b1, b2)
	}
	type ofrepFlag struct {
		Key      string
		Value    any
		Metadata map[string]any
	}
	bulk := decode[struct{ Flags []ofrepFlag }](t, b2)
	for _, fl := range bulk.Flags {
		if fl.Key == "holiday" && (fl.Value != true || fl.Metadata["team"] != "growth" || fl.Metadata["version"] != "v1") {
			t.Errorf("holiday: %+v", fl)
		}
	}
}

// A client key gets the evaluated value of a client flag whose
// prerequisite is a server-only flag, and learns nothing of that
// prerequisite: not its value, not its rules.
func TestClientKeyPrerequisite(t *testing.T) {
	doc := testDoc("production", "v1")
	doc.Flags = doc.Flags.With(map[string]*ruleset.Flag{"gated": {Key: "gated", Client: true, Type: ruleset.TypeBoolean, Variants: boolVariants(),
		Enabled: true, Off: "off", Default: "on", Requires: []ruleset.Prerequisite{{Flag: "checkout-v2", Variants: []string{"on"}}}}})
	f := newFixture(t, Options{}, doc)
	for c, want := range map[string]any{`{"key":"bob","state":"CA"}`: true, `{"key":"bob","state":"NY"}`: false} {
		status, _, b := f.do("POST", "/v1/evaluate", clientKey, ctxBody(c))
		got := decode[evalResponse](t, b)
		if status != http.StatusOK || got.Flags["gated"].Value != want {
			t.Errorf("%s: %d %s, want gated %v", c, status, b, want)
		}
		if _, leaked := got.Flags["checkout-v2"]; leaked || strings.Contains(string(b), "state") {
			t.Errorf("%s: the answer to a client key shows the prerequisite: %s", c, b)
		}
		_, _, ob := f.do("POST", "/ofrep/v1/evaluate/flags", clientKey, ctxBody(c))
		if strings.Contains(string(ob), "checkout-v2") || strings.Contains(string(ob), "state") {
			t.Errorf("%s: OFREP bulk shows the prerequisite: %s", c, ob)
		}
	}
	if status, _, _ := f.do("POST", "/ofrep/v1/evaluate/flags/checkout-v2", clientKey, ctxBody(`{}`)); status != http.StatusNotFound {
		t.Errorf("OFREP checkout-v2 with a client key: %d, want 404", status)
	}
}
