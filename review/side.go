package review

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/flagpole/flagpole/loader"
)

// side is one side of a diff, read and validated.
type side struct {
	// Arg is the revision or directory as given.
	Arg string
	// Label names the side for people: `main (3f2a1c9d0e12)`, "work tree
	// of ." or "directory old/".
	Label string
	// Commit is the full hash when the side is a commit.
	Commit string
	// Repo is the loaded repository; nil when it is invalid.
	Repo *loader.Repo
	// Diagnostics holds the errors (and warnings) of an invalid side.
	Diagnostics loader.Diagnostics

	commit *object.Commit
}

// Valid reports whether the side loaded.
func (s *side) valid() bool { return s.Repo != nil }

// sideLoader reads sides of one request.
type sideLoader struct {
	dir   string   // the flags repository directory (--repo)
	git   *gitRepo // nil when dir is not in a git repository
	now   time.Time
	cache *loader.Cache // shared by both sides: what one parsed, the other reuses
}

// load reads the side arg names. An argument is taken as a directory when
// it is one and looks like a path (holds a separator or starts with a
// dot), else as a revision of the git repository, else as a directory.
// WorkTree is the flags repository directory itself. The error is for
// sides that cannot be read at all (unknown revision, I/O); an invalid
// repository is a Side with Diagnostics.
func (l *sideLoader) load(arg string) (*side, error) {
	if arg == WorkTree {
		return l.loadDir(arg, l.dir, "work tree of "+l.dir, "")
	}
	looksLikePath := strings.ContainsAny(arg, `/\`) || strings.HasPrefix(arg, ".")
	if looksLikePath && isDir(arg) {
		return l.loadDir(arg, arg, "directory "+arg, "")
	}
	if l.git == nil {
		if isDir(arg) {
			return l.loadDir(arg, arg, "directory "+arg, "")
		}
		return nil, &refError{msg: fmt.Sprintf("%q: %v: %s is not in a git repository and %s is not a directory",
			arg, ErrMissingRef, l.dir, arg)}
	}
	c, err := l.git.resolve(arg)
	if err != nil {
		if isDir(arg) {
			return l.loadDir(arg, arg, "directory "+arg, "")
		}
		return nil, err
	}
	tmp, err := extractTemp()
	if err != nil {
		return nil, fmt.Errorf("creating a directory for %s: %w", arg, err)
	}
	defer os.RemoveAll(tmp)
	if err := l.git.extract(c, tmp); err != nil {
		return nil, err
	}
	label := fmt.Sprintf("%s (%s)", arg, c.Hash.String()[:12])
	if strings.HasPrefix(c.Hash.String(), arg) {
		label = c.Hash.String()[:12]
	}
	s, err := l.loadDir(arg, tmp, label, c.Hash.String())
	if s != nil {
		s.commit = c
		if s.Repo != nil {
			s.Repo.Dir = l.dir
		}
	}
	return s, err
}

// loadDir loads the flags repository in dir.
func (l *sideLoader) loadDir(arg, dir, label, commit string) (*side, error) {
	s := &side{Arg: arg, Label: label, Commit: commit}
	now := l.now
	repo, err := loader.Load(dir, loader.Options{Now: func() time.Time { return now }, Revision: commit, Cache: l.cache})
	var diags loader.Diagnostics
	switch {
	case err == nil:
		s.Repo = repo
	case errors.As(err, &diags):
		s.Diagnostics = diags
	default:
		return nil, fmt.Errorf("reading %s: %w", label, err)
	}
	return s, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// history says how the two commits relate when that is worth telling: no
// common history, or history a shallow clone cut off.
func (l *sideLoader) history(base, head *side) []string {
	if l.git == nil || base.commit == nil || head.commit == nil || base.Commit == head.Commit {
		return nil
	}
	bases, err := base.commit.MergeBase(head.commit)
	switch {
	case err != nil && l.git.shallow():
		return []string{"The clone is shallow, so whether BASE and HEAD share history is unknown; the contents are compared as they are."}
	case err != nil:
		return []string{fmt.Sprintf("Could not read the history between BASE and HEAD (%v); the contents are compared as they are.", err)}
	case len(bases) == 0 && l.git.shallow():
		return []string{"BASE and HEAD share no history in this shallow clone (fetch more with `git fetch --unshallow`); the contents are compared as they are."}
	case len(bases) == 0:
		return []string{"BASE and HEAD have unrelated histories; the contents are compared as they are."}
	case bases[0].Hash != base.commit.Hash:
		return []string{fmt.Sprintf("BASE is not an ancestor of HEAD (they meet at %s): changes made on BASE since then show as reverted.", bases[0].Hash.String()[:12])}
	}
	return nil
}

// extractTemp makes the directory a commit is written to for the loader:
// under $TMPDIR when set, else under /dev/shm when that works (memory:
// creating ten thousand small files there takes a tenth of the time it
// takes on a disk or overlay file system), else under the system temporary
// directory. A commit takes at most MaxTreeBytes there, and is removed
// once loaded.
func extractTemp() (string, error) {
	if os.Getenv("TMPDIR") == "" {
		if dir, err := os.MkdirTemp("/dev/shm", "flagpole-diff-"); err == nil {
			return dir, nil
		}
	}
	return os.MkdirTemp("", "flagpole-diff-")
}
