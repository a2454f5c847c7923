package syncer_test

import (
	"context"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flagpole/flagpole/loader/source"
	"github.com/flagpole/flagpole/loader/syncer"
	"github.com/flagpole/flagpole/store"
)

// racingSource is a real directory source that runs a function after the
// first revision's scan and before the syncer loads it: the window in which
// a write made a standby syncer publish new content under the old
// revision's ID.
type racingSource struct {
	*source.Dir
	between func()
	once    sync.Once
	mu      sync.Mutex
	ids     []string
}

func (r *racingSource) Run(ctx context.Context, fn func(context.Context, source.Update)) error {
	return r.Dir.Run(ctx, func(ctx context.Context, u source.Update) {
		if u.Err == nil {
			r.mu.Lock()
			r.ids = append(r.ids, u.Revision.ID)
			r.mu.Unlock()
			r.once.Do(r.between)
		}
		fn(ctx, u)
	})
}

// A file written between the source's scan and the syncer's load is not
// published under the scan's revision ID: the syncer drops that revision,
// the source reports the directory again, and the store ends with the new
// content under the new content's ID.
func TestWriteBetweenScanAndLoad(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, goodRepo("one"))
	dir, err := source.NewDir(root, source.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src := &racingSource{Dir: dir, between: func() {
		writeFiles(t, root, goodRepo("two"))
	}}
	st := &countingStore{Memory: store.NewMemory()}
	reg := prometheus.NewRegistry()
	s, err := syncer.New(syncer.Options{Source: src, Store: st, Logger: testLogger(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	runSyncer(t, s)
	waitFor(t, "the edit published", hasDesc(st, "production", "two"))
	src.mu.Lock()
	ids := append([]string(nil), src.ids...)
	src.mu.Unlock()
	snap, err := st.Snapshot(t.Context(), "production")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) < 2 || snap.Version != ids[len(ids)-1][:12] || snap.Version == ids[0][:12] {
		t.Errorf("published version %s; revisions reported %q: want the last one's, not the first (scanned before the edit)", snap.Version, ids)
	}
	for _, p := range st.list() {
		if p != "production@two" && p != "staging@two" {
			t.Errorf("published %s: content other than the edit's", p)
		}
	}
	if n := counter(t, reg, "flagpole_sync_changed_during_load_total", ""); n != 1 {
		t.Errorf("flagpole_sync_changed_during_load_total = %v, want 1", n)
	}
}
