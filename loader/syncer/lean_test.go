package syncer_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/flagpole/flagpole/loader/source"
	"github.com/flagpole/flagpole/loader/syncer"
	"github.com/flagpole/flagpole/store"
)

// countingStore records every Publish and can hold the first one until
// released.
type countingStore struct {
	*store.Memory
	mu        sync.Mutex
	published []string // env@description of alpha
	hold      chan struct{}
	held      chan struct{}
}

func (c *countingStore) Publish(ctx context.Context, s *store.Snapshot) error {
	c.mu.Lock()
	desc := ""
	if f := s.Document.Flags.Get("alpha"); f != nil {
		desc = f.Description
	}
	c.published = append(c.published, s.Environment+"@"+desc)
	hold := c.hold
	c.hold = nil
	c.mu.Unlock()
	if hold != nil {
		close(c.held)
		<-hold
	}
	return c.Memory.Publish(ctx, s)
}

func (c *countingStore) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.published...)
}

func withOverlay(desc, staging string) map[string]string {
	return map[string]string{
		"flagpole.yaml":    settingsYAML,
		"flags/alpha.yaml": "key: alpha\ndescription: " + desc + "\ndefault: on\nenvironments:\n  staging: {default: " + staging + "}\n",
	}
}

// A commit that changes one environment's document publishes that
// environment only; the other keeps its version.
func TestPublishesChangedEnvironmentsOnly(t *testing.T) {
	r := newGitRemote(t)
	r.commitPush(withOverlay("one", "on"), "first")
	src, err := source.NewGit(source.GitOptions{URL: r.bare, Poll: -1, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	st := &countingStore{Memory: store.NewMemory()}
	s, err := syncer.New(syncer.Options{Source: src, Store: st, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runSyncer(t, s)
	waitFor(t, "first commit published", hasDesc(st, "staging", "one"))
	prod, _ := st.Snapshot(t.Context(), "production")

	c2 := r.commitPush(withOverlay("one", "off"), "staging only")
	s.Trigger()
	waitFor(t, "staging republished", func() error {
		snap, err := st.Snapshot(t.Context(), "staging")
		if err != nil || snap.Version != c2[:12] {
			return fmt.Errorf("staging %+v, %v; want version %s", snap, err, c2[:12])
		}
		return nil
	})
	if got, _ := st.Snapshot(t.Context(), "production"); got.Version != prod.Version {
		t.Errorf("production version %s, want %s kept: its document did not change", got.Version, prod.Version)
	}
	want := []string{"production@one", "staging@one", "staging@one"}
	if got := st.list(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("publishes %v, want %v", got, want)
	}
	if got := s.Status().Envs["production"]; got.Version != prod.Version || got.Commit != prod.Document.Commit || got.Published != prod.Published {
		t.Errorf("status: production %+v, want version %s, commit %s and published %s kept", got, prod.Version, prod.Document.Commit, prod.Published)
	}
	if got := s.Status().Envs["staging"].Commit; got != c2 && got != c2[:12] {
		t.Errorf("status: staging commit %s, want %s", got, c2)
	}

	// A change to the flag itself republishes both. The snapshot says which
	// flags its Document changed from the one published before, so that
	// the store and the bearers look at those only.
	staging, _ := st.Snapshot(t.Context(), "staging")
	r.commitPush(withOverlay("two", "off"), "both")
	s.Trigger()
	waitFor(t, "both republished", hasDesc(st, "production", "two"))
	waitFor(t, "both republished", hasDesc(st, "staging", "two"))
	got, _ := st.Snapshot(t.Context(), "staging")
	if flags, ok := got.ChangedFrom(staging.Document); !ok || fmt.Sprint(flags) != "[alpha]" {
		t.Errorf("staging changed from the last published: %v %v, want [alpha]", flags, ok)
	}
}

// Commits that arrive while a revision is being published are not each
// loaded: the next load takes the newest.
func TestQuickCommitsLoadNewest(t *testing.T) {
	r := newGitRemote(t)
	r.commitPush(goodRepo("c0"), "first")
	src, err := source.NewGit(source.GitOptions{URL: r.bare, Poll: -1, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	st := &countingStore{Memory: store.NewMemory(), hold: make(chan struct{}), held: make(chan struct{})}
	release := st.hold
	s, err := syncer.New(syncer.Options{Source: src, Store: st, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runSyncer(t, s)
	<-st.held // the first revision is being published
	for i := 1; i <= 10; i++ {
		r.commitPush(goodRepo(fmt.Sprint("c", i)), fmt.Sprint("commit ", i))
		s.Trigger()
	}
	close(release)
	waitFor(t, "the newest commit published", hasDesc(st, "production", "c10"))
	for _, p := range st.list() {
		switch p {
		case "production@c0", "staging@c0", "production@c10", "staging@c10":
		default:
			t.Errorf("published %s: only the first and the newest commit should load (all: %v)", p, st.list())
		}
	}
}
