package syncer

import (
	"context"

	"github.com/flagpole/flagpole/store"
)

// layerStore is the part of a store's override layer (store.Overrider)
// that the syncer reconciles with git.
type layerStore interface {
	Layer(ctx context.Context, env string) (store.Layer, error)
	DropOverride(ctx context.Context, env, flag string, seq uint64) error
}

// reconcile drops the override layer entries that the published revision
// has caught up with (store.LayerEntry.InGit): a set entry once git holds
// an override of the flag with the same at and by (the write-back's
// commit), a tombstone once git has no override of the flag, the
// breaker's disable entry (on_trip: commit) once git has the flag
// disabled in that environment. Any other entry stays and keeps winning
// over git, so that a sync never undoes an override that git does not
// have yet. A drop that fails is retried at the next publish. The caller
// holds s.work.
func (s *Syncer) reconcile(ctx context.Context) {
	ls, ok := s.opts.Store.(layerStore)
	if !ok {
		return
	}
	for _, snap := range s.good {
		env := snap.Environment
		l, err := ls.Layer(ctx, env)
		if err != nil {
			s.log.Warn("sync: reading the override layer; will retry at the next publish", "environment", env, "err", err)
			continue
		}
		for flag, e := range l.Entries {
			if !e.InGit(snap.Document) {
				continue
			}
			if err := ls.DropOverride(ctx, env, flag, e.Seq); err != nil {
				s.log.Warn("sync: dropping an override layer entry that git holds; will retry at the next publish",
					"environment", env, "flag", flag, "seq", e.Seq, "err", err)
				continue
			}
			s.log.Info("sync: git holds the override layer entry; dropped it", "environment", env, "flag", flag, "seq", e.Seq,
				"commit", s.goodID, "tombstone", e.Override == nil, "kind", e.Kind)
		}
	}
}
