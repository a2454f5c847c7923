package source_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
	"github.com/flagpole/flagpole/loader/source"
)

func newGit(t *testing.T, opts source.GitOptions) *source.Git {
	t.Helper()
	if opts.Poll == 0 {
		opts.Poll = -1 // tests drive fetches with Trigger
	}
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 20*time.Millisecond, 100*time.Millisecond
	}
	opts.WorkDir = t.TempDir()
	g, err := source.NewGit(opts)
	if err != nil {
		t.Fatalf("NewGit: %v", err)
	}
	return g
}

func isRev(id string) func(seen) bool {
	return func(s seen) bool { return s.Update.Err == nil && s.Update.Revision.ID == id }
}

func isErr(s seen) bool { return s.Update.Err != nil }

func TestGitSourceFollowsBranch(t *testing.T) {
	r := gitrepo.New(t)
	c1 := r.Commit(map[string]string{"flags/a.yaml": "v1", "flagpole.yaml": "version: 1"}, "first")
	r.Push("main")
	g := newGit(t, source.GitOptions{URL: r.Bare})
	ch := runSource(t, g)

	s := next(t, ch, "first commit", isRev(c1))
	if s.Files["flags/a.yaml"] != "v1" || s.Files["flagpole.yaml"] != "version: 1" {
		t.Fatalf("checkout = %v", s.Files)
	}
	if s.Update.Revision.Short() != c1[:12] {
		t.Errorf("Short = %q", s.Update.Revision.Short())
	}

	// Nothing new: a trigger produces no update, so the next update is c2.
	g.Trigger()
	c2 := r.Commit(map[string]string{"flags/a.yaml": "v2", "flags/b.yaml": "b"}, "second")
	r.Push("main")
	g.Trigger()
	s = next(t, ch, "any update", func(seen) bool { return true })
	if !isRev(c2)(s) || s.Files["flags/a.yaml"] != "v2" || s.Files["flags/b.yaml"] != "b" {
		t.Fatalf("update after push = %+v, want c2 %s", s, c2)
	}

	// A force-push replaces c2 with a different history.
	r.Git("reset", "--quiet", "--hard", c1)
	c3 := r.Commit(map[string]string{"flags/c.yaml": "c"}, "rewritten")
	r.Push("--force", "main")
	g.Trigger()
	s = next(t, ch, "force-pushed commit", isRev(c3))
	if _, ok := s.Files["flags/b.yaml"]; ok || s.Files["flags/c.yaml"] != "c" {
		t.Fatalf("checkout after force-push = %v", s.Files)
	}

	// Another branch moving changes nothing for main.
	r.Git("checkout", "--quiet", "-b", "other")
	r.Commit(map[string]string{"flags/d.yaml": "d"}, "other branch")
	r.Push("other")
	r.Git("checkout", "--quiet", "main")
	g.Trigger()

	// The branch is deleted: an error naming it, retried, then recovery
	// when it comes back (the same commit is reported again).
	r.Push("--delete", "main")
	g.Trigger()
	s = next(t, ch, "deleted-branch error", isErr)
	if !errors.Is(s.Update.Err, source.ErrBranchNotFound) || !strings.Contains(s.Update.Err.Error(), "main") {
		t.Fatalf("error = %v, want ErrBranchNotFound naming main", s.Update.Err)
	}
	next(t, ch, "a retry", isErr)
	r.Push("main")
	next(t, ch, "recovery", isRev(c3))
}

func TestGitSourceUnreachableRemote(t *testing.T) {
	r := gitrepo.New(t)
	c1 := r.Commit(map[string]string{"flagpole.yaml": "x"}, "first")
	r.Push("main")
	g := newGit(t, source.GitOptions{URL: "file://" + r.Bare, Branch: "main"})
	ch := runSource(t, g)
	next(t, ch, "first commit", isRev(c1))

	hidden := r.Bare + ".away"
	if err := os.Rename(r.Bare, hidden); err != nil {
		t.Fatal(err)
	}
	g.Trigger()
	s := next(t, ch, "fetch error", isErr)
	if !strings.Contains(s.Update.Err.Error(), "fetching branch main") {
		t.Errorf("error = %v", s.Update.Err)
	}
	// Retried by itself with backoff, no trigger needed.
	next(t, ch, "a retry", isErr)
	if err := os.Rename(hidden, r.Bare); err != nil {
		t.Fatal(err)
	}
	next(t, ch, "recovery after the remote returns", isRev(c1))
}

func TestGitSourceGoGitRepoAndCache(t *testing.T) {
	// A non-bare repository made with go-git, used by path, branch master.
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	write(t, filepath.Join(dir, "flagpole.yaml"), "version: 1")
	wt.Add("flagpole.yaml")
	sig := &object.Signature{Name: "t", Email: "t@localhost", When: time.Now()}
	h, err := wt.Commit("first", &git.CommitOptions{Author: sig})
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	for round := range 2 {
		g := newGit(t, source.GitOptions{URL: dir, Branch: "master", CacheDir: cache})
		ch := runSource(t, g)
		s := next(t, ch, "the go-git commit", isRev(h.String()))
		if s.Files["flagpole.yaml"] != "version: 1" {
			t.Fatalf("round %d: checkout = %v", round, s.Files)
		}
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Errorf("cache holds %d clones, want 1 reused", len(entries))
	}
}

func TestGitSourceRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name string
		opts source.GitOptions
		want string
	}{
		{"no url", source.GitOptions{}, "no repository URL"},
		{"bad branch", source.GitOptions{URL: "/x", Branch: "a b"}, "invalid branch"},
		{"missing key file", source.GitOptions{URL: "ssh://git@example.com/r.git", SSHKeyFile: "/nonexistent/key"}, "reading ssh key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := source.NewGit(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestGitSourceHidesToken(t *testing.T) {
	// Nothing listens on port 1: the fetch fails, and neither the token
	// nor the URL's password may appear in the error.
	g := newGit(t, source.GitOptions{URL: "http://user:pa55word@127.0.0.1:1/repo.git", Token: "t0ken-secret", FetchTimeout: 2 * time.Second})
	ch := runSource(t, g)
	s := next(t, ch, "fetch error", isErr)
	for _, secret := range []string{"t0ken-secret", "pa55word"} {
		if strings.Contains(s.Update.Err.Error(), secret) {
			t.Errorf("error leaks %q: %v", secret, s.Update.Err)
		}
	}
	if strings.Contains(g.String(), "pa55word") {
		t.Errorf("String leaks the password: %s", g)
	}
}

func TestGitSourceCheckoutTracksTree(t *testing.T) {
	r := gitrepo.New(t)
	c1 := r.Commit(map[string]string{"flagpole.yaml": "x", "audiences/a.yaml": "a", "flags/deep/f.yaml": "f"}, "first")
	r.Push("main")
	work := t.TempDir()
	g, err := source.NewGit(source.GitOptions{URL: r.Bare, Poll: -1, WorkDir: work})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan seen, 10)
	done := make(chan error, 1)
	go func() {
		done <- g.Run(ctx, func(_ context.Context, u source.Update) {
			s := seen{Update: u}
			if u.Err == nil {
				s.Files = readTree(t, u.Revision.Dir)
				// Directories must follow the tree too.
				if _, err := os.Stat(filepath.Join(u.Revision.Dir, "audiences")); err == nil {
					s.Files["(dir audiences)"] = ""
				}
			}
			ch <- s
		})
	}()
	s := next(t, ch, "first", isRev(c1))
	if len(s.Files) != 4 {
		t.Fatalf("first checkout = %v", s.Files)
	}
	r.Git("rm", "--quiet", "-r", "audiences", "flags/deep/f.yaml")
	c2 := r.Commit(map[string]string{"flags/g.yaml": "g", "flagpole.yaml": "y"}, "second")
	r.Push("main")
	g.Trigger()
	s = next(t, ch, "second", isRev(c2))
	want := map[string]string{"flagpole.yaml": "y", "flags/g.yaml": "g"}
	if len(s.Files) != len(want) || s.Files["flagpole.yaml"] != "y" || s.Files["flags/g.yaml"] != "g" {
		t.Fatalf("second checkout = %v, want %v", s.Files, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(work); len(left) != 0 {
		t.Errorf("work directory not cleaned up: %v", left)
	}
}

func TestGitSourceRepacksAndSurvivesDamagedCache(t *testing.T) {
	r := gitrepo.New(t)
	cache := t.TempDir()
	var last string
	for i := range 6 {
		last = r.Commit(map[string]string{"flags/a.yaml": fmt.Sprint("v", i)}, fmt.Sprint("c", i))
		r.Push("main")
	}
	g := newGit(t, source.GitOptions{URL: r.Bare, CacheDir: cache, RepackEvery: 2})
	ch := runSource(t, g)
	next(t, ch, "first", isRev(last))
	for i := range 6 {
		c := r.Commit(map[string]string{"flags/a.yaml": fmt.Sprint("w", i)}, fmt.Sprint("d", i))
		r.Push("main")
		g.Trigger()
		if s := next(t, ch, fmt.Sprint("commit ", i), isRev(c)); s.Files["flags/a.yaml"] != fmt.Sprint("w", i) {
			t.Fatalf("commit %d: checkout = %v", i, s.Files)
		}
	}
	packs, _ := filepath.Glob(filepath.Join(cache, "*.git", "objects", "pack", "*.pack"))
	if len(packs) > 2 {
		t.Errorf("%d packs after repacking every 2 commits, want at most 2", len(packs))
	}

	// Damage the cache: a new source recreates it and still works.
	clones, _ := filepath.Glob(filepath.Join(cache, "*.git"))
	if len(clones) != 1 {
		t.Fatalf("clones in cache: %v", clones)
	}
	if err := os.WriteFile(filepath.Join(clones[0], "config"), []byte("[[[ not a config"), 0o644); err != nil {
		t.Fatal(err)
	}
	head := r.Git("rev-parse", "HEAD")
	g2 := newGit(t, source.GitOptions{URL: r.Bare, CacheDir: cache})
	next(t, runSource(t, g2), "revision from a recreated cache", isRev(head))
}
