// Package recorder is the leader's side of the runtime override layer. A
// Recorder, run by the syncer that holds the leader lock, hands every layer
// entry that git does not hold yet to a write-back Writer (so an override
// set by any process — the admin API of serve or sync, a trigger on a
// bearer — is committed once, by the leader), puts back into the store an
// entry it lost before its write-back landed (Redis flushed), and tells
// people about overrides set, cleared and expired through a
// notify.Notifier.
//
// The Writer and the Notifier are built from the flags repository's own
// flagpole.yaml (writeback: and notify:) and rebuilt when a commit changes
// those settings.
package recorder

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/loader/writeback"
	"github.com/flagpole/flagpole/notify"
	"github.com/flagpole/flagpole/store"
)

// Defaults of Options.
const (
	DefaultCheckInterval = 5 * time.Second
	DefaultNotifyDelay   = 5 * time.Second
)

// LayerStore is a store with an override layer: store.Memory and
// redisstore.Redis.
type LayerStore interface {
	store.Store
	store.Overrider
}

// Options configures a Recorder. Store, Settings and NewWriter are
// required.
type Options struct {
	// Store holds the snapshots (git's overrides) and the layer.
	Store LayerStore
	// Settings returns the flagpole.yaml settings of the last good
	// revision, false until one is loaded (the syncer's Settings).
	Settings func() (loader.Settings, bool)
	// NewWriter builds a Writer for the repository's writeback settings
	// (nil Registerer: the Recorder registers its metrics) that calls
	// onLanded. It is called again when the settings change.
	NewWriter func(wb loader.Writeback, onLanded func(writeback.Landed)) (*writeback.Writer, error)
	// Remote is the repository's URL, for links to commits in
	// notifications (notify.CommitURL); "" for none.
	Remote string
	// Notify tunes the Notifier (its Registerer is ignored: the Recorder
	// registers the Notifier's metrics on Registerer).
	Notify notify.Options
	// Registerer receives the Writer's metrics (flagpole_writeback_pending
	// and flagpole_writeback_failures_total) and the Notifier's
	// (flagpole_notify_events_total) while this process leads. Nil: not
	// registered.
	Registerer prometheus.Registerer
	// Logger hears of write-backs handed over and entries restored.
	// Default: discard.
	Logger *slog.Logger
	// Clock times notifications and expiries. Default: the real clock.
	Clock clockwork.Clock
	// CheckInterval is how often the layer is compared with git without a
	// change to prompt it. Default 5 s.
	CheckInterval time.Duration
	// AfterLanded, when set, is called after each write-back lands: the
	// syncer's Trigger, so that the sync fetches the new commit at once
	// and the layer entry is dropped. It must not block.
	AfterLanded func()
	// NotifyDelay is how long an override's notification waits for its
	// commit (to link to it) before it is sent without one. Default 5 s.
	NotifyDelay time.Duration
}

// key names one flag of one environment.
type key struct{ env, flag string }

// handed is a layer entry this leader gave to the Writer.
type handed struct {
	entry    store.LayerEntry
	landed   bool // its write reached the repository
	dropped  bool // its write was given up (the flag file is gone): never restored
	notified bool // its notification is sent (or was the predecessor's)
	timer    clockwork.Timer
}

// Recorder writes the override layer back to git and notifies. Run it
// while leading; Pending and SyncError are safe to call at any time.
type Recorder struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	writer    *writeback.Writer
	wbCfg     loader.Writeback
	notifier  *notify.Notifier
	nCfg      []loader.Notify
	handed    map[key]*handed
	expired   map[string]bool // expiry notices sent (and unfit entries logged), by identity
	since     time.Time       // when this leader term began
	stopParts func()          // stops the Writer's and Notifier's workers

	passes int64 // passes done, for tests; guarded by mu
}

// New checks opts and applies their defaults.
func New(opts Options) (*Recorder, error) {
	if opts.Store == nil || opts.Settings == nil || opts.NewWriter == nil {
		return nil, errors.New("recorder: Store, Settings and NewWriter are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	// Zero or negative durations take the defaults.
	opts.CheckInterval = cmp.Or(max(opts.CheckInterval, 0), DefaultCheckInterval)
	opts.NotifyDelay = cmp.Or(max(opts.NotifyDelay, 0), DefaultNotifyDelay)
	opts.Notify.Registerer = nil
	if opts.Notify.Clock == nil {
		opts.Notify.Clock = opts.Clock
	}
	if opts.Notify.Logger == nil {
		opts.Notify.Logger = opts.Logger
	}
	return &Recorder{opts: opts, log: opts.Logger}, nil
}

// Run records until ctx ends (the leader term ends): at every change of
// the store (a new revision published, a layer entry set or dropped) and
// every CheckInterval.
func (r *Recorder) Run(ctx context.Context) error {
	r.mu.Lock()
	r.handed, r.expired, r.since = map[key]*handed{}, map[string]bool{}, r.opts.Clock.Now()
	r.mu.Unlock()
	defer r.stop()
	changes, err := r.opts.Store.Watch(ctx)
	if err != nil {
		r.log.Warn("recorder: watching the store; checking every interval only", "err", err)
	}
	t := r.opts.Clock.NewTicker(r.opts.CheckInterval)
	defer t.Stop()
	for {
		r.pass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
		case _, open := <-changes:
			if !open {
				changes = nil
			}
			drain(changes)
		}
	}
}

// drain discards the changes already waiting: one pass covers them all.
func drain(ch <-chan store.Change) {
	for ch != nil {
		select {
		case _, open := <-ch:
			if !open {
				return
			}
		default:
			return
		}
	}
}

// stop ends the workers and forgets the leader term's Writer and Notifier.
func (r *Recorder) stop() {
	r.mu.Lock()
	stop := r.stopParts
	r.stopParts = nil
	w, n := r.writer, r.notifier
	r.writer, r.notifier = nil, nil
	for _, h := range r.handed {
		if h.timer != nil {
			h.timer.Stop()
		}
	}
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
	if w != nil {
		r.unregister(w, n)
		w.Close()
	}
}

// Pending lists the write-backs not landed yet (none on a standby).
func (r *Recorder) Pending() []writeback.Pending {
	r.mu.Lock()
	w := r.writer
	r.mu.Unlock()
	if w == nil {
		return []writeback.Pending{}
	}
	return w.Pending()
}

// Landed reports whether the write-back of the layer entry e of flag in
// env has reached the repository (the sync has not caught up yet).
func (r *Recorder) Landed(env string, e store.LayerEntry) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.handed[key{env, e.Flag}]
	return h != nil && h.landed && same(h.entry, e)
}

// SyncError sends a sync_error notification; it is the syncer's OnError
// hook and never blocks.
func (r *Recorder) SyncError(reason string, e store.SyncError) {
	r.mu.Lock()
	n := r.notifier
	r.mu.Unlock()
	if n == nil {
		return
	}
	n.Send(notify.Event{Kind: notify.KindSyncError, Commit: e.Commit, Reason: e.Message,
		Problems: first(e.Problems, 5), At: e.At})
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// same reports whether a and b are the same layer entry: the same at and
// by and both sets or both tombstones. A re-set entry (new seq) is the
// same.
func same(a, b store.LayerEntry) bool {
	return a.At.Equal(b.At) && a.By == b.By && (a.Override == nil) == (b.Override == nil)
}

// configure builds (or rebuilds, after a settings change) the Writer and
// the Notifier and starts their workers. It reports false when there is
// no Writer.
func (r *Recorder) configure(ctx context.Context, set loader.Settings) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.writer != nil && reflect.DeepEqual(set.Writeback, r.wbCfg) && reflect.DeepEqual(set.Notify, r.nCfg) {
		return true
	}
	old, oldN, oldStop := r.writer, r.notifier, r.stopParts
	if oldStop != nil {
		r.mu.Unlock()
		oldStop()
		r.mu.Lock()
	}
	if old != nil {
		r.unregister(old, oldN)
		old.Close()
	}
	r.writer, r.notifier, r.stopParts = nil, nil, nil
	w, err := r.opts.NewWriter(set.Writeback, r.onLanded)
	if err != nil {
		r.log.Error("recorder: building the write-back; overrides are not recorded in git until the settings are fixed", "err", err)
		return false
	}
	n, err := notify.New(set.Notify, r.opts.Notify)
	if err != nil {
		// The loader validated the entries; keep writing back regardless.
		r.log.Error("recorder: building the notifier; no notifications", "err", err)
		n, _ = notify.New(nil, r.opts.Notify)
	}
	if reg := r.opts.Registerer; reg != nil {
		for _, c := range append(w.Collectors(), n.Collectors()...) {
			if err := reg.Register(c); err != nil {
				r.log.Warn("recorder: registering write-back and notify metrics", "err", err)
			}
		}
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(pctx) })
	wg.Go(func() { _ = n.Run(pctx) })
	r.writer, r.notifier, r.wbCfg, r.nCfg = w, n, set.Writeback, set.Notify
	r.stopParts = func() { cancel(); wg.Wait() }
	r.log.Info("recorder: writing overrides back", "to", w.String(), "notify", len(set.Notify))
	// What the old Writer had not landed goes to the new one.
	for k, h := range r.handed {
		if !h.landed {
			r.give(ctx, k.env, h.entry)
		}
	}
	return true
}

// unregister removes the metrics of w and n (nil: none) from the
// Registerer.
func (r *Recorder) unregister(w *writeback.Writer, n *notify.Notifier) {
	reg := r.opts.Registerer
	if reg == nil {
		return
	}
	cs := w.Collectors()
	if n != nil {
		cs = append(cs, n.Collectors()...)
	}
	for _, c := range cs {
		reg.Unregister(c)
	}
}

// give hands e to the Writer. r.mu is held.
func (r *Recorder) give(ctx context.Context, env string, e store.LayerEntry) {
	requester := e.Requester
	if requester == "" {
		requester = e.By
	}
	var err error
	switch {
	case e.Kind == store.KindDisable && e.Override != nil:
		err = r.writer.Disable(ctx, env, *e.Override, requester)
	case e.Override != nil:
		err = r.writer.Set(ctx, env, *e.Override, requester)
	default:
		err = r.writer.Clear(ctx, env, e.Flag, requester, e.Reason)
	}
	if err != nil {
		r.log.Error("recorder: handing an override to the write-back", "environment", env, "flag", e.Flag, "err", err)
	}
}
