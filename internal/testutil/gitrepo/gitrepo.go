// Package gitrepo makes git remotes for tests and benchmarks: a bare
// repository on a file path and a work tree that pushes to it, both driven
// by the git CLI with a fixed identity and without the user's or the
// system's git configuration. Tests use New; programs (the benchmarks) use
// Create and Run.
package gitrepo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Identity of every commit made through a Remote.
const (
	Name  = "test"
	Email = "test@localhost"
)

// Remote is a bare repository and a work tree cloned from it, on branch
// main. The bare repository lets a push delete main.
type Remote struct {
	// Bare is the bare repository; its path is the remote's URL.
	Bare string
	// Work is the work tree, whose origin is Bare.
	Work string
	env  []string
	tb   testing.TB // set by New
}

// Create makes dir/remote.git and dir/work (and dir/home, the git CLI's
// home). It needs the git CLI.
func Create(dir string) (*Remote, error) {
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, err
	}
	r := &Remote{
		Bare: filepath.Join(dir, "remote.git"),
		Work: filepath.Join(dir, "work"),
		env: append(os.Environ(),
			"GIT_AUTHOR_NAME="+Name, "GIT_AUTHOR_EMAIL="+Email,
			"GIT_COMMITTER_NAME="+Name, "GIT_COMMITTER_EMAIL="+Email,
			"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "HOME="+home),
	}
	for _, args := range [][]string{
		{"init", "--quiet", "--bare", "--initial-branch=main", r.Bare},
		{"-C", r.Bare, "config", "receive.denyDeleteCurrent", "ignore"},
		{"clone", "--quiet", r.Bare, r.Work},
		{"-C", r.Work, "symbolic-ref", "HEAD", "refs/heads/main"},
	} {
		if _, err := r.run(dir, args); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// New is Create in a temporary directory of tb. It skips the test when the
// git CLI is not installed; Git, Write, Commit and Push fail it on error.
func New(tb testing.TB) *Remote {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Skip("git CLI not installed")
	}
	r, err := Create(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	r.tb = tb
	return r
}

// Run runs git with args in the work tree ("-C", dir first for another
// directory) and returns its output, trimmed.
func (r *Remote) Run(args ...string) (string, error) {
	return r.run(r.Work, args)
}

func (r *Remote) run(dir string, args []string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// Git is Run that fails the test on error.
func (r *Remote) Git(args ...string) string {
	r.tb.Helper()
	out, err := r.Run(args...)
	if err != nil {
		r.tb.Fatal(err)
	}
	return out
}

// Write writes files (slash path → content) into the work tree.
func (r *Remote) Write(files map[string]string) {
	r.tb.Helper()
	for name, content := range files {
		path := filepath.Join(r.Work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			r.tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			r.tb.Fatal(err)
		}
	}
}

// Commit writes files, commits everything in the work tree with message
// msg and returns the commit's hash. It does not push.
func (r *Remote) Commit(files map[string]string, msg string) string {
	r.tb.Helper()
	r.Write(files)
	r.Git("add", "-A")
	r.Git("commit", "--quiet", "--allow-empty", "-m", msg)
	return r.Git("rev-parse", "HEAD")
}

// Push runs "git push origin args...": Push("main"), Push("--force",
// "main"), Push("--delete", "main").
func (r *Remote) Push(args ...string) {
	r.tb.Helper()
	r.Git(append([]string{"push", "--quiet", "origin"}, args...)...)
}

// CommitPush commits files and pushes main; it returns the commit's hash.
func (r *Remote) CommitPush(files map[string]string, msg string) string {
	r.tb.Helper()
	h := r.Commit(files, msg)
	r.Push("main")
	return h
}
