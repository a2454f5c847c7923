package gitx

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// ErrPushRejected is returned by Push when the remote branch is not an
// ancestor of the commit pushed (someone else pushed first): fetch, commit
// the same changes onto the new head and push again.
var ErrPushRejected = errors.New("push rejected: the branch moved on the remote")

// Push makes the remote's branch point at commit, which must descend from
// the branch's current commit: it never forces. It is bounded by the
// PushTimeout of the Remote. A branch already at commit is no error.
func (c *Clone) Push(ctx context.Context, branch string, commit plumbing.Hash) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	timeout := c.remote.opts.PushTimeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	spec := config.RefSpec(commit.String() + ":" + plumbing.NewBranchReferenceName(branch).String())
	err := c.repo.PushContext(ctx, &git.PushOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{spec},
		Auth:       c.remote.auth,
	})
	switch {
	case err == nil || errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case rejected(err):
		return fmt.Errorf("pushing %s to branch %s of %s: %w: %w", commit, branch, c, ErrPushRejected, c.remote.Scrub(err))
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return fmt.Errorf("pushing %s to branch %s of %s: timed out after %s", commit, branch, c, timeout)
	default:
		return fmt.Errorf("pushing %s to branch %s of %s: %w", commit, branch, c, c.remote.Scrub(err))
	}
}

// rejected reports whether err says that the branch moved: go-git's own
// fast-forward check (it finds the remote's commit missing from the clone,
// or not an ancestor), or the server refusing the update because the ref
// changed under it.
func rejected(err error) bool {
	msg := err.Error()
	for _, s := range []string{"non-fast-forward", "fetch first", "stale info", "failed to lock", "cannot lock ref", "failed to update ref"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
