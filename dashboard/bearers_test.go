package dashboard

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/flagpole/flagpole/store"
)

// GET /ui/api/sync lists the bearers the store records, stale ones marked
// by the dashboard's clock, with only the environments the key sees.
func TestSyncBearers(t *testing.T) {
	f := newFixture(t, Options{})
	now := f.clock.Now()
	rec := func(id string, seen time.Time) *store.BearerInfo {
		return &store.BearerInfo{ID: id, Address: "10.0.0.9:8080", Version: "v1.0.0", Started: now.Add(-time.Hour), LastSeen: seen,
			Envs: map[string]store.BearerEnv{
				"production": {Version: "p1", Streams: store.StreamCounts{SDK: 4, Evaluated: 1}},
				"staging":    {Version: "s1", Streams: store.StreamCounts{OFREP: 2}},
			}}
	}
	for _, b := range []*store.BearerInfo{rec("fresh-1-aa", now.Add(-2*time.Second)), rec("stale-2-bb", now.Add(-30*time.Second))} {
		if err := f.st.PutBearer(context.Background(), b, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	type answer struct {
		Now     time.Time          `json:"now"`
		Bearers []store.BearerView `json:"bearers"`
	}
	code, body := f.do("GET", "/ui/api/sync", viewerKey, "")
	if code != http.StatusOK {
		t.Fatalf("sync: %d %s", code, body)
	}
	a := decode[answer](t, body)
	if len(a.Bearers) != 2 || !a.Now.Equal(now) {
		t.Fatalf("sync answered %s: want two bearers and now %s", body, now)
	}
	fresh, stale := a.Bearers[0], a.Bearers[1]
	if fresh.ID != "fresh-1-aa" || fresh.Stale || fresh.Address != "10.0.0.9:8080" || fresh.Envs["production"].Streams.SDK != 4 || fresh.Envs["staging"].Version != "s1" {
		t.Errorf("fresh bearer %+v", fresh)
	}
	if stale.ID != "stale-2-bb" || !stale.Stale {
		t.Errorf("stale bearer %+v: want stale", stale)
	}

	// A key for staging sees staging only.
	_, body = f.do("GET", "/ui/api/sync", stagingViewer, "")
	a = decode[answer](t, body)
	if len(a.Bearers) != 2 || len(a.Bearers[0].Envs) != 1 || a.Bearers[0].Envs["staging"].Streams.OFREP != 2 {
		t.Errorf("staging viewer sees %s", body)
	}

	// No key: nothing.
	if code, body := f.do("GET", "/ui/api/sync", "", ""); code != http.StatusUnauthorized {
		t.Errorf("no key: %d %s", code, body)
	}
}
