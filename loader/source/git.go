package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/flagpole/flagpole/internal/backoff"
	"github.com/flagpole/flagpole/internal/gitx"
	"github.com/flagpole/flagpole/internal/redact"
)

// ErrBranchNotFound is reported when the remote has no such branch (never
// pushed, or deleted). The last good revision keeps serving.
var ErrBranchNotFound = gitx.ErrBranchNotFound

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
	remote  *gitx.Remote
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
	if err := gitx.CheckBranch(opts.Branch); err != nil {
		return nil, fmt.Errorf("git source %s: %w", redact.URL(opts.URL), err)
	}
	if opts.Poll == 0 {
		opts.Poll = 15 * time.Second
	}
	if opts.RepackEvery == 0 {
		opts.RepackEvery = 100
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(2*time.Minute, opts.MinBackoff)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	remote, err := gitx.NewRemote(gitx.Options{
		URL: opts.URL, Token: opts.Token,
		SSHKeyFile: opts.SSHKeyFile, SSHKeyPassphrase: opts.SSHKeyPassphrase, SSHKnownHosts: opts.SSHKnownHosts,
		FetchTimeout: opts.FetchTimeout, Logger: opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("git source: %w", err)
	}
	return &Git{opts: opts, remote: remote, log: opts.Logger, trigger: make(chan struct{}, 1)}, nil
}

// String implements Source: the URL without credentials.
func (g *Git) String() string { return g.remote.String() }

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
	clone, err := g.remote.Open(g.opts.CacheDir)
	if err != nil {
		return fmt.Errorf("git source: %w", err)
	}
	defer clone.Close()
	var wt *worktree
	defer func() {
		if wt != nil {
			wt.remove()
		}
	}()
	var last plumbing.Hash
	fetched := 0
	retry := backoff.Counter{Policy: backoff.Policy{Min: g.opts.MinBackoff, Max: g.opts.MaxBackoff}}
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
		hash, err := clone.Fetch(ctx, g.opts.Branch)
		g.log.Debug("git source: fetched", "repo", g.String(), "branch", g.opts.Branch, "took", time.Since(fetchStart), "err", err)
		if ctx.Err() != nil {
			return nil
		}
		// After a failure the revision is reported again even if unchanged,
		// so that the receiver knows the source has recovered.
		if err == nil && (hash != last || retry.Failures() > 0) {
			if err = g.deliver(ctx, clone, &wt, hash, fn); err == nil {
				if hash != last {
					g.maybeRepack(clone, &fetched)
				}
				last = hash
			}
		}
		if err != nil {
			wait := retry.Next()
			g.log.Warn("git source: fetch failed; retrying", "repo", g.String(), "branch", g.opts.Branch, "attempt", retry.Failures(), "retry_in", wait, "err", err)
			fn(ctx, Update{Err: err})
			resetTimer(timer, wait)
			continue
		}
		retry.Reset()
		if g.opts.Poll > 0 {
			resetTimer(timer, jitter(g.opts.Poll))
		} else {
			timer.Stop()
		}
	}
}

// deliver moves the worktree to hash and hands it to fn. A failed checkout
// discards the worktree; the next one starts afresh.
func (g *Git) deliver(ctx context.Context, clone *gitx.Clone, wt **worktree, hash plumbing.Hash, fn func(context.Context, Update)) error {
	start := time.Now()
	if *wt == nil {
		w, err := newWorktree(g.opts.WorkDir)
		if err != nil {
			return fmt.Errorf("checking out %s of %s: %w", hash, g, err)
		}
		*wt = w
	}
	if err := (*wt).update(clone.Repository(), hash); err != nil {
		(*wt).remove()
		*wt = nil
		return fmt.Errorf("checking out %s of %s: %w", hash, g, err)
	}
	g.log.Debug("git source: new revision", "repo", g.String(), "branch", g.opts.Branch, "commit", hash.String(), "checkout_took", time.Since(start))
	fn(ctx, Update{Revision: Revision{ID: hash.String(), Dir: (*wt).dir}})
	return nil
}

// maybeRepack counts a new commit and repacks the clone every RepackEvery
// of them. A failed repack is logged; fetching still works.
func (g *Git) maybeRepack(clone *gitx.Clone, fetched *int) {
	*fetched++
	if g.opts.RepackEvery < 0 || *fetched%g.opts.RepackEvery != 0 {
		return
	}
	start := time.Now()
	if err := clone.Repack(); err != nil {
		g.log.Warn("git source: repack failed", "repo", g.String(), "err", err)
		return
	}
	g.log.Debug("git source: repacked the local clone", "repo", g.String(), "dir", clone.Dir(), "took", time.Since(start))
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
