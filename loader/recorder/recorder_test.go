package recorder

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/gitx"
	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/loader/writeback"
	"github.com/flagpole/flagpole/notify"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fixture is a memory store holding flags.example's production snapshot,
// the repository's settings and a notification receiver.
type fixture struct {
	st   *store.Memory
	snap *store.Snapshot
	set  loader.Settings
	mu   sync.Mutex
	got  []notify.JSONBody
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	repo, err := loader.Load("../../flags.example", loader.Options{Revision: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: store.NewMemory(), set: repo.Settings}
	doc := repo.Documents["production"]
	delete(doc.Overrides, "checkout-v2") // start without git's override
	f.snap = &store.Snapshot{Environment: "production", Version: doc.Version, Document: doc}
	if err := f.st.Publish(context.Background(), f.snap); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b notify.JSONBody
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &b); err != nil {
			t.Errorf("notification: %v", err)
		}
		f.mu.Lock()
		f.got = append(f.got, b)
		f.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	f.set.Notify = []loader.Notify{{URL: srv.URL, Format: "json"}}
	return f
}

func (f *fixture) notes() []notify.JSONBody {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]notify.JSONBody(nil), f.got...)
}

// run starts a recorder writing to remote (a path) until the test ends.
func (f *fixture) run(t *testing.T, remote string, opts Options) *Recorder {
	t.Helper()
	opts.Store = f.st
	opts.Settings = func() (loader.Settings, bool) { return f.set, true }
	opts.NewWriter = func(wb loader.Writeback, onLanded func(writeback.Landed)) (*writeback.Writer, error) {
		rem, err := gitx.NewRemote(gitx.Options{URL: remote})
		if err != nil {
			return nil, err
		}
		return writeback.New(writeback.Options{Remote: rem, CacheDir: t.TempDir(), Branch: "main",
			Author: wb.Author, OnLanded: onLanded})
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// morePasses waits until r has made n more passes.
func morePasses(t *testing.T, r *Recorder, n int64) {
	t.Helper()
	done := func() int64 {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.passes
	}
	target := done() + n
	waitFor(t, "more passes", func() bool { return done() >= target })
}

func offEntry(at time.Time, expires *time.Time) store.LayerEntry {
	return store.LayerEntry{Flag: "checkout-v2", Requester: "oncall", Override: &ruleset.Override{
		Flag: "checkout-v2", Serve: "off", Reason: "test", By: "alice", At: at, Expires: expires}}
}

// TestWritesBackOnceAndNotifies: a layer entry becomes one commit on the
// remote and one notification that names it, counted on the registry.
func TestWritesBackOnceAndNotifies(t *testing.T) {
	f := newFixture(t)
	g := gitrepo.New(t)
	g.CommitPush(map[string]string{"README": "flags\n"}, "initial")
	reg := prometheus.NewRegistry()
	r := f.run(t, g.Bare, Options{NotifyDelay: time.Minute, CheckInterval: 20 * time.Millisecond, Registerer: reg})
	ctx := context.Background()
	if _, err := f.st.SetOverride(ctx, "production", offEntry(time.Now().UTC(), nil)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the notification", func() bool { return len(f.notes()) == 1 })
	head := g.Git("-C", g.Bare, "rev-parse", "main")
	n := f.notes()[0]
	if n.Event != "override" || n.Action != "set" || n.Commit != head || n.Who != "alice" || n.Variant != "off" {
		t.Errorf("notification %+v; want a set by alice with commit %s", n, head)
	}
	if got := g.Git("-C", g.Bare, "rev-list", "--count", "main"); got != "2" {
		t.Errorf("%s commits, want 2 (initial and the override)", got)
	}
	l, _ := f.st.Layer(ctx, "production")
	if !r.Landed("production", l.Entries["checkout-v2"]) {
		t.Error("Landed is false after the commit")
	}
	// Passes go on while the sync has not caught up: the entry is not
	// handed over again, so no second commit or message.
	morePasses(t, r, 5)
	if got := g.Git("-C", g.Bare, "rev-list", "--count", "main"); got != "2" || len(f.notes()) != 1 {
		t.Errorf("after more passes: %s commits, %d notifications", got, len(f.notes()))
	}
	// The delivery is counted once the receiver has answered.
	delivered := `
# HELP flagpole_notify_events_total Events per webhook by outcome: delivered, failed (given up) or dropped (queue full).
# TYPE flagpole_notify_events_total counter
flagpole_notify_events_total{result="delivered"} 1
flagpole_notify_events_total{result="dropped"} 0
flagpole_notify_events_total{result="failed"} 0
`
	waitFor(t, "the delivery counted", func() bool {
		return testutil.GatherAndCompare(reg, strings.NewReader(delivered), "flagpole_notify_events_total") == nil
	})
	if n, err := testutil.GatherAndCount(reg, "flagpole_writeback_pending", "flagpole_writeback_failures_total"); err != nil || n != 2 {
		t.Errorf("write-back metrics: %d series, %v; want 2", n, err)
	}
}

// TestRestoresFlushedEntry: the store loses a layer entry whose write-back
// has not landed (the remote is unreachable); the recorder sets it again.
func TestRestoresFlushedEntry(t *testing.T) {
	f := newFixture(t)
	r := f.run(t, filepath.Join(t.TempDir(), "gone.git"), Options{CheckInterval: 20 * time.Millisecond})
	ctx := context.Background()
	e := offEntry(time.Now().UTC(), nil)
	if _, err := f.st.SetOverride(ctx, "production", e); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a pending write-back", func() bool {
		p := r.Pending()
		return len(p) == 1 && p[0].Attempts > 0
	})
	// A flush: the environment and its layer are gone; the syncer
	// republishes git.
	if err := f.st.Remove(ctx, "production"); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Publish(ctx, f.snap); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the entry restored", func() bool {
		l, err := f.st.Layer(ctx, "production")
		got, ok := l.Entries["checkout-v2"]
		return err == nil && ok && got.Override != nil && got.Override.At.Equal(e.Override.At) && got.By == "alice"
	})
}

// TestExpiredNotification: an override whose expiry passes is announced
// once as expired.
func TestExpiredNotification(t *testing.T) {
	f := newFixture(t)
	r := f.run(t, filepath.Join(t.TempDir(), "gone.git"), Options{CheckInterval: 20 * time.Millisecond, NotifyDelay: 10 * time.Millisecond})
	now := time.Now().UTC()
	exp := now.Add(300 * time.Millisecond)
	if _, err := f.st.SetOverride(context.Background(), "production", offEntry(now, &exp)); err != nil {
		t.Fatal(err)
	}
	expired := func() int {
		n := 0
		for _, b := range f.notes() {
			if b.Action == "expired" {
				n++
			}
		}
		return n
	}
	waitFor(t, "the expired notification", func() bool { return expired() == 1 })
	morePasses(t, r, 5)
	if expired() != 1 || len(f.notes()) != 2 {
		t.Errorf("notifications %+v; want one set and one expired", f.notes())
	}
}
