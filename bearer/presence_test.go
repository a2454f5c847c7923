package bearer

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/store"
)

// A bearer records itself in Options.Presence: at start, after each rule
// set it loads, at every heartbeat (on its clock) with its open streams by
// kind, and it removes its record when Run returns.
func TestPresenceRecord(t *testing.T) {
	clk := clockwork.NewFakeClock()
	p := store.NewMemory()
	f := newFixture(t, Options{Clock: clk, Presence: p, Advertise: "10.1.2.3:8080", BinaryVersion: "v9.9.9"}, testDoc("production", "v1"))
	record := func() (store.BearerInfo, bool) {
		l, err := p.Bearers(context.Background())
		if err != nil || len(l) != 1 {
			return store.BearerInfo{}, false
		}
		return l[0], true
	}
	eventually(t, "record serving production v1", func() bool {
		b, ok := record()
		return ok && b.Envs["production"].Version == "v1"
	})
	b, _ := record()
	host, _ := os.Hostname()
	if b.ID != f.srv.ID() || !strings.HasPrefix(b.ID, fmt.Sprintf("%s-%d-", host, os.Getpid())) || b.Host != host ||
		b.Address != "10.1.2.3:8080" || b.Version != "v9.9.9" || !b.Started.Equal(clk.Now()) {
		t.Errorf("record %+v: want id %s-%d-…, the advertised address, version and start", b, host, os.Getpid())
	}

	// A new rule set is recorded without waiting for a heartbeat.
	f.publish(testDoc("production", "v2"))
	eventually(t, "record serving production v2", func() bool {
		b, ok := record()
		return ok && b.Envs["production"].Version == "v2"
	})

	// Streams are counted by kind at the next heartbeat.
	sdk := f.openStream("/v1/stream", serverKey)
	if ev := sdk.next(false); ev.Event != "put" {
		t.Fatalf("first event %+v", ev)
	}
	ev := f.openStream("/v1/stream/evaluated", clientKey)
	if e := ev.next(false); e.Event != "put" {
		t.Fatalf("first evaluated event %+v", e)
	}
	uri, _ := f.eventStreamURI(clientKey)
	ofrep := f.openStream(uri, "")
	if e := ofrep.next(false); e.Event == "" {
		t.Fatalf("first OFREP event %+v", e)
	}
	eventually(t, "a heartbeat with one stream of each kind", func() bool {
		clk.Advance(store.HeartbeatInterval)
		b, ok := record()
		return ok && b.Envs["production"].Streams == store.StreamCounts{SDK: 1, Evaluated: 1, OFREP: 1} && b.LastSeen.After(b.Started)
	})

	// Stopping removes the record before Run returns.
	f.stop()
	if l, err := p.Bearers(context.Background()); err != nil || len(l) != 0 {
		t.Errorf("after Run returned: %v, %v; want no record", l, err)
	}
}
