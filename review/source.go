package review

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Bounds of what one side of a diff may hold when it is read from a commit.
// Each file is also bounded by loader.DefaultMaxFileSize, which Load
// enforces and reports with the file's name.
const (
	// MaxTreeFiles is the most repository files (flags, audiences,
	// overrides, settings) one commit may hold.
	MaxTreeFiles = 250_000
	// MaxTreeBytes is the most bytes those files may hold in total.
	MaxTreeBytes = 512 << 20
)

// WorkTree is the HEAD argument that names the files on disk at the
// repository directory, committed or not. It is also what an omitted HEAD
// means.
const WorkTree = "WORKTREE"

// ErrMissingRef is returned (wrapped) when a revision does not resolve.
var ErrMissingRef = errors.New("unknown revision")

// gitRepo is the git repository that holds the flags repository, if any.
type gitRepo struct {
	repo    *git.Repository // for the work tree and references
	objects *git.Repository // the same repository, for reading objects
	closer  io.Closer       // closes the descriptors objects keeps; may be nil
	buf     [32 << 10]byte  // copy buffer of writeBlob
	root    string          // the work tree root, "" for a bare repository
	sub     string          // slash path of the flags repository inside the tree, "" at the root
}

// openGit opens the git repository holding dir, or returns nil when dir is
// not inside one.
func openGit(dir string) (*gitRepo, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening git repository at %s: %w", dir, err)
	}
	g := &gitRepo{repo: repo}
	// Read objects with the pack files kept open: go-git otherwise opens
	// the pack again for every blob, which for ten thousand files costs
	// more than writing them.
	if st, ok := repo.Storer.(*filesystem.Storage); ok {
		keep := filesystem.NewStorageWithOptions(st.Filesystem(), cache.NewObjectLRUDefault(), filesystem.Options{KeepDescriptors: true})
		if objects, err := git.Open(keep, nil); err == nil {
			g.objects, g.closer = objects, keep
		}
	}
	if g.objects == nil {
		g.objects = repo
	}
	if wt, err := repo.Worktree(); err == nil {
		g.root = wt.Filesystem.Root()
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		real, err1 := filepath.EvalSymlinks(abs)
		rootReal, err2 := filepath.EvalSymlinks(g.root)
		if err1 == nil && err2 == nil {
			if rel, err := filepath.Rel(rootReal, real); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
				g.sub = filepath.ToSlash(rel)
			}
		}
	}
	return g, nil
}

// close releases the descriptors kept open for reading objects.
func (g *gitRepo) close() {
	if g != nil && g.closer != nil {
		g.closer.Close()
	}
}

// shallow reports whether the clone has cut-off history.
func (g *gitRepo) shallow() bool {
	s, err := g.repo.Storer.Shallow()
	return err == nil && len(s) > 0
}

// resolve returns the commit a revision names, with an error that says why
// not: an unknown name, or history cut off by a shallow clone.
func (g *gitRepo) resolve(rev string) (*object.Commit, error) {
	h, err := g.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		msg := fmt.Sprintf("%q: %v: %v", rev, ErrMissingRef, err)
		if g.shallow() {
			msg += "; this is a shallow clone, so older commits may be missing (fetch them with `git fetch --unshallow`, or actions/checkout with fetch-depth: 0)"
		} else if !strings.Contains(rev, "/") {
			msg += " (in CI, a branch of the remote is origin/" + rev + " once fetched)"
		}
		return nil, &refError{msg: msg, err: err}
	}
	c, err := g.objects.CommitObject(*h)
	if err != nil {
		msg := fmt.Sprintf("%q resolves to %s, but that commit cannot be read: %v", rev, h.String()[:12], err)
		if g.shallow() {
			msg += "; this is a shallow clone that does not hold it (fetch it with `git fetch --unshallow`, or actions/checkout with fetch-depth: 0)"
		}
		return nil, &refError{msg: msg, err: err}
	}
	return c, nil
}

// refError is an unusable revision; it matches ErrMissingRef.
type refError struct {
	msg string
	err error
}

func (e *refError) Error() string        { return e.msg }
func (e *refError) Unwrap() []error      { return []error{ErrMissingRef, e.err} }
func (e *refError) Is(target error) bool { return target == ErrMissingRef }

// extract writes the repository files of commit c (below g.sub) into dir,
// within MaxTreeFiles and MaxTreeBytes.
func (g *gitRepo) extract(c *object.Commit, dir string) error {
	tree, err := c.Tree()
	if err != nil {
		return fmt.Errorf("reading the tree of %s: %w", c.Hash.String()[:12], err)
	}
	if g.sub != "" {
		tree, err = tree.Tree(g.sub)
		if errors.Is(err, object.ErrDirectoryNotFound) {
			// Not a flags repository yet at this commit: the loader says
			// so, and a diff explains HEAD in full.
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s at %s: %w", g.sub, c.Hash.String()[:12], err)
		}
	}
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	var files int
	var total int64
	for {
		name, entry, err := walker.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("walking the tree of %s: %w", c.Hash.String()[:12], err)
		}
		if !entry.Mode.IsFile() || !repoFile(name) || !filepath.IsLocal(name) {
			continue
		}
		if files++; files > MaxTreeFiles {
			return fmt.Errorf("commit %s holds more than %d repository files", c.Hash.String()[:12], MaxTreeFiles)
		}
		n, err := g.writeBlob(dir, name, entry, MaxTreeBytes-total)
		if errors.Is(err, errTreeTooLarge) {
			return fmt.Errorf("commit %s holds more than %d MiB of repository files", c.Hash.String()[:12], MaxTreeBytes>>20)
		}
		if err != nil {
			return fmt.Errorf("writing %s of %s: %w", name, c.Hash.String()[:12], err)
		}
		total += n
	}
}

// repoFile reports whether the loader reads the slash path name.
func repoFile(name string) bool {
	top, _, nested := strings.Cut(name, "/")
	if !nested {
		return name == "flagpole.yaml" || name == "attributes.yaml"
	}
	return top == "flags" || top == "audiences" || top == "overrides"
}

var errTreeTooLarge = errors.New("over MaxTreeBytes")

// writeBlob writes one tree entry under dir, if it is at most budget bytes,
// and returns the bytes written.
func (g *gitRepo) writeBlob(dir, name string, entry object.TreeEntry, budget int64) (int64, error) {
	blob, err := g.objects.BlobObject(entry.Hash)
	if err != nil {
		return 0, err
	}
	if blob.Size > budget {
		return 0, errTreeTooLarge
	}
	r, err := blob.Reader()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	full := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return 0, err
	}
	if entry.Mode == filemode.Symlink {
		target, err := io.ReadAll(io.LimitReader(r, 4096))
		if err != nil {
			return 0, err
		}
		// The loader refuses links that leave the repository.
		return int64(len(target)), os.Symlink(path.Clean(string(target)), full)
	}
	out, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.CopyBuffer(onlyWriter{out}, io.LimitReader(r, budget), g.buf[:])
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// onlyWriter hides an *os.File's ReadFrom, so that io.CopyBuffer uses the
// buffer it is given instead of allocating one per file.
type onlyWriter struct{ io.Writer }
