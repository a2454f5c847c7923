package source

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// worktree is a directory holding the files of one commit. Moving it to
// another commit rewrites only the files whose blob or mode changed, so a
// one-file commit costs one write however large the repository.
//
// Symbolic links are written as links (the loader decides whether to follow
// them); submodules are skipped; entries that would land outside the
// directory are errors.
type worktree struct {
	dir   string
	files map[string]treeFile // slash path → what is on disk
	dirs  map[string]bool     // slash paths of directories on disk
}

// treeFile is a blob as written.
type treeFile struct {
	hash plumbing.Hash
	mode filemode.FileMode
}

// newWorktree creates an empty worktree directory under parent ("" for the
// system temp directory).
func newWorktree(parent string) (*worktree, error) {
	dir, err := os.MkdirTemp(parent, "flagpole-checkout-")
	if err != nil {
		return nil, fmt.Errorf("creating checkout directory: %w", err)
	}
	return &worktree{dir: dir, files: map[string]treeFile{}, dirs: map[string]bool{}}, nil
}

// remove deletes the worktree directory.
func (w *worktree) remove() error { return os.RemoveAll(w.dir) }

// update makes the directory hold exactly the tree of commit hash. After an
// error the directory is in an unknown state: remove it.
func (w *worktree) update(repo *git.Repository, hash plumbing.Hash) error {
	commit, err := repo.CommitObject(hash)
	if err != nil {
		return fmt.Errorf("reading commit: %w", err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return fmt.Errorf("reading tree: %w", err)
	}
	files := map[string]treeFile{}
	dirs := map[string]bool{}
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, entry, err := walker.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("walking tree: %w", err)
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("tree entry %q escapes the repository", name)
		}
		switch entry.Mode {
		case filemode.Dir:
			dirs[name] = true
		case filemode.Submodule:
		default:
			files[name] = treeFile{hash: entry.Hash, mode: entry.Mode}
		}
	}
	// Remove what the new tree no longer has, deepest paths first.
	for name, old := range w.files {
		if cur, ok := files[name]; !ok || cur != old {
			if err := os.Remove(w.path(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("removing %s: %w", name, err)
			}
			delete(w.files, name)
		}
	}
	gone := make([]string, 0)
	for name := range w.dirs {
		if !dirs[name] {
			gone = append(gone, name)
		}
	}
	sort.Slice(gone, func(i, j int) bool { return strings.Count(gone[i], "/") > strings.Count(gone[j], "/") })
	for _, name := range gone {
		if err := os.RemoveAll(w.path(name)); err != nil {
			return fmt.Errorf("removing %s: %w", name, err)
		}
	}
	for name := range dirs {
		if err := os.MkdirAll(w.path(name), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", name, err)
		}
	}
	w.dirs = dirs
	for name, f := range files {
		if _, ok := w.files[name]; ok {
			continue // same blob and mode already on disk
		}
		if err := w.write(repo, name, f); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		w.files[name] = f
	}
	return nil
}

func (w *worktree) path(name string) string { return filepath.Join(w.dir, filepath.FromSlash(name)) }

// write writes one blob.
func (w *worktree) write(repo *git.Repository, name string, f treeFile) error {
	blob, err := repo.BlobObject(f.hash)
	if err != nil {
		return err
	}
	r, err := blob.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	path := w.path(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if f.mode == filemode.Symlink {
		target, err := io.ReadAll(io.LimitReader(r, 4096))
		if err != nil {
			return err
		}
		return os.Symlink(string(target), path)
	}
	perm := os.FileMode(0o644)
	if f.mode == filemode.Executable {
		perm = 0o755
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
