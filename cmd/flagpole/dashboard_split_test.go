package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
)

// TestDashboardOnSync: in a split deployment the syncer serves the
// dashboard, its breaker figures read from Redis the counts that a
// separate bearer received, and it refuses SDK keys.
func TestDashboardOnSync(t *testing.T) {
	t.Parallel() // daemons that mostly wait
	redis := redistest.Start(t)
	dir := t.TempDir()
	copyDir(t, exampleRepo(t), dir)
	sy := startDaemon(t, "sync", "--repo", dir, "--redis", redis.URL())
	b := startDaemon(t, "bearer", "--redis", redis.URL())
	waitFor(t, "the bearer to load the rule set", func() bool { return versionOf(t, b) != "" })

	if code, _, _ := get(t, sy.url+"/ui/api/flags", prodServerKey); code != http.StatusForbidden {
		t.Errorf("a server key on the syncer's dashboard: %d, want 403", code)
	}
	if code, _, body := get(t, sy.url+"/ui/", ""); code != http.StatusOK || !strings.Contains(string(body), "Flagpole dashboard") {
		t.Errorf("GET /ui/ on sync: %d", code)
	}
	// Counts are sent again while waiting, so that the flag's 10 s window
	// is never empty on a slow machine; every batch fails 2 calls in 5.
	waitFor(t, "the syncer's dashboard to show the bearer's counts", func() bool {
		code, _, _ := do(t, http.MethodPost, b.url+"/v1/metrics", prodServerKey,
			strings.NewReader(`{"counts":[{"flag":"recommendations-v2","variant":"on","success":3,"failure":2}]}`), nil)
		if code != http.StatusOK {
			t.Fatalf("POST /v1/metrics: %d", code)
		}
		code, _, body := get(t, sy.url+"/ui/api/breakers", demoViewerKey)
		if code != http.StatusOK {
			return false
		}
		var out struct {
			Breakers []struct {
				Environment, Flag string
				Counts            struct{ Success, Failure int }
				ErrorRate         float64 `json:"error_rate"`
			}
		}
		if json.Unmarshal(body, &out) != nil {
			return false
		}
		for _, br := range out.Breakers {
			if br.Environment == "production" && br.Flag == "recommendations-v2" {
				return br.Counts.Failure > 0 && 2*br.Counts.Success == 3*br.Counts.Failure && br.ErrorRate == 40
			}
		}
		return false
	})
}
