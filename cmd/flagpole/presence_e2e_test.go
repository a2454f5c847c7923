package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/store"
)

// TestBearersSeenFromSync: in a split deployment the syncer, which runs no
// bearer, lists the bearers reading its Redis (dashboard and keyed
// /v1/status, not the anonymous status); a bearer stopped with SIGTERM is
// gone at once, one killed outright turns stale and then expires.
func TestBearersSeenFromSync(t *testing.T) {
	t.Parallel() // daemons that mostly wait
	redis := redistest.Start(t)
	dir := t.TempDir()
	copyDir(t, exampleRepo(t), dir)
	sy := startDaemon(t, "sync", "--repo", dir, "--redis", redis.URL())
	b1 := startDaemon(t, "bearer", "--redis", redis.URL())
	b2 := startDaemon(t, "bearer", "--redis", redis.URL())
	waitFor(t, "the bearers to load the rule set", func() bool { return versionOf(t, b1) != "" && versionOf(t, b2) != "" })
	rules := versionOf(t, b1)

	// bearers returns the syncer's dashboard list by address.
	bearers := func() map[string]store.BearerView {
		code, _, body := get(t, sy.url+"/ui/api/sync", demoViewerKey)
		var out struct{ Bearers []store.BearerView }
		if code != http.StatusOK || json.Unmarshal(body, &out) != nil {
			t.Fatalf("GET /ui/api/sync: %d %s", code, body)
		}
		m := map[string]store.BearerView{}
		for _, b := range out.Bearers {
			m["http://"+b.Address] = b
		}
		return m
	}
	waitFor(t, "both bearers serving production in the syncer's Sync view", func() bool {
		m := bearers()
		return len(m) == 2 && m[b1.url].Envs["production"].Version == rules && m[b2.url].Envs["production"].Version == rules
	})
	// Version is the binary's (the test binary is built without -ldflags).
	if b := bearers()[b1.url]; b.Version != version || b.Stale || b.Host == "" || !strings.HasPrefix(b.ID, b.Host+"-") {
		t.Errorf("bearer record %+v: want version %s, not stale, id starting with its host", b, version)
	}

	// /v1/status: with a viewer key only.
	_, _, anon := get(t, sy.url+"/v1/status", "")
	if strings.Contains(string(anon), `"bearers"`) || strings.Contains(string(anon), strings.TrimPrefix(b1.url, "http://")) {
		t.Errorf("anonymous status shows bearers: %s", anon)
	}
	_, _, keyed := get(t, sy.url+"/v1/status", demoViewerKey)
	if !strings.Contains(string(keyed), `"address":"`+strings.TrimPrefix(b1.url, "http://")+`"`) {
		t.Errorf("status with a viewer key lacks bearer %s: %s", b1.url, keyed)
	}
	_, _, sdk := get(t, sy.url+"/v1/status", prodServerKey)
	if strings.Contains(string(sdk), `"bearers"`) {
		t.Errorf("status with an SDK key shows bearers: %s", sdk)
	}

	// SIGTERM: the record is removed before the process exits.
	b1.stop(t)
	if _, ok := bearers()[b1.url]; ok {
		t.Errorf("bearer %s still listed after a graceful stop", b1.url)
	}
	// SIGKILL: listed until its record expires, stale once heartbeats stop.
	_ = b2.cmd.Process.Kill()
	<-b2.done
	deadline := time.Now().Add(store.BearerTTL + eventually)
	sawStale := false
	for {
		b, ok := bearers()[b2.url]
		if !ok {
			break
		}
		sawStale = sawStale || b.Stale
		if time.Now().After(deadline) {
			t.Fatalf("killed bearer still listed %s after it died", store.BearerTTL+eventually)
		}
		time.Sleep(100 * time.Millisecond) // poll
	}
	if !sawStale {
		t.Errorf("the killed bearer was never shown stale before it expired")
	}
}
