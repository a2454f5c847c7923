package syncer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/loader/source"
	"github.com/flagpole/flagpole/loader/syncer"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
)

// layerKey is the production server key of layerRepo.
const layerKey = "fp_srv_layer_test_0123456789"

// layerRepo is a repository with one rule-less boolean flag, alpha (on for everyone, reason STATIC),
// and, when override is not empty, that file as alpha's production
// override.
func layerRepo(override string) map[string]string {
	sum := sha256.Sum256([]byte(layerKey))
	files := map[string]string{
		"flagpole.yaml": "version: 1\nenvironments: [production]\nkeys:\n  - {name: svc, environment: production, kind: server, sha256: " +
			hex.EncodeToString(sum[:]) + "}\n",
		"flags/alpha.yaml": "key: alpha\nenabled: true\ndefault: on\n",
	}
	if override != "" {
		files["overrides/production/alpha.yaml"] = override
	}
	return files
}

// overrideYAML is an override file of alpha.
func overrideYAML(serve, by string, at time.Time) string {
	return fmt.Sprintf("flag: alpha\nenvironment: production\nserve: %s\nby: %s\nat: %s\n", serve, by, at.Format(time.RFC3339))
}

// startBearer runs a bearer on its own connection to Redis at url and
// returns its base URL.
func startBearer(t testing.TB, url string) string {
	t.Helper()
	return serveBearer(t, openRedis(t, url), testLogger(t))
}

// openRedis connects to Redis at url until the test ends.
func openRedis(t testing.TB, url string) *redisstore.Redis {
	t.Helper()
	st, err := redisstore.New(context.Background(), url, redisstore.Options{HealthInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// etag returns the ETag of a bearer's /v1/flags.
func etag(url string) (string, error) {
	req, _ := http.NewRequest(http.MethodGet, url+"/v1/flags", nil)
	req.Header.Set("Authorization", "Bearer "+layerKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return resp.Header.Get("ETag"), nil
}

// The override layer against a real git remote, Redis, two bearers and the
// SDK: a set reaches both bearers and the SDK; a commit holding another
// override does not undo it; the write-back's commit (same at and by)
// drops it; a clear is a tombstone until git drops the file; after
// FLUSHALL git is rebuilt and the layer can be set again.
func TestLayerReconcilesWithGit(t *testing.T) {
	ctx := t.Context()
	r := newGitRemote(t)
	redis := redistest.Start(t)
	st := openRedis(t, redis.URL())
	c1 := r.commitPush(layerRepo(""), "alpha")
	src, err := source.NewGit(source.GitOptions{URL: r.bare, Poll: -1, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := syncer.New(syncer.Options{Source: src, Store: st, Logger: testLogger(t), CheckInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runSyncer(t, s)
	b1, b2 := startBearer(t, redis.URL()), startBearer(t, redis.URL())
	served := func(version string) func() error {
		return func() error {
			for _, b := range []string{b1, b2} {
				if tag, err := etag(b); err != nil || tag != `"`+version+`"` {
					return fmt.Errorf("bearer %s serves %s (%v), want %s", b, tag, err, version)
				}
			}
			return nil
		}
	}
	waitFor(t, "both bearers serve the first commit", served(c1[:12]))
	c, err := sdk.New(ctx, sdk.Options{URL: b1, Key: layerKey, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sees := func(version string, value bool, reason ruleset.Reason) func() error {
		return func() error {
			d := c.BoolDetail("alpha", sdk.Context{"key": "u1"}, !value)
			if d.Version != version || d.Value != value || d.Reason != reason {
				return fmt.Errorf("SDK: alpha = %v (%s) at %s; want %v (%s) at %s", d.Value, d.Reason, d.Version, value, reason, version)
			}
			return nil
		}
	}
	layer := func(seq uint64, entries int) func() error {
		return func() error {
			l, err := st.Layer(ctx, "production")
			if err != nil || l.Seq != seq || len(l.Entries) != entries {
				return fmt.Errorf("layer = %+v, %v; want seq %d with %d entries", l, err, seq, entries)
			}
			return nil
		}
	}

	// Set: both bearers and the SDK.
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	kill := &ruleset.Override{Flag: "alpha", Serve: "off", By: "alice", At: at}
	if _, err := st.SetOverride(ctx, "production", store.LayerEntry{Flag: "alpha", Override: kill}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the set at both bearers", served(c1[:12]+"-1"))
	waitFor(t, "the set at the SDK", sees(c1[:12]+"-1", false, ruleset.ReasonOverride))

	// A commit holding an older override of alpha does not undo the layer.
	c2 := r.commitPush(layerRepo(overrideYAML("on", "bob", at.Add(-time.Hour))), "an older override")
	s.Trigger()
	waitFor(t, "the older override synced", served(c2[:12]+"-1"))
	waitFor(t, "the layer still winning at the SDK", sees(c2[:12]+"-1", false, ruleset.ReasonOverride))
	if err := layer(1, 1)(); err != nil {
		t.Fatal(err)
	}

	// The write-back's commit: same at and by; the entry is dropped.
	c3 := r.commitPush(layerRepo(overrideYAML("off", "alice", at)), "write-back")
	s.Trigger()
	waitFor(t, "the entry dropped", layer(2, 0))
	waitFor(t, "git's override at the SDK", sees(c3[:12]+"-2", false, ruleset.ReasonOverride))

	// Clear: a tombstone until git no longer has the file.
	if _, err := st.SetOverride(ctx, "production", store.LayerEntry{Flag: "alpha", By: "bob", At: at.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the clear at the SDK", sees(c3[:12]+"-3", true, ruleset.ReasonStatic))
	if err := os.Remove(filepath.Join(r.work, "overrides", "production", "alpha.yaml")); err != nil {
		t.Fatal(err)
	}
	c4 := r.commitPush(nil, "clear write-back")
	s.Trigger()
	waitFor(t, "the tombstone dropped", layer(4, 0))
	waitFor(t, "the cleared commit at both bearers", served(c4[:12]+"-4"))

	// FLUSHALL: git is rebuilt (counter 0: the bare git version) and the
	// layer can be set again.
	if err := st.Client().FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rebuild from git at both bearers", served(c4[:12]))
	waitFor(t, "the rebuild at the SDK", sees(c4[:12], true, ruleset.ReasonStatic))
	if _, err := st.SetOverride(ctx, "production", store.LayerEntry{Flag: "alpha", Override: kill}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a set after the flush at both bearers", served(c4[:12]+"-1"))
	waitFor(t, "a set after the flush at the SDK", sees(c4[:12]+"-1", false, ruleset.ReasonOverride))
}
