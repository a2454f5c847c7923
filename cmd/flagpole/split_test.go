package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/sdk"
)

// TestSplitDeployment runs two syncers and two bearers on one Redis: only
// the leader publishes, SDKs on either bearer follow changes, a stopped
// leader hands over to the standby, and a Redis restart (which empties it)
// is survived: bearers keep serving, the syncer republishes.
func TestSplitDeployment(t *testing.T) {
	t.Parallel() // a daemon that mostly waits: overlap it with the others
	redis := redistest.Start(t)
	dir := t.TempDir()
	copyDir(t, exampleRepo(t), dir)

	syncA := startDaemon(t, "sync", "--repo", dir, "--redis", redis.URL())
	syncB := startDaemon(t, "sync", "--repo", dir, "--redis", redis.URL())
	bearers := []*daemon{
		startDaemon(t, "bearer", "--redis", redis.URL()),
		startDaemon(t, "bearer", "--redis", redis.URL()),
	}
	var clients []*sdk.Client
	for _, b := range bearers {
		waitFor(t, "a bearer to load the rule set", func() bool { return versionOf(t, b) != "" })
		c, err := sdk.New(ctxT(t), sdk.Options{URL: b.url, Key: prodServerKey, ReconnectMax: time.Second})
		if err != nil {
			t.Fatalf("sdk.New: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	const acquired = "leader lock acquired"
	leader, standby := syncA, syncB
	waitFor(t, "one syncer to lead", func() bool {
		return strings.Contains(syncA.Logs(), acquired) || strings.Contains(syncB.Logs(), acquired)
	})
	if strings.Contains(syncB.Logs(), acquired) {
		leader, standby = syncB, syncA
	}
	if strings.Contains(standby.Logs(), acquired) {
		t.Fatal("both syncers hold the leader lock")
	}

	user := sdk.Context{"key": "audrey"}
	setCheckout := func(enabled bool) {
		t.Helper()
		content := strings.Replace(checkoutDisabled, "enabled: false", "enabled: "+map[bool]string{true: "true", false: "false"}[enabled], 1)
		if err := os.WriteFile(filepath.Join(dir, "flags", "checkout-v2.yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		for i, c := range clients {
			waitFor(t, "SDK on bearer "+string(rune('1'+i))+" to see the change", func() bool {
				return c.Bool("checkout-v2", user, !enabled) == enabled
			})
		}
	}
	setCheckout(false)

	leader.stop(t)
	waitFor(t, "the standby to take over", func() bool { return strings.Contains(standby.Logs(), acquired) })
	// Edit right away: the edit may land between the new leader's first
	// scan and its load, which must not publish it under the scan's
	// revision (docs/operations.md, "Failover").
	setCheckout(true)

	// Redis restarts empty: bearers and SDKs keep serving what they have,
	// and the syncer republishes so that the next change flows again.
	redis.Restart()
	for _, b := range bearers {
		if versionOf(t, b) == "" {
			t.Fatalf("bearer %s stopped serving while Redis restarted", b.url)
		}
	}
	setCheckout(false)
}
