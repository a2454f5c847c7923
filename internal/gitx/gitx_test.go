package gitx_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/flagpole/flagpole/internal/gitx"
	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
)

var author = gitx.Signature{Name: "Ada Lovelace", Email: "ada@example.com", When: time.Unix(1700000000, 0)}

// open returns a clone of url in a cache of its own.
func open(t *testing.T, opts gitx.Options) *gitx.Clone {
	t.Helper()
	remote, err := gitx.NewRemote(opts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := remote.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func fetch(t *testing.T, c *gitx.Clone) plumbing.Hash {
	t.Helper()
	h, err := c.Fetch(t.Context(), "main")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func commit(t *testing.T, c *gitx.Clone, parent plumbing.Hash, msg string, changes ...gitx.Change) plumbing.Hash {
	t.Helper()
	h, err := c.Commit(parent, changes, msg, author)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCommitAndPush(t *testing.T) {
	r := gitrepo.New(t)
	c1 := r.CommitPush(map[string]string{"flags/a.yaml": "a", "flags/b.yaml": "b", "flags/deep/d.yaml": "d", "flagpole.yaml": "x"}, "first")
	c := open(t, gitx.Options{URL: r.Bare})
	if h := fetch(t, c); h.String() != c1 {
		t.Fatalf("Fetch = %s, want %s", h, c1)
	}
	h := commit(t, c, plumbing.NewHash(c1), "override checkout\n\nby the breaker",
		gitx.Change{Path: "flags/a.yaml", Content: []byte("a2")},
		gitx.Change{Path: "flags/b.yaml", Delete: true},
		gitx.Change{Path: "flags/deep/d.yaml", Delete: true}, // leaves flags/deep empty
		gitx.Change{Path: "overrides/new/c.yaml", Content: []byte("c")},
		gitx.Change{Path: "flags/gone.yaml", Delete: true}, // not there: no error
	)
	if err := c.Push(t.Context(), "main", h); err != nil {
		t.Fatal(err)
	}
	if got := r.Git("-C", r.Bare, "rev-parse", "main"); got != h.String() {
		t.Fatalf("remote main = %s, want %s", got, h)
	}
	// The git CLI agrees that the objects are well formed (tree order
	// included) and sees the changes, the author and the message.
	r.Git("-C", r.Bare, "fsck", "--strict", "--no-dangling")
	if got := r.Git("-C", r.Bare, "diff", "--name-status", c1, h.String()); got != "M\tflags/a.yaml\nD\tflags/b.yaml\nD\tflags/deep/d.yaml\nA\toverrides/new/c.yaml" {
		t.Errorf("diff:\n%s", got)
	}
	if got := r.Git("-C", r.Bare, "log", "-1", "--format=%an <%ae> %at|%cn <%ce>|%B", "main"); got != "Ada Lovelace <ada@example.com> 1700000000|Ada Lovelace <ada@example.com>|override checkout\n\nby the breaker" {
		t.Errorf("log: %q", got)
	}
	r.Git("pull", "--quiet", "origin", "main")
	if b, err := os.ReadFile(filepath.Join(r.Work, "flags", "a.yaml")); err != nil || string(b) != "a2" {
		t.Errorf("flags/a.yaml = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(r.Work, "flags", "deep")); !os.IsNotExist(err) {
		t.Errorf("flags/deep still there: %v", err)
	}
	// Pushing what the remote has already is no error.
	if err := c.Push(t.Context(), "main", h); err != nil {
		t.Errorf("second push: %v", err)
	}
}

func TestPushRejectedThenReapplied(t *testing.T) {
	r := gitrepo.New(t)
	c1 := r.CommitPush(map[string]string{"flags/a.yaml": "a"}, "first")
	c := open(t, gitx.Options{URL: r.Bare})
	base := fetch(t, c)
	change := gitx.Change{Path: "flags/a.yaml", Content: []byte("ours")}
	ours := commit(t, c, base, "ours", change)

	// Someone else pushes first: a commit the clone has never seen.
	theirs := r.CommitPush(map[string]string{"flags/b.yaml": "theirs"}, "theirs")
	err := c.Push(t.Context(), "main", ours)
	if !errors.Is(err, gitx.ErrPushRejected) {
		t.Fatalf("push over a newer remote = %v, want ErrPushRejected", err)
	}
	if got := r.Git("-C", r.Bare, "rev-parse", "main"); got != theirs {
		t.Fatalf("remote main = %s, want theirs %s untouched", got, theirs)
	}

	// After a fetch the clone has their commit, and still refuses to
	// replace it with a commit that does not descend from it.
	head := fetch(t, c)
	if head.String() != theirs {
		t.Fatalf("Fetch = %s, want %s", head, theirs)
	}
	if err := c.Push(t.Context(), "main", ours); !errors.Is(err, gitx.ErrPushRejected) {
		t.Fatalf("stale push after fetch = %v, want ErrPushRejected", err)
	}

	// Re-applied onto the new head, the push goes through and keeps both.
	again := commit(t, c, head, "ours, again", change)
	if err := c.Push(t.Context(), "main", again); err != nil {
		t.Fatal(err)
	}
	if got := r.Git("-C", r.Bare, "log", "--format=%s", "main"); got != "ours, again\ntheirs\nfirst" {
		t.Errorf("history:\n%s", got)
	}
	if got := r.Git("-C", r.Bare, "show", "main:flags/b.yaml"); got != "theirs" {
		t.Errorf("their file = %q", got)
	}
	if got := r.Git("-C", r.Bare, "merge-base", "--is-ancestor", c1, "main"); got != "" {
		t.Errorf("merge-base: %q", got)
	}

	// Re-applying what the remote already holds is nothing to commit.
	if _, err := c.Commit(again, []gitx.Change{change}, "same", author); !errors.Is(err, gitx.ErrNothingToCommit) {
		t.Errorf("Commit without a change = %v, want ErrNothingToCommit", err)
	}
}

func TestFirstCommitOnGoGitRemote(t *testing.T) {
	// A bare remote made with go-git, without commits.
	bare := filepath.Join(t.TempDir(), "flags.git")
	if _, err := git.PlainInit(bare, true); err != nil {
		t.Fatal(err)
	}
	c := open(t, gitx.Options{URL: "file://" + bare})
	if _, err := c.Fetch(t.Context(), "main"); !errors.Is(err, gitx.ErrBranchNotFound) {
		t.Fatalf("Fetch of an empty remote = %v, want ErrBranchNotFound", err)
	}
	h := commit(t, c, plumbing.ZeroHash, "first", gitx.Change{Path: "flagpole.yaml", Content: []byte("version: 1\n")})
	if err := c.Push(t.Context(), "main", h); err != nil {
		t.Fatal(err)
	}
	repo, err := git.PlainOpen(bare)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName("main"), true)
	if err != nil || ref.Hash() != h {
		t.Fatalf("remote main = %v, %v; want %s", ref, err, h)
	}
	cm, err := repo.CommitObject(h)
	if err != nil {
		t.Fatal(err)
	}
	if cm.NumParents() != 0 || cm.Author.Name != author.Name || cm.Author.Email != author.Email || !cm.Author.When.Equal(author.When) {
		t.Errorf("commit = %+v", cm)
	}
	f, err := cm.File("flagpole.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := f.Contents(); s != "version: 1\n" {
		t.Errorf("flagpole.yaml = %q", s)
	}
}

func TestCommitRejectsBadChanges(t *testing.T) {
	r := gitrepo.New(t)
	c1 := plumbing.NewHash(r.CommitPush(map[string]string{"flags/a.yaml": "a", "README": "r"}, "first"))
	c := open(t, gitx.Options{URL: r.Bare})
	fetch(t, c)
	for _, tc := range []struct {
		name   string
		change gitx.Change
		want   string
	}{
		{"empty path", gitx.Change{Path: ""}, "invalid path"},
		{"absolute", gitx.Change{Path: "/etc/passwd"}, "invalid path"},
		{"parent", gitx.Change{Path: "../x"}, "invalid path"},
		{"unclean", gitx.Change{Path: "flags//a.yaml"}, "invalid path"},
		{"dot git", gitx.Change{Path: ".git/config"}, "invalid path"},
		{"nested dot git", gitx.Change{Path: "flags/.GIT/hooks"}, "invalid path"},
		{"directory as file", gitx.Change{Path: "flags", Content: []byte("x")}, "flags is a directory"},
		{"deleting a directory", gitx.Change{Path: "flags", Delete: true}, "flags is a directory"},
		{"file as directory", gitx.Change{Path: "README/x", Content: []byte("x")}, "README is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Commit(c1, []gitx.Change{tc.change}, "bad", author)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestErrorsHideCredentials(t *testing.T) {
	// Nothing listens on port 1: fetch and push fail, quoting the URL.
	for _, url := range []string{
		"http://user:pa55word@127.0.0.1:1/flags.git",
		"http://t0ken-in-url@127.0.0.1:1/flags.git",
	} {
		t.Run(url, func(t *testing.T) {
			remote, err := gitx.NewRemote(gitx.Options{URL: url, Token: "t0ken-secret", FetchTimeout: 5 * time.Second, PushTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			c, err := remote.Open("")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, ferr := c.Fetch(t.Context(), "main")
			h, err := c.Commit(plumbing.ZeroHash, []gitx.Change{{Path: "a", Content: []byte("a")}}, "m", author)
			if err != nil {
				t.Fatal(err)
			}
			perr := c.Push(t.Context(), "main", h)
			for what, s := range map[string]string{"fetch": errString(ferr), "push": errString(perr), "String": remote.String()} {
				if s == "" {
					t.Errorf("%s: no error", what)
				}
				for _, secret := range []string{"pa55word", "t0ken-in-url", "t0ken-secret"} {
					if strings.Contains(s, secret) {
						t.Errorf("%s leaks %q: %s", what, secret, s)
					}
				}
			}
			if errors.Is(perr, gitx.ErrPushRejected) {
				t.Errorf("unreachable remote reported as rejected push: %v", perr)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestFetchTimeout(t *testing.T) {
	// A server that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		for {
			conn, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, conn)
		}
	}()
	defer func() { ln.Close(); <-done }()
	c := open(t, gitx.Options{URL: "http://" + ln.Addr().String() + "/flags.git", FetchTimeout: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err = c.Fetch(ctx, "main")
	if err == nil || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Fatalf("Fetch = %v, want a timeout after 200ms", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the fetch outlived its own timeout")
	}
}

func TestRemoteOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts gitx.Options
		want string
	}{
		{"no url", gitx.Options{}, "no repository URL"},
		{"missing key file", gitx.Options{URL: "ssh://git@example.com/r.git", SSHKeyFile: "/nonexistent/key"}, "reading ssh key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := gitx.NewRemote(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	for _, b := range []string{"", "a b", "a..b", "x~1", "/x", "x/", "x.lock", "a:b"} {
		if gitx.CheckBranch(b) == nil {
			t.Errorf("CheckBranch(%q) = nil", b)
		}
	}
	for _, b := range []string{"main", "release/1.2", "flags-prod"} {
		if err := gitx.CheckBranch(b); err != nil {
			t.Errorf("CheckBranch(%q) = %v", b, err)
		}
	}
}
