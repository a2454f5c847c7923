package gitx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// ErrBranchNotFound is reported when the remote has no such branch (never
// pushed, or deleted).
var ErrBranchNotFound = errors.New("branch not found on the remote")

// Clone is a local bare clone of a Remote, the remote configured as
// "origin". Its methods are safe for concurrent use; two Clones (in one
// process or several) must not share a directory.
type Clone struct {
	remote  *Remote
	dir     string
	cleanup func()
	mu      sync.Mutex
	repo    *git.Repository
}

// Open opens the clone of r kept under cacheDir (one bare repository per
// URL, reused between runs, recreated when damaged), creating it empty if
// needed; nothing is fetched yet. With cacheDir "" the clone lives in a
// temporary directory that Close removes.
func (r *Remote) Open(cacheDir string) (*Clone, error) {
	c := &Clone{remote: r, cleanup: func() {}}
	if cacheDir == "" {
		tmp, err := os.MkdirTemp("", "flagpole-git-")
		if err != nil {
			return nil, fmt.Errorf("creating a clone directory for %s: %w", r, err)
		}
		c.dir, c.cleanup = tmp, func() { os.RemoveAll(tmp) }
	} else {
		sum := sha256.Sum256([]byte(r.url))
		c.dir = filepath.Join(cacheDir, hex.EncodeToString(sum[:8])+".git")
	}
	repo, err := git.PlainOpen(c.dir)
	if err != nil && !errors.Is(err, git.ErrRepositoryNotExists) && cacheDir != "" {
		// A damaged cache is only a cache: clone afresh.
		r.opts.Logger.Warn("git: local clone unusable; recreating it", "repo", r.String(), "dir", c.dir, "err", r.Scrub(err))
		if rerr := os.RemoveAll(c.dir); rerr == nil {
			repo, err = nil, git.ErrRepositoryNotExists
		}
	}
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.PlainInit(c.dir, true)
	}
	if err == nil {
		err = setOrigin(repo, r.url)
	}
	if err != nil {
		c.cleanup()
		return nil, fmt.Errorf("opening the local clone %s of %s: %w", c.dir, r, r.Scrub(err))
	}
	c.repo = repo
	return c, nil
}

// setOrigin points the remote "origin" of repo at url.
func setOrigin(repo *git.Repository, url string) error {
	if o, err := repo.Remote("origin"); err == nil {
		if urls := o.Config().URLs; len(urls) == 1 && urls[0] == url {
			return nil
		}
		if err := repo.DeleteRemote("origin"); err != nil {
			return err
		}
	}
	_, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}})
	return err
}

// Close releases the clone, removing it if it was temporary.
func (c *Clone) Close() error {
	c.cleanup()
	return nil
}

// Dir is the directory of the bare clone.
func (c *Clone) Dir() string { return c.dir }

// String is the remote's URL without credentials.
func (c *Clone) String() string { return c.remote.String() }

// Repository is the go-git repository of the clone, for reading commits
// and trees. Repack replaces it: call Repository again afterwards.
func (c *Clone) Repository() *git.Repository {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.repo
}

// Fetch updates refs/remotes/origin/<branch> from the remote, bounded by
// the FetchTimeout of the Remote, and returns the branch's commit. The
// branch may have been rewritten (force-pushed) since the last fetch. A
// branch the remote lacks is ErrBranchNotFound.
func (c *Clone) Fetch(ctx context.Context, branch string) (plumbing.Hash, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	timeout := c.remote.opts.FetchTimeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	local := plumbing.NewRemoteReferenceName("origin", branch)
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(branch), local))
	err := c.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{spec},
		Auth:       c.remote.auth,
		Force:      true,
		Tags:       git.NoTags,
	})
	switch {
	case err == nil || errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.Is(err, git.NoMatchingRefSpecError{}), errors.Is(err, transport.ErrEmptyRemoteRepository):
		return plumbing.ZeroHash, fmt.Errorf("fetching %s: %w: %s", c, ErrBranchNotFound, branch)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return plumbing.ZeroHash, fmt.Errorf("fetching branch %s from %s: timed out after %s", branch, c, timeout)
	default:
		return plumbing.ZeroHash, fmt.Errorf("fetching branch %s from %s: %w", branch, c, c.remote.Scrub(err))
	}
	ref, err := c.repo.Reference(local, true)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetching %s: %w: %s", c, ErrBranchNotFound, branch)
	}
	return ref.Hash(), nil
}

// Repack packs the clone's objects into one pack: go-git writes one pack
// per fetch, and thousands of packs slow every lookup. It runs on a freshly
// opened repository (go-git caches its list of packs, which misses the
// packs later fetches wrote) and reopens the clone after it. On error the
// clone is unchanged and still usable.
func (c *Clone) Repack() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	fresh, err := git.PlainOpen(c.dir)
	if err == nil {
		err = fresh.RepackObjects(&git.RepackConfig{})
	}
	if err == nil {
		fresh, err = git.PlainOpen(c.dir)
	}
	if err != nil {
		return fmt.Errorf("repacking the local clone %s of %s: %w", c.dir, c, c.remote.Scrub(err))
	}
	c.repo = fresh
	return nil
}
