package dashboard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Added returns when each flag file (flags/<name>.yaml or .yml, by name
// without the extension) first appeared in the branch's history: the
// author time of the oldest commit, among the newest MaxHistoryWalk, that
// added it. A kind's expected lifetime counts from there. The answer is
// cached until the branch moves.
func (h *History) Added(ctx context.Context) (map[string]time.Time, error) {
	repo, err := openRepo(h.dir)
	if err != nil {
		return nil, fmt.Errorf("opening the repository: %w", err)
	}
	head, err := h.head(repo)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.added != nil && h.addedAt == head {
		out := h.added
		h.mu.Unlock()
		return out, nil
	}
	h.mu.Unlock()
	added, err := walkAdded(ctx, repo, head, h.prefix+"flags")
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.added, h.addedAt = added, head
	h.mu.Unlock()
	return added, nil
}

// walkAdded walks from head, newest first, and notes for every flag file
// a commit adds (present in it, absent from its first parent) that
// commit's time; older commits overwrite newer ones.
func walkAdded(ctx context.Context, repo *git.Repository, head plumbing.Hash, flagsDir string) (map[string]time.Time, error) {
	it, err := repo.Log(&git.LogOptions{From: head, Order: git.LogOrderCommitterTime})
	if err != nil {
		return nil, fmt.Errorf("reading the log: %w", err)
	}
	defer it.Close()
	added := map[string]time.Time{}
	seen := 0
	err = it.ForEach(func(c *object.Commit) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if seen++; seen > MaxHistoryWalk {
			return storer.ErrStop
		}
		now, err := flagFiles(c, flagsDir)
		if err != nil {
			return err
		}
		var before map[string]plumbing.Hash
		if c.NumParents() > 0 {
			p, err := c.Parent(0)
			if err != nil {
				return err
			}
			if before, err = flagFiles(p, flagsDir); err != nil {
				return err
			}
		}
		for name := range now {
			if _, ok := before[name]; !ok {
				added[name] = c.Author.When.UTC()
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, storer.ErrStop) {
		return nil, fmt.Errorf("reading the log: %w", err)
	}
	return added, nil
}

// flagFiles lists the flag files in dir of c's tree by name without
// extension.
func flagFiles(c *object.Commit, dir string) (map[string]plumbing.Hash, error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	sub, err := tree.Tree(dir)
	if err != nil {
		return map[string]plumbing.Hash{}, nil // no flags directory
	}
	out := make(map[string]plumbing.Hash, len(sub.Entries))
	for _, e := range sub.Entries {
		if name, ok := strings.CutSuffix(e.Name, ".yaml"); ok {
			out[name] = e.Hash
		} else if name, ok := strings.CutSuffix(e.Name, ".yml"); ok {
			out[name] = e.Hash
		}
	}
	return out, nil
}
