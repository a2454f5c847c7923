package recorder

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/flagpole/flagpole/loader/writeback"
	"github.com/flagpole/flagpole/notify"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// pass compares every environment's layer with git once.
func (r *Recorder) pass(ctx context.Context) {
	defer func() {
		r.mu.Lock()
		r.passes++
		r.mu.Unlock()
	}()
	set, ok := r.opts.Settings()
	if !ok || !r.configure(ctx, set) {
		return
	}
	envs, err := r.opts.Store.Environments(ctx)
	if err != nil {
		r.log.Warn("recorder: listing environments; will retry", "err", err)
		return
	}
	for _, env := range envs {
		snap, err := r.opts.Store.Snapshot(ctx, env)
		if err != nil || snap.Document == nil {
			continue // the syncer republishes a lost snapshot
		}
		l, err := r.opts.Store.Layer(ctx, env)
		if err != nil {
			r.log.Warn("recorder: reading the override layer; will retry", "environment", env, "err", err)
			continue
		}
		r.envPass(ctx, env, snap.Document, l)
	}
}

// envPass hands env's new layer entries to the Writer, restores entries
// the store lost and sends expiry notifications.
func (r *Recorder) envPass(ctx context.Context, env string, doc *ruleset.Document, l store.Layer) {
	var restore []store.LayerEntry
	r.mu.Lock()
	for flag, e := range l.Entries {
		if e.InGit(doc) {
			continue // the syncer drops it
		}
		k := key{env, flag}
		if h := r.handed[k]; h != nil && same(h.entry, e) {
			h.entry.Seq = e.Seq
			continue
		}
		if e.Override != nil {
			if probs := ruleset.CheckOverride(doc, e.Override); len(probs) > 0 {
				// Its flag or variant left git since: such a file would make
				// the repository invalid. Bearers skip the entry too.
				id := env + "/" + flag + "/" + e.At.Format(time.RFC3339Nano) + "/unfit"
				if r.expired[id] {
					continue
				}
				r.expired[id] = true
				r.log.Warn("recorder: layer entry no longer fits the rule set; not written back",
					"environment", env, "flag", flag, "problem", probs[0].String())
				continue
			}
		}
		r.hand(ctx, k, e)
	}
	for k, h := range r.handed {
		if k.env != env {
			continue
		}
		_, inLayer := l.Entries[k.flag]
		switch {
		case inLayer:
		case !h.landed && !h.dropped && !h.entry.InGit(doc):
			// The store lost the entry (flushed) before git got it: the
			// Writer's pending write is the memory that restores it.
			restore = append(restore, h.entry)
		default:
			delete(r.handed, k) // done: in git and out of the layer
		}
	}
	r.mu.Unlock()
	for _, e := range restore {
		if _, err := r.opts.Store.SetOverride(ctx, env, e); err != nil {
			r.log.Warn("recorder: restoring a lost override layer entry; will retry", "environment", env, "flag", e.Flag, "err", err)
			continue
		}
		r.log.Info("recorder: restored an override layer entry the store lost before git had it", "environment", env, "flag", e.Flag)
	}
	r.expiries(env, doc, l)
}

// hand gives e to the Writer and schedules its notification. r.mu is held.
func (r *Recorder) hand(ctx context.Context, k key, e store.LayerEntry) {
	if old := r.handed[k]; old != nil && old.timer != nil && !old.notified {
		// Superseded before it was announced: announce it now, unlinked.
		old.timer.Stop()
		r.announceLocked(k, old, "")
	}
	h := &handed{entry: e}
	r.handed[k] = h
	r.give(ctx, k.env, e)
	r.log.Info("recorder: override handed to the write-back", "environment", k.env, "flag", k.flag,
		"by", e.By, "tombstone", e.Override == nil)
	if e.At.Before(r.since.Add(-r.opts.NotifyDelay)) {
		// Made before this leader term: the previous leader announced it.
		h.notified = true
		return
	}
	h.timer = r.opts.Clock.AfterFunc(r.opts.NotifyDelay, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.handed[k] == h {
			r.announceLocked(k, h, "")
		}
	})
}

// onLanded is the Writer's OnLanded: the entry it recorded is announced
// with a link to its commit, if not announced already. A write the Writer
// gave up is remembered, so that its entry is not restored.
func (r *Recorder) onLanded(l writeback.Landed) {
	if r.opts.AfterLanded != nil {
		r.opts.AfterLanded()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := key{l.Environment, l.Flag}
	h := r.handed[k]
	if h == nil {
		return
	}
	if l.Action == writeback.ActionSet || l.Action == writeback.ActionDisable {
		if h.entry.Override == nil || l.Override == nil || !l.Override.At.Equal(h.entry.Override.At) || l.Override.By != h.entry.Override.By {
			return
		}
	} else if h.entry.Override != nil {
		return
	}
	if l.Dropped != nil {
		// Given up (its flag file is gone): the sync drops the entry once
		// the flag is gone from the published revision too.
		h.dropped = true
		r.log.Error("recorder: the write-back gave up a layer entry", "environment", k.env, "flag", k.flag, "err", l.Dropped)
		return
	}
	h.landed = true
	if h.timer != nil {
		h.timer.Stop()
	}
	r.announceLocked(k, h, l.Commit)
}

// breakerBy is the by of the breaker's layer entries (breaker.By; the
// breaker package is not imported here to keep the recorder free of it).
const breakerBy = "breaker"

// announceLocked sends h's override notification once. r.mu is held.
func (r *Recorder) announceLocked(k key, h *handed, commit string) {
	if h.notified || r.notifier == nil {
		return
	}
	h.notified = true
	e := h.entry
	ev := notify.Event{Kind: notify.KindOverride, Action: notify.ActionCleared, Flag: k.flag, Environment: k.env,
		Who: e.By, Reason: e.Reason, At: e.At}
	if e.Override != nil {
		ev.Action, ev.Variant, ev.Reason, ev.Expires = notify.ActionSet, e.Override.Serve, e.Override.Reason, e.Override.Expires
	}
	if e.By == breakerBy {
		// The breaker's own entries are its trips and recoveries; their
		// reasons carry the figures.
		ev.Kind, ev.Action = notify.KindRecover, notify.ActionNone
		if e.Override != nil {
			ev.Kind = notify.KindTrip
		}
		if e.Kind == store.KindDisable {
			ev.Reason += "; disabled in git, recovery is left to a person"
		}
	}
	if commit != "" {
		ev.Commit, ev.CommitURL = commit, notify.CommitURL(r.opts.Remote, commit)
	}
	r.notifier.Send(ev)
}

// expiries sends an expired notification, once, for each override of env
// (git's with the layer over it) whose expiry has passed during this
// leader term.
func (r *Recorder) expiries(env string, doc *ruleset.Document, l store.Layer) {
	served, _ := l.Apply(doc)
	now := r.opts.Clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.notifier == nil {
		return
	}
	for _, flag := range slices.Sorted(maps.Keys(served.Overrides)) {
		o := served.Overrides[flag]
		if o.Expires == nil || o.Expires.After(now) || o.Expires.Before(r.since.Add(-r.opts.CheckInterval)) {
			continue
		}
		id := env + "/" + flag + "/" + o.At.Format(time.RFC3339Nano) + "/" + o.By
		if r.expired[id] {
			continue
		}
		r.expired[id] = true
		r.notifier.Send(notify.Event{Kind: notify.KindOverride, Action: notify.ActionExpired, Flag: flag,
			Environment: env, Variant: o.Serve, Who: o.By, Reason: o.Reason, At: *o.Expires})
	}
}
