// Package ci holds the CI and editor integration examples of a flags
// repository (a GitHub Actions workflow, a GitLab CI job and a git
// pre-commit hook) and the test that runs their commands against the
// history of this project's own flags.example.
package ci

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The project root, seen from this directory.
const projectRoot = "../.."

// env is the environment every command of the test runs with: the built
// flagpole first on PATH, a fixed git identity, no global git config.
func env(bin string) []string {
	return append(os.Environ(),
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GIT_AUTHOR_NAME=ci-test", "GIT_AUTHOR_EMAIL=ci@example.com",
		"GIT_COMMITTER_NAME=ci-test", "GIT_COMMITTER_EMAIL=ci@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
}

type result struct {
	code           int
	stdout, stderr string
}

func runIn(t *testing.T, dir string, environ []string, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, environ
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func git(t *testing.T, dir string, environ []string, args ...string) string {
	t.Helper()
	r := runIn(t, dir, environ, "git", args...)
	if r.code != 0 {
		t.Fatalf("git %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

// buildFlagpole builds the flagpole binary of this checkout.
func buildFlagpole(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bin", "flagpole")
	out, err := exec.Command("go", "build", "-o", bin, filepath.Join(projectRoot, "cmd", "flagpole")).CombinedOutput()
	if err != nil {
		t.Fatalf("building flagpole: %v\n%s", err, out)
	}
	return bin
}

// replayExample makes a git repository whose main branch replays every
// commit of this project that changed flags.example (each as one commit of
// the flags.example tree, with the original date), then commits the work
// tree's flags.example on top when it differs. Outside a git checkout of the project it commits the
// current flags.example alone.
func replayExample(t *testing.T, environ []string) string {
	t.Helper()
	repo := t.TempDir()
	git(t, repo, environ, "init", "-q", "-b", "main")
	abs, err := filepath.Abs(projectRoot)
	if err != nil {
		t.Fatal(err)
	}
	r := runIn(t, abs, environ, "git", "log", "--reverse", "--format=%H %cI", "--", "flags.example")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || lines[0] == "" {
		lines = nil
	}
	if len(lines) == 0 {
		t.Logf("no git history of flags.example here (%s): one commit of the current files", strings.TrimSpace(r.stderr))
	}
	for _, line := range lines {
		sha, date, _ := strings.Cut(line, " ")
		clearTree(t, repo)
		archive := exec.Command("git", "archive", "--format=tar", sha, "flags.example")
		archive.Dir, archive.Env = abs, environ
		tarball, err := archive.Output()
		if err != nil {
			t.Fatalf("git archive %s: %v", sha, err)
		}
		untar := exec.Command("tar", "-x", "--strip-components=1")
		untar.Dir, untar.Stdin = repo, bytes.NewReader(tarball)
		if out, err := untar.CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
		// The original dates: flag ages (flagpole stale) come from them.
		dated := append(environ, "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
		git(t, repo, environ, "add", "-A")
		git(t, repo, dated, "commit", "-q", "--allow-empty", "-m", "flags.example at "+sha[:12])
	}
	clearTree(t, repo)
	copyTree(t, filepath.Join(abs, "flags.example"), repo)
	git(t, repo, environ, "add", "-A")
	if len(lines) == 0 {
		// No history: date the one commit 60 days back, so that flag ages
		// are old enough for flagpole stale to judge.
		date := time.Now().AddDate(0, 0, -60).Format(time.RFC3339)
		git(t, repo, append(environ, "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date), "commit", "-q", "-m", "flags.example")
	} else if git(t, repo, environ, "status", "--porcelain") != "" {
		git(t, repo, environ, "commit", "-q", "-m", "flags.example of the work tree")
	}
	return repo
}

// clearTree removes everything in dir but .git.
func clearTree(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".git" {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// edit replaces old with new in a file of the repository, which must hold it.
func edit(t *testing.T, repo, file, old, new string) {
	t.Helper()
	p := filepath.Join(repo, filepath.FromSlash(file))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not hold %q", file, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
