package source

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// checkout writes the tree of commit hash into a new directory under
// workDir and returns it. Symbolic links are written as links (the loader
// decides whether to follow them); submodules are skipped; entries that
// would land outside the directory are errors.
func checkout(repo *git.Repository, hash plumbing.Hash, workDir string) (dir string, err error) {
	commit, err := repo.CommitObject(hash)
	if err != nil {
		return "", fmt.Errorf("reading commit: %w", err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return "", fmt.Errorf("reading tree: %w", err)
	}
	dir, err = os.MkdirTemp(workDir, "flagpole-checkout-")
	if err != nil {
		return "", fmt.Errorf("creating checkout directory: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, entry, err := walker.Next()
		if errors.Is(err, io.EOF) {
			return dir, nil
		}
		if err != nil {
			return "", fmt.Errorf("walking tree: %w", err)
		}
		if !filepath.IsLocal(name) {
			return "", fmt.Errorf("tree entry %q escapes the repository", name)
		}
		if err := writeEntry(repo, filepath.Join(dir, filepath.FromSlash(name)), entry); err != nil {
			return "", fmt.Errorf("writing %s: %w", name, err)
		}
	}
}

// writeEntry writes one tree entry.
func writeEntry(repo *git.Repository, path string, entry object.TreeEntry) error {
	switch entry.Mode {
	case filemode.Dir:
		return os.MkdirAll(path, 0o755)
	case filemode.Submodule:
		return nil
	}
	blob, err := repo.BlobObject(entry.Hash)
	if err != nil {
		return err
	}
	r, err := blob.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if entry.Mode == filemode.Symlink {
		target, err := io.ReadAll(io.LimitReader(r, 4096))
		if err != nil {
			return err
		}
		return os.Symlink(string(target), path)
	}
	perm := os.FileMode(0o644)
	if entry.Mode == filemode.Executable {
		perm = 0o755
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
