package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/flagpole/flagpole/internal/redact"
)

// ErrBranchNotFound is reported when the remote has no such branch (never
// pushed, or deleted). The last good revision keeps serving.
var ErrBranchNotFound = errors.New("branch not found on the remote")

// GitOptions configures a git source. Only URL is required.
type GitOptions struct {
	// URL is the repository: https://, ssh://, file://, or a local path to
	// a bare or non-bare repository.
	URL string
	// Branch to follow. Default "main".
	Branch string
	// CacheDir keeps the local clone between runs, one bare repository per
	// URL under it. Default: a temporary directory removed when Run ends.
	CacheDir string
	// WorkDir is where the working directory of checked-out revisions is
	// created (and removed when Run ends). Default os.TempDir().
	WorkDir string
	// Poll is how often the remote is fetched, ±10% jitter. Default 15 s;
	// negative: only on Trigger.
	Poll time.Duration
	// RepackEvery repacks the local clone after this many new commits:
	// go-git writes one pack per fetch, and thousands of packs slow every
	// lookup. Default 100; negative: never.
	RepackEvery int
	// FetchTimeout bounds each fetch. Default 1 min.
	FetchTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before retrying a failed
	// fetch; it doubles from MinBackoff (with jitter). Defaults 1 s and 2 min.
	MinBackoff, MaxBackoff time.Duration
	// Token is the password for https URLs (basic auth; user from the URL,
	// else "x-access-token"). Default: $FLAGPOLE_GIT_TOKEN.
	Token string
	// SSHKeyFile is a private key for ssh:// URLs (user from the URL, else
	// "git"); SSHKeyPassphrase decrypts it. Default: the ssh agent.
	SSHKeyFile, SSHKeyPassphrase string
	// SSHKnownHosts is the known_hosts file that checks the server's key.
	// Default: $SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts.
	SSHKnownHosts string
	// Logger receives fetch errors and new commits. Default: discard.
	Logger *slog.Logger
}

// Git is a Source on a branch of a git repository, through go-git. It
// fetches every Poll and on Trigger, each fetch with its own timeout; when
// the branch's commit changed (fast-forward or force-push) it checks the
// commit's tree out (rewriting only changed files of its working
// directory). A revision's ID is the commit
// hash. Fetch errors (unreachable remote, bad credentials, deleted branch)
// are reported and retried with exponential backoff and jitter.
type Git struct {
	opts    GitOptions
	url     string // normalised: local paths made absolute
	auth    transport.AuthMethod
	log     *slog.Logger
	trigger chan struct{}
}

var (
	_ Source   = (*Git)(nil)
	_ Brancher = (*Git)(nil)
)

// NewGit checks opts and prepares credentials; it does not touch the
// network.
func NewGit(opts GitOptions) (*Git, error) {
	if opts.URL == "" {
		return nil, errors.New("git source: no repository URL")
	}
	if opts.Branch == "" {
		opts.Branch = "main"
	}
	if !plumbing.NewBranchReferenceName(opts.Branch).IsBranch() || strings.ContainsAny(opts.Branch, " ~^:?*[\\") {
		return nil, fmt.Errorf("git source %s: invalid branch name %q", redact.URL(opts.URL), opts.Branch)
	}
	if opts.Poll == 0 {
		opts.Poll = 15 * time.Second
	}
	if opts.RepackEvery == 0 {
		opts.RepackEvery = 100
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = time.Minute
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(2*time.Minute, opts.MinBackoff)
	}
	if opts.Token == "" {
		opts.Token = os.Getenv("FLAGPOLE_GIT_TOKEN")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	g := &Git{opts: opts, url: normaliseURL(opts.URL), log: opts.Logger, trigger: make(chan struct{}, 1)}
	auth, err := g.authMethod()
	if err != nil {
		return nil, fmt.Errorf("git source %s: %w", redact.URL(opts.URL), g.scrub(err))
	}
	g.auth = auth
	return g, nil
}

// normaliseURL makes local paths absolute; URLs are kept as given.
func normaliseURL(u string) string {
	if strings.Contains(u, "://") || scpLike.MatchString(u) {
		return u
	}
	if abs, err := filepath.Abs(u); err == nil {
		return abs
	}
	return u
}

// String implements Source: the URL without credentials.
func (g *Git) String() string { return redact.URL(g.url) }

// Branch implements Brancher.
func (g *Git) Branch() string { return g.opts.Branch }

// Trigger implements Source: fetch now, even while backing off.
func (g *Git) Trigger() {
	select {
	case g.trigger <- struct{}{}:
	default:
	}
}

// Run implements Source. It returns an error only when the local clone
// cannot be created.
func (g *Git) Run(ctx context.Context, fn func(context.Context, Update)) error {
	repo, dir, cleanup, err := g.open()
	if err != nil {
		return err
	}
	defer cleanup()
	var wt *worktree
	defer func() {
		if wt != nil {
			wt.remove()
		}
	}()
	var last plumbing.Hash
	failures, fetched := 0, 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-g.trigger:
		}
		fetchStart := time.Now()
		hash, err := g.fetch(ctx, repo)
		g.log.Debug("git source: fetched", "repo", g.String(), "branch", g.opts.Branch, "took", time.Since(fetchStart), "err", err)
		if ctx.Err() != nil {
			return nil
		}
		// After a failure the revision is reported again even if unchanged,
		// so that the receiver knows the source has recovered.
		if err == nil && (hash != last || failures > 0) {
			if err = g.deliver(ctx, repo, &wt, hash, fn); err == nil {
				if hash != last {
					repo = g.maybeRepack(repo, dir, &fetched)
				}
				last = hash
			}
		}
		if err != nil {
			failures++
			wait := g.backoff(failures)
			g.log.Warn("git source: fetch failed; retrying", "repo", g.String(), "branch", g.opts.Branch, "attempt", failures, "retry_in", wait, "err", err)
			fn(ctx, Update{Err: err})
			resetTimer(timer, wait)
			continue
		}
		failures = 0
		if g.opts.Poll > 0 {
			resetTimer(timer, jitter(g.opts.Poll))
		} else {
			timer.Stop()
		}
	}
}

// open opens or creates the bare clone used for fetching.
func (g *Git) open() (repo *git.Repository, dir string, cleanup func(), err error) {
	cleanup = func() {}
	if g.opts.CacheDir == "" {
		tmp, err := os.MkdirTemp("", "flagpole-git-")
		if err != nil {
			return nil, "", nil, fmt.Errorf("git source %s: creating a clone directory: %w", g, err)
		}
		dir, cleanup = tmp, func() { os.RemoveAll(tmp) }
	} else {
		sum := sha256.Sum256([]byte(g.url))
		dir = filepath.Join(g.opts.CacheDir, hex.EncodeToString(sum[:8])+".git")
	}
	repo, err = git.PlainOpen(dir)
	if err != nil && !errors.Is(err, git.ErrRepositoryNotExists) && g.opts.CacheDir != "" {
		// A damaged cache is only a cache: clone afresh.
		g.log.Warn("git source: local clone unusable; recreating it", "dir", dir, "err", err)
		if rerr := os.RemoveAll(dir); rerr == nil {
			repo, err = nil, git.ErrRepositoryNotExists
		}
	}
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.PlainInit(dir, true)
	}
	if err != nil {
		cleanup()
		return nil, "", nil, fmt.Errorf("git source %s: opening the local clone %s: %w", g, dir, err)
	}
	if r, err := repo.Remote("origin"); err == nil && (len(r.Config().URLs) != 1 || r.Config().URLs[0] != g.url) {
		_ = repo.DeleteRemote("origin")
	}
	if _, err := repo.Remote("origin"); err != nil {
		_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{g.url}})
		if err != nil {
			cleanup()
			return nil, "", nil, fmt.Errorf("git source %s: configuring the local clone %s: %w", g, dir, g.scrub(err))
		}
	}
	return repo, dir, cleanup, nil
}

// fetch updates the remote-tracking ref of the branch and returns its
// commit.
func (g *Git) fetch(ctx context.Context, repo *git.Repository) (plumbing.Hash, error) {
	ctx, cancel := context.WithTimeout(ctx, g.opts.FetchTimeout)
	defer cancel()
	b := g.opts.Branch
	local := plumbing.NewRemoteReferenceName("origin", b)
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(b), local))
	err := repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{spec},
		Auth:       g.auth,
		Force:      true,
		Tags:       git.NoTags,
	})
	switch {
	case err == nil || errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.Is(err, git.NoMatchingRefSpecError{}), errors.Is(err, transport.ErrEmptyRemoteRepository):
		return plumbing.ZeroHash, fmt.Errorf("fetching %s: %w: %s", g, ErrBranchNotFound, b)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return plumbing.ZeroHash, fmt.Errorf("fetching branch %s from %s: timed out after %s", b, g, g.opts.FetchTimeout)
	default:
		return plumbing.ZeroHash, fmt.Errorf("fetching branch %s from %s: %w", b, g, g.scrub(err))
	}
	ref, err := repo.Reference(local, true)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetching %s: %w: %s", g, ErrBranchNotFound, b)
	}
	return ref.Hash(), nil
}

// deliver moves the worktree to hash and hands it to fn. A failed checkout
// discards the worktree; the next one starts afresh.
func (g *Git) deliver(ctx context.Context, repo *git.Repository, wt **worktree, hash plumbing.Hash, fn func(context.Context, Update)) error {
	start := time.Now()
	if *wt == nil {
		w, err := newWorktree(g.opts.WorkDir)
		if err != nil {
			return fmt.Errorf("checking out %s of %s: %w", hash, g, err)
		}
		*wt = w
	}
	if err := (*wt).update(repo, hash); err != nil {
		(*wt).remove()
		*wt = nil
		return fmt.Errorf("checking out %s of %s: %w", hash, g, err)
	}
	g.log.Debug("git source: new revision", "repo", g.String(), "branch", g.opts.Branch, "commit", hash.String(), "checkout_took", time.Since(start))
	fn(ctx, Update{Revision: Revision{ID: hash.String(), Dir: (*wt).dir}})
	return nil
}

// maybeRepack counts a new commit and repacks the local clone in dir every
// RepackEvery of them, returning the repository to use from then on. The
// repack runs on a freshly opened repository (go-git caches its list of
// packs, which misses the packs later fetches wrote), and the clone is
// reopened after it. A failed repack is logged; fetching still works.
func (g *Git) maybeRepack(repo *git.Repository, dir string, fetched *int) *git.Repository {
	*fetched++
	if g.opts.RepackEvery < 0 || *fetched%g.opts.RepackEvery != 0 {
		return repo
	}
	start := time.Now()
	fresh, err := git.PlainOpen(dir)
	if err == nil {
		err = fresh.RepackObjects(&git.RepackConfig{})
	}
	if err == nil {
		fresh, err = git.PlainOpen(dir)
	}
	if err != nil {
		g.log.Warn("git source: repacking the local clone", "repo", g.String(), "dir", dir, "err", g.scrub(err))
		return repo
	}
	g.log.Debug("git source: repacked the local clone", "repo", g.String(), "took", time.Since(start))
	return fresh
}

// backoff is the wait after the n-th consecutive failure: MinBackoff
// doubling up to MaxBackoff, then between half and all of it at random.
func (g *Git) backoff(n int) time.Duration {
	d := g.opts.MinBackoff
	for i := 1; i < n && d < g.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, g.opts.MaxBackoff)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// jitter spreads d by ±10% so that many syncers do not fetch in step.
func jitter(d time.Duration) time.Duration {
	spread := int64(d / 10)
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread) + time.Duration(rand.Int64N(2*spread+1))
}

// resetTimer re-arms t, draining a pending fire.
func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	select {
	case <-t.C:
	default:
	}
	t.Reset(d)
}
