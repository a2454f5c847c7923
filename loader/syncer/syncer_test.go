package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/loader/source"
	"github.com/flagpole/flagpole/loader/syncer"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
)

func newDirSyncer(t *testing.T, root string, st store.Store, reg prometheus.Registerer) *syncer.Syncer {
	t.Helper()
	return newDirSyncerOn(t, root, st, reg, nil)
}

// newDirSyncerOn is newDirSyncer on clk (nil: the real clock).
func newDirSyncerOn(t *testing.T, root string, st store.Store, reg prometheus.Registerer, clk clockwork.Clock) *syncer.Syncer {
	t.Helper()
	// No settle: the files were written just now, and a source that reads
	// them again once they settle would republish at a time of its own,
	// racing the tests of the syncer's own check (a second read after a
	// Redis restart finds the store empty and republishes).
	src, err := source.NewDir(root, source.DirOptions{Settle: -1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := syncer.New(syncer.Options{Source: src, Store: st, Registerer: reg, Logger: testLogger(t), CheckInterval: 50 * time.Millisecond, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSyncDirectoryKeepsLastGood(t *testing.T) {
	root := filepath.Join(t.TempDir(), "repo")
	writeFiles(t, root, goodRepo("one"))
	mem := store.NewMemory()
	reg := prometheus.NewRegistry()
	s := newDirSyncer(t, root, mem, reg)
	runSyncer(t, s)

	waitFor(t, "first publish", hasDesc(mem, "production", "one"))
	prod, _ := mem.Snapshot(context.Background(), "production")
	stg, _ := mem.Snapshot(context.Background(), "staging")
	if len(prod.Keys) != 1 || prod.Keys[0].Name != "svc" || len(stg.Keys) != 0 {
		t.Errorf("keys: production %v, staging %v; want svc only in production", prod.Keys, stg.Keys)
	}
	if len(prod.Version) != 12 || prod.Document.Version != prod.Version || len(prod.Document.Commit) != 64 {
		t.Errorf("version %q, document version %q, commit %q: want a 12-char version and the full hash", prod.Version, prod.Document.Version, prod.Document.Commit)
	}
	// The compiled rule set travels with the Document, for a bearer in
	// this process to serve instead of compiling its own.
	for _, snap := range []*store.Snapshot{prod, stg} {
		if snap.Compiled == nil || snap.Compiled.Document() != snap.Document {
			t.Errorf("%s: Compiled %v is not the Document's compiled rule set", snap.Environment, snap.Compiled)
		}
	}
	good := prod.Version

	// An invalid edit: never published, the error names file and line.
	writeFiles(t, root, badRepo())
	waitFor(t, "validation error in status", hasError(s, "loading revision"))
	st := s.Status()
	if st.Published != prod.Document.Commit || st.Commit == st.Published {
		t.Errorf("status commit %q published %q: want the bad commit seen and the good one published", st.Commit, st.Published)
	}
	if len(st.LastError.Problems) == 0 || !strings.HasPrefix(st.LastError.Problems[0], "flags/alpha.yaml:3:") {
		t.Errorf("problems = %q, want flags/alpha.yaml:3:…", st.LastError.Problems)
	}
	if st.LastError.Commit != st.Commit || st.LastError.At.IsZero() {
		t.Errorf("last error = %+v", st.LastError)
	}
	if cur, _ := mem.Snapshot(context.Background(), "production"); cur.Version != good {
		t.Fatalf("invalid revision published: version %s, want %s", cur.Version, good)
	}
	waitFor(t, "the error in the stored status", func() error {
		stored, err := mem.Status(context.Background())
		if err != nil || stored.LastError == nil {
			return fmt.Errorf("status in the store = %+v, %v; want the error", stored, err)
		}
		return nil
	})
	if got := counter(t, reg, "flagpole_sync_failures_total", "validate"); got != 1 {
		t.Errorf("validate failures = %v, want 1", got)
	}

	// A later good edit publishes and clears the error.
	writeFiles(t, root, goodRepo("two"))
	waitFor(t, "second publish", hasDesc(mem, "staging", "two"))
	waitFor(t, "error cleared", func() error {
		if e := s.Status().LastError; e != nil {
			return fmt.Errorf("still %q", e.Message)
		}
		return nil
	})
	cur, _ := mem.Snapshot(context.Background(), "production")
	if v := versionInfo(t, reg); v["production"] != cur.Version || v["staging"] != cur.Version {
		t.Errorf("version info = %v, want %s for both", v, cur.Version)
	}
	if counter(t, reg, "flagpole_sync_last_success_timestamp_seconds", "") == 0 {
		t.Error("last success time not set")
	}
}

func TestSyncGitRemote(t *testing.T) {
	r := newGitRemote(t)
	srv := redistest.Start(t)
	st, err := redisstore.New(t.Context(), srv.URL(), redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c1 := r.commitPush(goodRepo("one"), "first")
	src, err := source.NewGit(source.GitOptions{URL: r.bare, Poll: -1, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	notified := map[string]int{}
	onError := func(reason string, e store.SyncError) {
		mu.Lock()
		defer mu.Unlock()
		notified[reason]++
		if reason == syncer.ReasonValidate && len(e.Problems) == 0 {
			t.Errorf("validate notification without problems: %+v", e)
		}
	}
	s, err := syncer.New(syncer.Options{Source: src, Store: st, Logger: testLogger(t), OnError: onError})
	if err != nil {
		t.Fatal(err)
	}
	stop := runSyncer(t, s)
	waitFor(t, "first commit published", hasDesc(st, "production", "one"))
	waitFor(t, "status of the first commit", func() error {
		if got := s.Status(); got.Published != c1 || got.Branch != "main" || got.Source != r.bare {
			return fmt.Errorf("status = %+v", got)
		}
		return nil
	})

	// An invalid commit: the previous version keeps serving.
	bad := r.commitPush(badRepo(), "break it")
	s.Trigger()
	waitFor(t, "validation error", hasError(s, bad[:12]))
	if err := hasDesc(st, "production", "one")(); err != nil {
		t.Fatalf("after the invalid commit: %v", err)
	}
	waitFor(t, "the error in the status in Redis", func() error {
		if got, _ := st.Status(t.Context()); got == nil || got.LastError == nil || got.LastError.Commit != bad {
			return fmt.Errorf("status in Redis = %+v, want the error of %s", got, bad)
		}
		return nil
	})

	// Force-push over the bad commit.
	r.git(r.work, "reset", "--quiet", "--hard", c1)
	c3 := r.commitPush(goodRepo("three"), "rewritten", "--force")
	s.Trigger()
	waitFor(t, "force-pushed commit published", hasDesc(st, "production", "three"))
	// The status follows the last environment's publish.
	waitFor(t, "status after the force-push", func() error {
		if got := s.Status(); got.LastError != nil || got.Published != c3 {
			return fmt.Errorf("c3 %s: status = %+v, error %+v", c3, got, got.LastError)
		}
		return nil
	})

	// The branch is deleted: serving continues, the error is reported.
	r.git(r.work, "push", "--quiet", "origin", "--delete", "main")
	s.Trigger()
	waitFor(t, "deleted-branch error", hasError(s, "branch not found"))
	if err := hasDesc(st, "production", "three")(); err != nil {
		t.Fatalf("after deleting the branch: %v", err)
	}
	// It comes back: the error clears without a new publish.
	r.git(r.work, "push", "--quiet", "origin", "main")
	noError := func() error {
		if e := s.Status().LastError; e != nil {
			return errors.New(e.Message)
		}
		return nil
	}
	waitFor(t, "recovery", noError)

	// The remote becomes unreachable: serving continues, the error is
	// reported and retried (with backoff, no trigger needed) until it is back.
	if err := os.Rename(r.bare, r.bare+".away"); err != nil {
		t.Fatal(err)
	}
	s.Trigger()
	waitFor(t, "unreachable-remote error", hasError(s, "fetching branch main"))
	if err := hasDesc(st, "production", "three")(); err != nil {
		t.Fatalf("while the remote is unreachable: %v", err)
	}
	if err := os.Rename(r.bare+".away", r.bare); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "recovery after the remote returns", noError)

	// One notification per distinct error, not one per retry.
	stop()
	mu.Lock()
	defer mu.Unlock()
	if notified[syncer.ReasonValidate] != 1 || notified[syncer.ReasonFetch] < 1 || notified[syncer.ReasonFetch] > 2 {
		t.Errorf("notifications = %v, want 1 validate and 1–2 fetch (deleted branch, unreachable remote)", notified)
	}
}

func TestSyncRepublishesAfterRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	open := func() *redisstore.Redis {
		st, err := redisstore.New(t.Context(), srv.URL(), redisstore.Options{HealthInterval: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	pub, bearer := open(), open()
	root := filepath.Join(t.TempDir(), "repo")
	writeFiles(t, root, goodRepo("one"))
	clk := clockwork.NewFakeClock()
	s := newDirSyncerOn(t, root, pub, nil, clk)
	watch, err := bearer.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	runSyncer(t, s)
	waitFor(t, "first publish", hasDesc(bearer, "production", "one"))
	// Environments are published one after the other: a restart before
	// staging's write would find it in the new Redis.
	waitFor(t, "first publish of staging", hasDesc(bearer, "staging", "one"))

	srv.Restart() // comes back empty
	deadline := time.After(eventually)
	for resync := false; !resync; {
		select {
		case c := <-watch:
			resync = c.Resync
		case <-deadline:
			t.Fatal("watcher got no Resync after the restart")
		}
	}
	// Nothing republishes until the check ticker fires.
	if err := clk.BlockUntilContext(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := bearer.Snapshot(t.Context(), "staging"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("staging before the check: %v, want ErrNotFound", err)
	}
	clk.Advance(50 * time.Millisecond)
	waitFor(t, "republish into the empty Redis", hasDesc(bearer, "staging", "one"))
	waitFor(t, "status rewritten", func() error {
		_, err := bearer.Status(t.Context())
		return err
	})
}

func TestTwoSyncersOneRedis(t *testing.T) {
	srv := redistest.Start(t)
	ttl := time.Second
	mk := func(desc string) (*syncer.Syncer, *redisstore.Redis) {
		st, err := redisstore.New(t.Context(), srv.URL(), redisstore.Options{LockTTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		// Each syncer follows its own copy, so the store shows who published.
		root := filepath.Join(t.TempDir(), "repo")
		writeFiles(t, root, goodRepo(desc))
		src, _ := source.NewDir(root, source.DirOptions{})
		s, err := syncer.New(syncer.Options{Source: src, Store: st, Locker: st, Logger: testLogger(t), CheckInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return s, st
	}
	a, sta := mk("from-a")
	b, _ := mk("from-b")
	watch, err := sta.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	stopA := runSyncer(t, a)
	waitFor(t, "a publishes", hasDesc(sta, "production", "from-a"))
	stopB := runSyncer(t, b)

	// For several lock TTLs only a publishes.
	seenB := func(d time.Duration) bool {
		timeout := time.After(d)
		for {
			select {
			case <-watch:
				if hasDesc(sta, "production", "from-b")() == nil {
					return true
				}
			case <-timeout:
				return hasDesc(sta, "production", "from-b")() == nil
			}
		}
	}
	if seenB(3 * ttl) {
		t.Fatal("the standby published while the leader held the lock")
	}
	if b.Status().Published != "" {
		t.Fatalf("standby status shows a publish: %+v", b.Status())
	}

	// The leader stops: the standby takes over within the TTL.
	stopA()
	start := time.Now()
	waitFor(t, "b takes over", hasDesc(sta, "production", "from-b"))
	t.Logf("handover took %s (lock TTL %s)", time.Since(start), ttl)

	// a comes back as a standby and leads again when b stops: it must
	// publish its revision again although it had published it before.
	runSyncer(t, a)
	stopB()
	waitFor(t, "a leads again", hasDesc(sta, "production", "from-a"))
}

// counter reads a counter (labelled reason=label) or a gauge (label "").
func counter(t *testing.T, g prometheus.Gatherer, name, label string) float64 {
	t.Helper()
	for _, m := range gather(t, g, name) {
		if label == "" {
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
		for _, l := range m.GetLabel() {
			if l.GetName() == "reason" && l.GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// versionInfo returns env → version of the version info gauge.
func versionInfo(t *testing.T, g prometheus.Gatherer) map[string]string {
	out := map[string]string{}
	for _, m := range gather(t, g, "flagpole_sync_version_info") {
		var env, version string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "env":
				env = l.GetValue()
			case "version":
				version = l.GetValue()
			}
		}
		out[env] = version
	}
	return out
}

func gather(t *testing.T, g prometheus.Gatherer, name string) []*dto.Metric {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

// TestSyncRepublishesLostWrite checks that the syncer notices when the store
// holds another version than it published — what a Redis failover that lost
// the last write leaves behind — and publishes its own again.
func TestSyncRepublishesLostWrite(t *testing.T) {
	st := store.NewMemory()
	root := filepath.Join(t.TempDir(), "repo")
	writeFiles(t, root, goodRepo("current"))
	s := newDirSyncer(t, root, st, nil)
	runSyncer(t, s)
	waitFor(t, "first publish", hasDesc(st, "production", "current"))

	current, err := st.Snapshot(t.Context(), "production")
	if err != nil {
		t.Fatal(err)
	}
	stale := *current
	stale.Version = "older-version"
	stale.Document = current.Document.Clone()
	stale.Document.Version = stale.Version
	stale.Document.Flags.Get("alpha").Description = "older"
	if err := st.Publish(t.Context(), &stale); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the syncer to republish over the older version", hasDesc(st, "production", "current"))
}
