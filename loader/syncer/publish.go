package syncer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/loader/source"
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
	repo, err := loader.Load(rev.Dir, loader.Options{Revision: rev.Short(), Now: s.opts.Clock.Now, MaxFileSize: s.opts.MaxFileSize})
	if err != nil {
		s.fail(ctx, ReasonValidate, rev.ID, fmt.Errorf("loading revision %s: %w", rev.Short(), err), problems(err))
		return
	}
	s.good, s.goodID, s.published = s.snapshots(repo, rev), rev.ID, false
	if err := s.publish(ctx, true); err != nil {
		s.fail(ctx, ReasonPublish, rev.ID, err, nil)
		return
	}
	s.metrics.duration.Observe(time.Since(start).Seconds())
	s.log.Info("sync: published", "commit", rev.ID, "version", rev.Short(), "environments", len(s.good), "warnings", len(repo.Warnings), "took", time.Since(start))
}

// problems lists the errors of a loader.Diagnostics as
// "file:line:col: path: message".
func problems(err error) []string {
	var ds loader.Diagnostics
	if !errors.As(err, &ds) {
		return nil
	}
	var out []string
	for _, d := range ds {
		if d.Severity == loader.SeverityError {
			out = append(out, d.String())
		}
	}
	return out
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
			if k.Environment == env {
				keys = append(keys, k)
			}
		}
		snaps = append(snaps, &store.Snapshot{Environment: env, Version: doc.Version, Document: doc, Keys: keys, Published: now})
	}
	return snaps
}

// publish writes s.good to the store and records success. fresh says that
// s.good is a new revision, which clears any error; a republish clears only
// a publish error (a newer invalid commit stays reported). The caller holds
// s.work.
func (s *Syncer) publish(ctx context.Context, fresh bool) error {
	for _, snap := range s.good {
		if err := s.opts.Store.Publish(ctx, snap); err != nil {
			return fmt.Errorf("publishing %s version %s: %w", snap.Environment, snap.Version, err)
		}
	}
	s.published = true
	s.reconcile(ctx)
	now := s.opts.Clock.Now()
	envs := map[string]store.EnvStatus{}
	versions := map[string]string{}
	for _, snap := range s.good {
		envs[snap.Environment] = store.EnvStatus{Version: snap.Version, Commit: s.goodID, Published: snap.Published}
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

// fail records a failed sync: status, log, metric. The caller holds s.work.
func (s *Syncer) fail(ctx context.Context, reason, commit string, err error, probs []string) {
	s.metrics.failures.WithLabelValues(reason).Inc()
	s.failedBy = reason
	now := s.opts.Clock.Now()
	se := store.SyncError{Commit: commit, At: now, Message: err.Error(), Problems: probs}
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
	attrs := []any{"reason", reason, "err", err}
	if commit != "" {
		attrs = append(attrs, "commit", commit)
	}
	if len(probs) > 0 {
		attrs = append(attrs, "problems", probs)
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
		for _, snap := range s.good {
			// Missing: Redis flushed or restarted empty. Another version: a
			// failover lost the last write, or someone wrote to our prefix.
			if v, ok := have[snap.Environment]; !ok || v != snap.Version {
				s.log.Warn("sync: the store does not hold what was published; republishing",
					"commit", s.goodID, "environment", snap.Environment, "want", snap.Version, "have", v)
				s.published = false
				break
			}
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
