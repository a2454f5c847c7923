package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
	"github.com/flagpole/flagpole/loader/syncer"
	"github.com/flagpole/flagpole/store"
)

// eventually bounds asynchronous effects; generous for a loaded machine.
const eventually = 10 * time.Second

const settingsYAML = `version: 1
environments: [production, staging]
keys:
  - name: svc
    environment: production
    kind: server
    sha256: 95fe4dd29e97f55f4b49252394bea54b7ac646408ab6c005baa9e3811da847fb
`

// goodRepo is a valid repository whose flag alpha has the given
// description, so that each call makes a distinct revision.
func goodRepo(desc string) map[string]string {
	return map[string]string{
		"flagpole.yaml":    settingsYAML,
		"flags/alpha.yaml": "key: alpha\ndescription: " + desc + "\nenabled: true\ndefault: on\n",
	}
}

// badRepo has a type error at flags/alpha.yaml line 3.
func badRepo() map[string]string {
	return map[string]string{
		"flagpole.yaml":    settingsYAML,
		"flags/alpha.yaml": "key: alpha\ndescription: broken\nenabled: maybe\ndefault: on\n",
	}
}

func writeFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		// Write atomically, as editors and git do, so that no half-written
		// file is ever seen.
		tmp := filepath.Join(filepath.Dir(root), ".tmp-"+filepath.Base(p))
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
	}
}

// runSyncer starts s until the test ends and returns a function that stops
// it early.
func runSyncer(t testing.TB, s *syncer.Syncer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(eventually):
			t.Errorf("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it returns nil or eventually passes.
func waitFor(t testing.TB, what string, cond func() error) {
	t.Helper()
	waitWithin(t, eventually, what, cond)
}

// waitWithin is waitFor with its own bound, for slow work such as loading
// 10,000 flags under the race detector.
func waitWithin(t testing.TB, bound time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(bound)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s: %v", what, err)
}

// hasDesc checks that env's published flag alpha has description desc.
func hasDesc(st store.Store, env, desc string) func() error {
	return func() error {
		snap, err := st.Snapshot(context.Background(), env)
		if err != nil {
			return err
		}
		f := snap.Document.Flags.Get("alpha")
		if f == nil {
			return errors.New("flag alpha missing")
		}
		if f.Description != desc {
			return fmt.Errorf("alpha description = %q, want %q", f.Description, desc)
		}
		return nil
	}
}

// hasError checks that the syncer's status reports an error of commit.
func hasError(s *syncer.Syncer, contains string) func() error {
	return func() error {
		st := s.Status()
		if st.LastError == nil {
			return errors.New("no error in status")
		}
		if !strings.Contains(st.LastError.Message, contains) {
			return fmt.Errorf("error %q does not contain %q", st.LastError.Message, contains)
		}
		return nil
	}
}

// testLogger writes to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// gitRemote is a gitrepo.Remote under the names these tests use.
type gitRemote struct {
	*gitrepo.Remote
	t          testing.TB
	bare, work string
}

func newGitRemote(t testing.TB) *gitRemote {
	t.Helper()
	r := gitrepo.New(t)
	return &gitRemote{Remote: r, t: t, bare: r.Bare, work: r.Work}
}

// git runs the git CLI in dir.
func (r *gitRemote) git(dir string, args ...string) string {
	r.t.Helper()
	return r.Git(append([]string{"-C", dir}, args...)...)
}

// commitPush commits files on the current branch and pushes main with
// pushArgs; it returns the commit hash.
func (r *gitRemote) commitPush(files map[string]string, msg string, pushArgs ...string) string {
	r.t.Helper()
	h := r.Commit(files, msg)
	r.Push(append([]string{"main"}, pushArgs...)...)
	return h
}
