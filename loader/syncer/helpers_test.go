package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		f := snap.Document.Flags["alpha"]
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

// gitRemote is a bare repository with a working clone that pushes to it.
type gitRemote struct {
	t    testing.TB
	bare string
	work string
	home string
}

func newGitRemote(t testing.TB) *gitRemote {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git CLI not installed")
	}
	dir := t.TempDir()
	r := &gitRemote{t: t, bare: filepath.Join(dir, "remote.git"), work: filepath.Join(dir, "work"), home: t.TempDir()}
	r.git(dir, "init", "--quiet", "--bare", "--initial-branch=main", r.bare)
	r.git(r.bare, "config", "receive.denyDeleteCurrent", "ignore")
	r.git(dir, "clone", "--quiet", r.bare, r.work)
	r.git(r.work, "checkout", "--quiet", "-b", "main")
	return r
}

func (r *gitRemote) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@localhost",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@localhost",
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+r.home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commitPush commits files on the current branch and pushes it; it returns
// the commit hash.
func (r *gitRemote) commitPush(files map[string]string, msg string, pushArgs ...string) string {
	r.t.Helper()
	writeFiles(r.t, r.work, files)
	r.git(r.work, "add", "-A")
	r.git(r.work, "commit", "--quiet", "-m", msg)
	r.git(r.work, append([]string{"push", "--quiet", "origin", "main"}, pushArgs...)...)
	return r.git(r.work, "rev-parse", "HEAD")
}
