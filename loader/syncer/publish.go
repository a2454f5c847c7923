package syncer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/loader/source"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// handle receives one update from the source.
func (s *Syncer) handle(ctx context.Context, u source.Update) {
	s.work.Lock()
	defer s.work.Unlock()
	if u.Err != nil {
		s.fail(ctx, ReasonFetch, "", u.Err, nil)
		return
	}
	rev := u.Revision
	if rev.ID == s.goodID && s.published {
		// The source recovered and still has the published revision.
		s.setStatus(ctx, func(st *store.SyncStatus) {
			st.Commit = rev.ID
			st.LastSync = s.opts.Clock.Now()
			st.LastError = nil
		})
		s.failedBy = ""
		return
	}
	start := time.Now()
	s.cache.UseScan(rev.Files) // the source's scan already lstat'ed and hashed every file
	repo, err := loader.Load(rev.Dir, loader.Options{Revision: rev.Short(), Now: s.opts.Clock.Now, MaxFileSize: s.opts.MaxFileSize, Cache: s.cache})
	if errors.Is(err, loader.ErrChanged) {
		// A write landed between the source's scan and this load: what was
		// read is not revision rev.ID, and publishing it under that ID
		// would leave every bearer already serving rev.ID on other content
		// for good. Nothing is wrong; the next revision follows.
		s.log.Info("sync: the directory changed while it was loaded; waiting for its next revision", "commit", rev.ID, "detail", err)
		s.metrics.changedLoads.Inc()
		if rev.Retry != nil {
			rev.Retry()
		}
		return
	}
	if err != nil {
		full, locs, count := problems(err)
		if count == 0 {
			// Not a validation failure (an unreadable directory): its text
			// is the error.
			s.fail(ctx, ReasonValidate, rev.ID, fmt.Errorf("loading revision %s: %w", rev.Short(), err), nil)
			return
		}
		s.fail(ctx, ReasonValidate, rev.ID, invalidError(rev.Short(), len(full), count), &store.SyncError{Problems: full, Locations: locs, Count: count})
		return
	}
	s.good, s.goodID, s.published = keepUnchanged(s.good, s.snapshots(repo, rev)), rev.ID, false
	s.mu.Lock()
	s.settings, s.hasSettings = repo.Settings, true
	s.mu.Unlock()
	if err := s.publish(ctx, true); err != nil {
		s.fail(ctx, ReasonPublish, rev.ID, err, nil)
		return
	}
	s.metrics.duration.Observe(time.Since(start).Seconds())
	s.log.Info("sync: published", "commit", rev.ID, "version", rev.Short(), "environments", len(s.good), "warnings", len(repo.Warnings), "took", time.Since(start))
}

// snapshots builds one snapshot per environment of a loaded repository.
func (s *Syncer) snapshots(repo *loader.Repo, rev source.Revision) []*store.Snapshot {
	now := s.opts.Clock.Now()
	envs := make([]string, 0, len(repo.Documents))
	for env := range repo.Documents {
		envs = append(envs, env)
	}
	slices.Sort(envs)
	snaps := make([]*store.Snapshot, 0, len(envs))
	for _, env := range envs {
		doc := repo.Documents[env]
		doc.Commit = rev.ID
		var keys []store.Key
		for _, k := range repo.Settings.Keys {
			if k.Applies(env) {
				keys = append(keys, k)
			}
		}
		var triggers []store.Trigger
		for _, t := range repo.Settings.Triggers {
			if t.Environment == env {
				triggers = append(triggers, t)
			}
		}
		// The compiled rule set travels with the Document: a bearer in this
		// process (store.Memory) serves it instead of compiling its own.
		var compiled *ruleset.RuleSet
		if rs := repo.RuleSets[env]; rs != nil && rs.Document() == doc {
			compiled = rs
		}
		// So does how the Document was made from the last load's (when it
		// was patched): the store and keepUnchanged diff those flags only.
		snaps = append(snaps, &store.Snapshot{Environment: env, Version: doc.Version, Document: doc, Keys: keys,
			Triggers: triggers, Published: now, Compiled: compiled, Change: repo.Changes[env]})
	}
	return snaps
}

// builtFrom is the revision a snapshot was built from.
type builtFrom struct {
	snap   *store.Snapshot
	commit string
}

// publish writes s.good to the store and records success. fresh says that
// s.good is a new revision, which clears any error; a republish clears only
// a publish error (a newer invalid commit stays reported). The caller holds
// s.work.
func (s *Syncer) publish(ctx context.Context, fresh bool) error {
	if s.inStore == nil {
		s.inStore = map[string]*store.Snapshot{}
	}
	for _, snap := range s.good {
		if s.inStore[snap.Environment] == snap {
			continue // unchanged by this revision (keepUnchanged)
		}
		if err := s.opts.Store.Publish(ctx, snap); err != nil {
			return fmt.Errorf("publishing %s version %s: %w", snap.Environment, snap.Version, err)
		}
		s.inStore[snap.Environment] = snap
	}
	if err := s.removeOthers(ctx); err != nil {
		return err
	}
	s.published = true
	s.reconcile(ctx)
	now := s.opts.Clock.Now()
	envs := map[string]store.EnvStatus{}
	versions := map[string]string{}
	if s.builtFrom == nil {
		s.builtFrom = map[string]builtFrom{}
	}
	for _, snap := range s.good {
		// A snapshot kept from an earlier revision (its environment did not
		// change) names the commit it was built from, as its version does.
		b := s.builtFrom[snap.Environment]
		if b.snap != snap {
			b = builtFrom{snap, s.goodID}
			s.builtFrom[snap.Environment] = b
		}
		envs[snap.Environment] = store.EnvStatus{Version: snap.Version, Commit: b.commit, Published: snap.Published}
		versions[snap.Environment] = snap.Version
	}
	s.metrics.lastSuccess.Set(float64(now.Unix()))
	s.metrics.setVersions(versions)
	clear := fresh || s.failedBy == ReasonPublish
	s.setStatus(ctx, func(st *store.SyncStatus) {
		st.Published, st.LastSync, st.Envs = s.goodID, now, envs
		if clear {
			st.Commit, st.LastError = s.goodID, nil
		}
	})
	if clear {
		s.failedBy = ""
	}
	return nil
}

// removeOthers removes from the store every environment that s.good does
// not have: one removed from flagpole.yaml, whose keys must stop working
// everywhere. The caller holds s.work.
func (s *Syncer) removeOthers(ctx context.Context) error {
	have, err := s.opts.Store.Versions(ctx)
	if err != nil {
		return fmt.Errorf("listing the store's environments: %w", err)
	}
	for _, env := range slices.Sorted(maps.Keys(have)) {
		if slices.ContainsFunc(s.good, func(snap *store.Snapshot) bool { return snap.Environment == env }) {
			continue
		}
		if err := s.opts.Store.Remove(ctx, env); err != nil {
			return fmt.Errorf("removing environment %s: %w", env, err)
		}
		s.log.Info("sync: removed an environment that the repository no longer has", "environment", env, "commit", s.goodID)
	}
	return nil
}

// fail records a failed sync: status, log, metric. probs, when not nil,
// holds the validation errors (within the limits of limits.go). The caller
// holds s.work.
func (s *Syncer) fail(ctx context.Context, reason, commit string, err error, probs *store.SyncError) {
	s.metrics.failures.WithLabelValues(reason).Inc()
	s.failedBy = reason
	now := s.opts.Clock.Now()
	se := store.SyncError{Commit: commit, At: now, Message: truncate(err.Error(), MaxMessageBytes)}
	if probs != nil {
		se.Problems, se.Locations, se.Count = probs.Problems, probs.Locations, probs.Count
	}
	repeated := false
	s.setStatus(ctx, func(st *store.SyncStatus) {
		if commit != "" {
			st.Commit = commit
		}
		prev := st.LastError
		repeated = prev != nil && prev.Commit == se.Commit && prev.Message == se.Message
		st.LastSync = now
		e := se
		st.LastError = &e
	})
	if s.opts.OnError != nil && !repeated {
		s.opts.OnError(reason, se)
	}
	attrs := []any{"reason", reason, "err", se.Message}
	if commit != "" {
		attrs = append(attrs, "commit", commit)
	}
	if se.Count > 0 {
		attrs = append(attrs, "problems", se.Problems, "problem_count", se.Count)
	}
	if s.goodID != "" {
		attrs = append(attrs, "serving", s.goodID)
	}
	s.log.Error("sync failed; the last good rule sets keep serving", attrs...)
}

// setStatus changes the status and writes it to the store; a write that
// fails is retried by the store check. The caller holds s.work.
func (s *Syncer) setStatus(ctx context.Context, change func(*store.SyncStatus)) {
	s.mu.Lock()
	change(&s.status)
	st := copyStatus(s.status)
	s.mu.Unlock()
	if err := s.opts.Store.PutStatus(ctx, &st); err != nil {
		s.dirty = true
		s.log.Warn("sync: writing status to the store; will retry", "err", err)
		return
	}
	s.dirty = false
}

// check republishes the last good revision when the store lost it or a
// publish failed, and rewrites a lost or unwritten status.
func (s *Syncer) check(ctx context.Context) {
	s.work.Lock()
	defer s.work.Unlock()
	if s.good == nil {
		return
	}
	if s.published {
		have, err := s.opts.Store.Versions(ctx)
		if err != nil {
			s.log.Warn("sync: checking the store", "err", err)
			return
		}
		if why, env := s.lost(ctx, have); why != "" {
			s.log.Warn("sync: the store does not hold what was published; republishing",
				"commit", s.goodID, "environment", env, "problem", why)
			s.published, s.inStore = false, nil
		}
	}
	if !s.published {
		if err := s.publish(ctx, false); err != nil {
			s.fail(ctx, ReasonPublish, s.goodID, err, nil)
		}
		return
	}
	if _, err := s.opts.Store.Status(ctx); s.dirty || errors.Is(err, store.ErrNotFound) {
		s.setStatus(ctx, func(*store.SyncStatus) {})
	}
}

// lost reports the first way in which the store no longer holds s.good
// (given its listed versions, have) and the environment concerned, or ""
// when it holds exactly that. Each snapshot is read back, not only listed:
// a deleted or garbled snapshot key leaves the listing intact. The caller
// holds s.work.
func (s *Syncer) lost(ctx context.Context, have map[string]string) (why, env string) {
	for _, snap := range s.good {
		// Missing: Redis flushed or restarted empty. Another version: a
		// failover lost the last write, or someone wrote to our prefix.
		if v, ok := have[snap.Environment]; !ok || v != snap.Version {
			return fmt.Sprintf("listed version %q, want %q", v, snap.Version), snap.Environment
		}
		got, err := s.opts.Store.Snapshot(ctx, snap.Environment)
		switch {
		case err != nil:
			return err.Error(), snap.Environment
		case got.Environment != snap.Environment || got.Version != snap.Version || got.Document == nil:
			return fmt.Sprintf("snapshot holds environment %q version %q, want version %q", got.Environment, got.Version, snap.Version), snap.Environment
		}
	}
	if len(have) > len(s.good) {
		return "the store lists environments the repository no longer has", ""
	}
	return "", ""
}
