package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/loader"
)

// runCLI runs the CLI in process with env set for the test (every
// FLAGPOLE_* variable the override and status commands read is cleared
// first, so the caller's environment cannot leak in).
func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	for _, k := range []string{"FLAGPOLE_SERVER", "FLAGPOLE_REPO", adminTokenEnv, "FLAGPOLE_TOKEN_FILE",
		"FLAGPOLE_ENV", "FLAGPOLE_REASON", "FLAGPOLE_BY", "FLAGPOLE_FORMAT", "FLAGPOLE_SERVE", "FLAGPOLE_OFF",
		"FLAGPOLE_FOR", "FLAGPOLE_UNTIL", "FLAGPOLE_NO_PUSH"} {
		t.Setenv(k, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, args, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// userClone is an on-call engineer's clone of a gitRepo's remote, with
// their git identity (none when name is ""), and git isolated from the
// machine's configuration.
func userClone(t *testing.T, g *gitRepo, name string) string {
	t.Helper()
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("HOME", t.TempDir())
	for _, k := range []string{"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_DIR", "GIT_WORK_TREE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	dir := filepath.Join(t.TempDir(), "flags")
	g.Git("clone", "--quiet", g.bare, dir)
	if name != "" {
		g.git(dir, "config", "user.name", name)
		g.git(dir, "config", "user.email", strings.ToLower(name)+"@example.com")
	}
	return dir
}

// assertAt fails t unless ref of the repository in dir is at commit;
// what says what should not have moved or changed.
func assertAt(t *testing.T, g *gitRepo, dir, ref, commit, what string) {
	t.Helper()
	if now := g.git(dir, "rev-parse", ref); now != commit {
		t.Errorf("%s: %s is at %s, want %s", what, ref, short(now), short(commit))
	}
}

func TestOverrideRepoSetAndClear(t *testing.T) {
	g := newGitRepo(t)
	clone := userClone(t, g, "Alice")
	before := g.git(g.bare, "rev-parse", "main")

	r := runCLI(t, nil, "override", "set", "new-onboarding", "--repo", clone, "--env", "production",
		"--off", "--for", "2h", "--reason", "5xx spike")
	if r.code != exitOK {
		t.Fatalf("set: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	head := g.git(g.bare, "rev-parse", "main")
	if parent := g.git(g.bare, "rev-parse", "main^"); parent != before {
		t.Fatalf("the override is not one commit on top of %s (parent %s)", before, parent)
	}
	subject := g.git(g.bare, "log", "-1", "--format=%s", "main")
	if subject != "override: new-onboarding off in production (5xx spike)" {
		t.Errorf("subject %q", subject)
	}
	want := `committed ` + head[:7] + ` "override: new-onboarding off in production (5xx spike)" and pushed to origin/main`
	if !strings.Contains(r.stdout, want) {
		t.Errorf("output lacks %q:\n%s", want, r.stdout)
	}
	if who := g.git(g.bare, "log", "-1", "--format=%an <%ae>|%cn", "main"); who != "Alice <alice@example.com>|Alice" {
		t.Errorf("author|committer %q, want Alice's git identity", who)
	}
	body := g.git(g.bare, "log", "-1", "--format=%B", "main")
	for _, s := range []string{"new-onboarding serves \"off\" to everyone in production.", "Reason: 5xx spike", "By: Alice",
		"File: overrides/production/new-onboarding.yaml", "Requested-by: Alice"} {
		if !strings.Contains(body, s) {
			t.Errorf("commit message lacks %q:\n%s", s, body)
		}
	}
	if files := g.git(g.bare, "show", "--name-only", "--format=", "main"); files != "overrides/production/new-onboarding.yaml" {
		t.Errorf("commit touches %q, want only the override file", files)
	}
	// The clone moved too, and the repository it holds is valid and
	// overrides the flag.
	repo, err := loader.Load(clone, loader.Options{})
	if err != nil {
		t.Fatalf("the clone after set: %v", err)
	}
	o := repo.Documents["production"].Overrides["new-onboarding"]
	if o == nil || o.Serve != "off" || o.By != "Alice" || o.Expires == nil || o.Expires.Sub(o.At) != 2*time.Hour {
		t.Fatalf("override in the clone: %+v", o)
	}

	r = runCLI(t, nil, "override", "list", "--repo", clone, "--env", "production")
	if r.code != exitOK || !strings.Contains(r.stdout, "new-onboarding") || !strings.Contains(r.stdout, "5xx spike") {
		t.Errorf("list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = runCLI(t, nil, "override", "clear", "new-onboarding", "--repo", clone, "--env", "production", "--reason", "fixed")
	if r.code != exitOK {
		t.Fatalf("clear: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if subject := g.git(g.bare, "log", "-1", "--format=%s", "main"); subject != "override: clear new-onboarding in production (fixed)" {
		t.Errorf("clear subject %q", subject)
	}
	if parent := g.git(g.bare, "rev-parse", "main^"); parent != head {
		t.Errorf("clear is not one commit on top of the set")
	}
	if _, err := g.Run("-C", g.bare, "cat-file", "-e", "main:overrides/production/new-onboarding.yaml"); err == nil {
		t.Error("the override file is still on main after clear")
	}
	if _, err := os.Stat(filepath.Join(clone, "overrides", "production", "new-onboarding.yaml")); !os.IsNotExist(err) {
		t.Errorf("the override file is still in the clone: %v", err)
	}

	// Clearing again: nothing in force, nothing committed.
	head = g.git(g.bare, "rev-parse", "main")
	r = runCLI(t, nil, "override", "clear", "new-onboarding", "--repo", clone, "--env", "production")
	if r.code != exitFailure || !strings.Contains(r.stderr, "no override of new-onboarding in production") {
		t.Errorf("second clear: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	assertAt(t, g, g.bare, "main", head, "a failed clear committed")
}

func TestOverrideRepoRejectsUnknown(t *testing.T) {
	g := newGitRepo(t)
	clone := userClone(t, g, "Alice")
	head := g.git(g.bare, "rev-parse", "main")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"no-such-flag", "--env", "production", "--off"}, `flag "no-such-flag" not found in environment production`},
		{"misspelt flag", []string{"new-onboardin", "--env", "production", "--off"}, `flag "new-onboardin" not found in environment production on origin/main (commit ` + head[:7] + `): did you mean new-onboarding?`},
		{"unknown variant", []string{"new-onboarding", "--env", "production", "--serve", "maybe"}, `flag new-onboarding has no variant "maybe" in production (variants: on, off)`},
		{"unknown environment", []string{"new-onboarding", "--env", "qa", "--off"}, `environment "qa" is not declared in flagpole.yaml`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"override", "set", "--repo", clone, "--reason", "test"}, tt.args...)
			r := runCLI(t, nil, args...)
			if r.code != exitFailure || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d (want 1), stderr lacks %q:\n%s", r.code, tt.want, r.stderr)
			}
			assertAt(t, g, g.bare, "main", head, "the remote moved")
			assertAt(t, g, clone, "HEAD", head, "the clone moved")
		})
	}
}

func TestOverrideRepoConcurrentPush(t *testing.T) {
	g := newGitRepo(t)
	clone := userClone(t, g, "Alice")
	pushes := 0
	beforePush = func() {
		pushes++
		if pushes == 1 { // a human pushes between our fetch and our push
			g.CommitPush(map[string]string{"NOTES.md": "on-call notes\n"}, "human: notes")
		}
	}
	t.Cleanup(func() { beforePush = nil })

	r := runCLI(t, nil, "override", "set", "new-onboarding", "--repo", clone, "--env", "production", "--off", "--reason", "5xx spike")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if pushes != 2 {
		t.Errorf("%d push attempts, want 2", pushes)
	}
	if !strings.Contains(r.stderr, "re-applying") {
		t.Errorf("no word of the retry:\n%s", r.stderr)
	}
	log := g.git(g.bare, "log", "-3", "--format=%s", "main")
	want := "override: new-onboarding off in production (5xx spike)\nhuman: notes\ninitial flags"
	if log != want {
		t.Errorf("history of main:\n%s\nwant:\n%s", log, want)
	}
	for _, f := range []string{"NOTES.md", "overrides/production/new-onboarding.yaml"} {
		if _, err := g.Run("-C", g.bare, "cat-file", "-e", "main:"+f); err != nil {
			t.Errorf("%s is not on main: %v", f, err)
		}
	}
}

func TestOverrideRepoNoPushAndFallbackAuthor(t *testing.T) {
	g := newGitRepo(t)
	clone := userClone(t, g, "") // no git identity: flagpole.yaml's writeback.author
	head := g.git(g.bare, "rev-parse", "main")
	r := runCLI(t, nil, "override", "set", "new-onboarding", "--repo", clone, "--env", "staging", "--serve", "on",
		"--until", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "--reason", "demo", "--no-push")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, `"override: new-onboarding on in staging (demo)" on main (not pushed)`) {
		t.Errorf("output:\n%s", r.stdout)
	}
	assertAt(t, g, g.bare, "main", head, "--no-push pushed")
	if who := g.git(clone, "log", "-1", "--format=%an <%ae>"); who != "flagpole <flagpole@localhost>" {
		t.Errorf("author %q, want flagpole.yaml's writeback.author", who)
	}
	content, err := os.ReadFile(filepath.Join(clone, "overrides", "staging", "new-onboarding.yaml"))
	if err != nil || !strings.Contains(string(content), "by: flagpole\n") || !strings.Contains(string(content), "expires: ") {
		t.Errorf("override file: %v\n%s", err, content)
	}
}

func TestOverrideUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"override"}, "set|clear|list"},
		{"unknown subcommand", []string{"override", "kill"}, `unknown subcommand "kill"`},
		{"nowhere", []string{"override", "set", "f", "--env", "e", "--off", "--reason", "r"}, "--server URL (or FLAGPOLE_SERVER) or --repo DIR is required"},
		{"both", []string{"override", "set", "f", "--server", "http://x", "--repo", ".", "--env", "e", "--off", "--reason", "r"}, "not both"},
		{"no flag", []string{"override", "set", "--server", "http://x", "--env", "e", "--off", "--reason", "r"}, "the flag to override is required"},
		{"no env", []string{"override", "set", "f", "--server", "http://x", "--off", "--reason", "r"}, "--env is required"},
		{"off and serve", []string{"override", "set", "f", "--server", "http://x", "--env", "e", "--off", "--serve", "on", "--reason", "r"}, "either --off or --serve"},
		{"no reason", []string{"override", "set", "f", "--server", "http://x", "--env", "e", "--off"}, "--reason is required"},
		{"for and until", []string{"override", "set", "f", "--server", "http://x", "--env", "e", "--off", "--reason", "r", "--for", "1h", "--until", "2099-01-01T00:00:00Z"}, "--for or --until"},
		{"until in the past", []string{"override", "set", "f", "--server", "http://x", "--env", "e", "--off", "--reason", "r", "--until", "2001-01-01T00:00:00Z"}, "not in the future"},
		{"bad until", []string{"override", "set", "f", "--server", "http://x", "--env", "e", "--off", "--reason", "r", "--until", "tomorrow"}, "RFC 3339"},
		{"no-push with server", []string{"override", "clear", "f", "--server", "http://x", "--env", "e", "--no-push"}, "--no-push only applies to --repo"},
		{"list format", []string{"override", "list", "--server", "http://x", "--format", "yaml"}, "--format (or FLAGPOLE_FORMAT) must be one of json, text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, tt.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d (want 2), stderr lacks %q:\n%s", r.code, tt.want, r.stderr)
			}
		})
	}
}

// TestOverrideRepoWritebackBranch checks that an override goes to the
// branch of flagpole.yaml's writeback (main), which the servers follow,
// even from a clone on a feature branch.
func TestOverrideRepoWritebackBranch(t *testing.T) {
	g := newGitRepo(t)
	clone := userClone(t, g, "Alice")
	g.git(clone, "checkout", "--quiet", "-b", "feature")
	g.git(clone, "commit", "--quiet", "--allow-empty", "-m", "work in progress")
	g.git(clone, "push", "--quiet", "-u", "origin", "feature")
	feature := g.git(g.bare, "rev-parse", "feature")

	r := runCLI(t, nil, "override", "set", "new-onboarding", "--repo", clone, "--env", "production", "--off", "--reason", "5xx spike")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "pushed to origin/main") || !strings.Contains(r.stdout, "does not track origin/main") {
		t.Errorf("output:\n%s", r.stdout)
	}
	if subject := g.git(g.bare, "log", "-1", "--format=%s", "main"); !strings.HasPrefix(subject, "override: new-onboarding off") {
		t.Errorf("main's head is %q", subject)
	}
	assertAt(t, g, g.bare, "feature", feature, "the feature branch moved on the remote")
	assertAt(t, g, clone, "HEAD", feature, "the checked-out feature branch moved")
}

// TestOverrideRepoGivesUp checks that a branch that moves at every attempt
// ends in exit 1 after pushAttempts, with nothing forced.
func TestOverrideRepoGivesUp(t *testing.T) {
	g := newGitRepo(t)
	clone := userClone(t, g, "Alice")
	saved := pushBackoff
	pushBackoff.Min, pushBackoff.Max = time.Millisecond, time.Millisecond
	n := 0
	beforePush = func() {
		n++
		g.CommitPush(map[string]string{"NOTES.md": fmt.Sprintf("note %d\n", n)}, fmt.Sprintf("human %d", n))
	}
	t.Cleanup(func() { beforePush, pushBackoff = nil, saved })

	r := runCLI(t, nil, "override", "set", "new-onboarding", "--repo", clone, "--env", "production", "--off", "--reason", "x")
	if r.code != exitFailure || !strings.Contains(r.stderr, "did not push it") || !strings.Contains(r.stderr, "new-onboarding in production") {
		t.Errorf("exit %d (want 1)\n%s", r.code, r.stderr)
	}
	if n != pushAttempts {
		t.Errorf("%d attempts, want %d", n, pushAttempts)
	}
	if subject := g.git(g.bare, "log", "-1", "--format=%s", "main"); subject != fmt.Sprintf("human %d", n) {
		t.Errorf("main's head is %q: a human commit was overwritten", subject)
	}
}

// TestOverrideRepoUnreachable checks that an unreachable remote fails with
// exit 1 and that the credentials of its URL are not shown.
func TestOverrideRepoUnreachable(t *testing.T) {
	g := newGitRepo(t)
	clone := userClone(t, g, "Alice")
	g.git(clone, "remote", "set-url", "origin", "https://x-access-token:s3cr3t-t0ken@127.0.0.1:1/flags.git")
	r := runCLI(t, nil, "override", "set", "new-onboarding", "--repo", clone, "--env", "production", "--off", "--reason", "x")
	if r.code != exitFailure || !strings.Contains(r.stderr, "fetching origin/main") {
		t.Errorf("exit %d (want 1)\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "s3cr3t-t0ken") {
		t.Errorf("output shows the credentials:\n%s", r.stderr)
	}
}
