package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
)

// stagingServerKey is the demo server key of staging (flags.example/DEMO-KEYS.md).
const stagingServerKey = "fp_srv_stg_94662701edb9f20303d6458d3710db5e"

// settingsTwoEnvs is a flagpole.yaml with production and staging, each with
// its demo server key; settingsProdOnly is the same with staging removed.
const (
	settingsProdOnly = `version: 1
environments: [production]
keys:
  - name: checkout-service
    environment: production
    kind: server
    sha256: 95fe4dd29e97f55f4b49252394bea54b7ac646408ab6c005baa9e3811da847fb
`
	settingsTwoEnvs = `version: 1
environments: [production, staging]
keys:
  - name: checkout-service
    environment: production
    kind: server
    sha256: 95fe4dd29e97f55f4b49252394bea54b7ac646408ab6c005baa9e3811da847fb
  - name: checkout-service-staging
    environment: staging
    kind: server
    sha256: dbb324103cc004e31e2246e0924de507b2ea906b3ed723d2a3d5e5b1293a6526
`
)

// twoEnvRepo writes a one-flag repository with production and staging.
func twoEnvRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "flags"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "flagpole.yaml"), settingsTwoEnvs)
	writeFile(t, filepath.Join(dir, "flags", "checkout-v2.yaml"), checkoutDisabled)
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// openStream opens GET /v1/stream with key and returns a channel closed
// when the stream ends.
func openStream(t *testing.T, url, key string) <-chan struct{} {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, url+"/v1/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /v1/stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("GET /v1/stream: %d", resp.StatusCode)
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
		}
	}()
	return ended
}

func flagsCode(t *testing.T, d *daemon, key string) int {
	code, _, _ := get(t, d.url+"/v1/flags", key)
	return code
}

// statusHasEnv reports whether d's /v1/status lists env among what it serves.
func statusHasEnv(t *testing.T, d *daemon, env string) bool {
	envs, _ := status(t, d)["environments"].(map[string]any)
	_, ok := envs[env]
	return ok
}

// checkRevoked waits until d refuses the staging key, has closed the staging
// stream and no longer shows staging, while production keeps serving.
func checkRevoked(t *testing.T, d *daemon, stream <-chan struct{}) {
	t.Helper()
	waitFor(t, "the staging key to be refused at "+d.url, func() bool { return flagsCode(t, d, stagingServerKey) == http.StatusUnauthorized })
	waitFor(t, "the staging stream to end at "+d.url, func() bool {
		select {
		case <-stream:
			return true
		default:
			return false
		}
	})
	if statusHasEnv(t, d, "staging") {
		t.Errorf("%s: /v1/status still shows staging", d.url)
	}
	if code := flagsCode(t, d, prodServerKey); code != http.StatusOK {
		t.Errorf("%s: production key: %d, want 200", d.url, code)
	}
}

// TestRemovedEnvironmentIsRevoked removes staging (and its key) from
// flagpole.yaml: on serve, on every bearer of a split deployment and on a
// bearer started afterwards, the staging key must stop working, its stream
// end and the environment leave /v1/status and the store.
func TestRemovedEnvironmentIsRevoked(t *testing.T) {
	t.Parallel() // a daemon that mostly waits: overlap it with the others
	t.Run("serve", func(t *testing.T) {
		dir := twoEnvRepo(t)
		d := startDaemon(t, "serve", "--repo", dir)
		waitFor(t, "staging to be served", func() bool { return flagsCode(t, d, stagingServerKey) == http.StatusOK })
		stream := openStream(t, d.url, stagingServerKey)
		writeFile(t, filepath.Join(dir, "flagpole.yaml"), settingsProdOnly)
		checkRevoked(t, d, stream)
	})
	t.Run("split", func(t *testing.T) {
		srv := redistest.Start(t)
		dir := twoEnvRepo(t)
		startDaemon(t, "sync", "--repo", dir, "--redis", srv.URL())
		bearers := []*daemon{
			startDaemon(t, "bearer", "--redis", srv.URL()),
			startDaemon(t, "bearer", "--redis", srv.URL()),
		}
		var streams []<-chan struct{}
		for _, b := range bearers {
			waitFor(t, "staging to be served", func() bool { return flagsCode(t, b, stagingServerKey) == http.StatusOK })
			streams = append(streams, openStream(t, b.url, stagingServerKey))
		}
		writeFile(t, filepath.Join(dir, "flagpole.yaml"), settingsProdOnly)
		for i, b := range bearers {
			checkRevoked(t, b, streams[i])
		}
		rdb := redisClient(t, srv)
		envs, err := rdb.HKeys(context.Background(), "flagpole:envs").Result()
		if err != nil || slices.Contains(envs, "staging") {
			t.Errorf("flagpole:envs = %v (%v), want no staging", envs, err)
		}
		if n, _ := rdb.Exists(context.Background(), "flagpole:snap:staging").Result(); n != 0 {
			t.Error("flagpole:snap:staging still exists")
		}
		late := startDaemon(t, "bearer", "--redis", srv.URL())
		waitFor(t, "the late bearer to serve production", func() bool { return flagsCode(t, late, prodServerKey) == http.StatusOK })
		if code := flagsCode(t, late, stagingServerKey); code != http.StatusUnauthorized {
			t.Errorf("late bearer: staging key: %d, want 401", code)
		}
	})
}

func redisClient(t *testing.T, srv *redistest.Server) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestLostSnapshotIsRepaired deletes and garbles production's snapshot in
// Redis: the syncer's periodic check must republish it, and a bearer
// started while it is missing must not report ready (nor serve without it).
func TestLostSnapshotIsRepaired(t *testing.T) {
	t.Parallel() // a daemon that mostly waits: overlap it with the others
	srv := redistest.Start(t)
	rdb := redisClient(t, srv)
	ctx := context.Background()
	dir := twoEnvRepo(t)
	syncer := startDaemon(t, "sync", "--repo", dir, "--redis", srv.URL())
	first := startDaemon(t, "bearer", "--redis", srv.URL())
	waitFor(t, "production to be served", func() bool { return versionOf(t, first) != "" })
	const key = "flagpole:snap:production"
	want, err := rdb.Get(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, attack := range []func() error{
		func() error { return rdb.Del(ctx, key).Err() },
		func() error { return rdb.Set(ctx, key, "{garbage", 0).Err() },
	} {
		if err := attack(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the syncer to republish production's snapshot", func() bool {
			got, err := rdb.Get(ctx, key).Result()
			return err == nil && got == want // the same snapshot, compressed alike
		})
	}

	// With no syncer to repair it, a new bearer must say what is missing.
	syncer.stop(t)
	if err := rdb.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	late := startDaemon(t, "bearer", "--redis", srv.URL())
	waitFor(t, "the late bearer to load staging", func() bool { return statusHasEnv(t, late, "staging") })
	code, _, body := get(t, late.url+"/readyz", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "production") {
		t.Errorf("readyz without production's snapshot: %d %s, want 503 naming production", code, body)
	}
	if ready, _ := status(t, late)["ready"].(bool); ready {
		t.Error("/v1/status says ready without production's snapshot")
	}

	startDaemon(t, "sync", "--repo", dir, "--redis", srv.URL())
	waitFor(t, "the late bearer to be ready", func() bool {
		code, _, _ := get(t, late.url+"/readyz", "")
		return code == http.StatusOK && flagsCode(t, late, prodServerKey) == http.StatusOK
	})
}
