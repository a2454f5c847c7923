package stale

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// gitAges holds when each flag file was first committed.
type gitAges struct {
	added map[string]time.Time // by path relative to the repository directory
	err   string               // why ages are unknown, "" when they are known
	notes []string
}

// MaxGitOutput bounds what the git log that dates flag files may print:
// 64 MiB, some 500,000 flag files.
const MaxGitOutput = 64 << 20

// readGitAges dates the files under flags/ of the repository in dir with
// one `git log` over the history of HEAD: a file's age starts at the
// earliest commit that added it (a renamed file counts from the rename,
// since its key changed with its name).
func readGitAges(ctx context.Context, dir string) *gitAges {
	g := &gitAges{added: map[string]time.Time{}}
	if _, err := exec.LookPath("git"); err != nil {
		g.err = "git is not installed: flag ages come from the git history"
		return g
	}
	inside, err := git(ctx, dir, "rev-parse", "--is-inside-work-tree")
	if err != nil || strings.TrimSpace(inside) != "true" {
		g.err = "not a git work tree: flag ages come from the git history"
		return g
	}
	if shallow, err := git(ctx, dir, "rev-parse", "--is-shallow-repository"); err == nil && strings.TrimSpace(shallow) == "true" {
		g.notes = append(g.notes, "shallow clone: a flag older than the clone's history looks younger than it is (fetch the full history, e.g. actions/checkout with fetch-depth: 0)")
	}
	out, err := git(ctx, dir, "log", "--no-renames", "--diff-filter=A", "--relative", "--name-only",
		"--format=%x00%cI", "--", "flags/")
	if err != nil {
		if strings.Contains(err.Error(), "does not have any commits") || strings.Contains(err.Error(), "unknown revision") {
			g.notes = append(g.notes, "the git repository has no commits yet")
			return g
		}
		g.err = "reading the git history failed: " + err.Error()
		return g
	}
	// Newest first: the last date seen for a path is its first addition.
	var when time.Time
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "\x00"):
			when, err = time.Parse(time.RFC3339, strings.TrimPrefix(line, "\x00"))
			if err != nil {
				g.err = fmt.Sprintf("reading the git history: bad date %q", line[1:])
				return g
			}
		case line != "":
			g.added[line] = when
		}
	}
	return g
}

// git runs git in dir and returns its standard output.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &limited{w: &stdout, n: MaxGitOutput}
	cmd.Stderr = &limited{w: &stderr, n: 64 << 10}
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	err := cmd.Run()
	if ctx.Err() != nil {
		return "", fmt.Errorf("git %s: %w", args[0], ctx.Err())
	}
	if errors.Is(err, errTooLarge) || stdout.Len() >= MaxGitOutput {
		return "", fmt.Errorf("git %s: output over %d bytes", args[0], MaxGitOutput)
	}
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

var errTooLarge = errors.New("output too large")

// limited writes at most n bytes to w and then fails.
type limited struct {
	w interface{ Write([]byte) (int, error) }
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if len(p) > l.n {
		l.w.Write(p[:l.n]) //nolint:errcheck // a bytes.Buffer never fails
		l.n = 0
		return 0, errTooLarge
	}
	l.n -= len(p)
	return l.w.Write(p)
}
