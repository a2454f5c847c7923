// Package syncer runs the sync loop: it takes each new revision of the flags
// repository from a source, validates and builds it with the loader, and
// publishes every environment's rule set to a store — only when the whole
// repository is valid. An invalid revision is never published: the last
// good rule sets keep serving and the error, with every problem as
// file:line:col, is kept in the store's SyncStatus, logged and counted.
//
// With a Locker, only the syncer holding the leader lock works; the others
// wait and take over when it stops or loses the lock. The package also
// serves the git push webhook (WebhookHandler) that triggers a fetch.
package syncer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/loader/source"
	"github.com/flagpole/flagpole/store"
)

// Options configures a Syncer. Source and Store are required.
type Options struct {
	// Source produces the revisions to load.
	Source source.Source
	// Store receives the snapshots and the status.
	Store store.Store
	// Locker, when set, makes the syncer wait for the leader lock LockName
	// before it acts, and stop acting when the lock is lost.
	Locker store.Locker
	// LockName is the lock's name. Default "syncer".
	LockName string
	// Registerer receives the sync metrics. Nil: they are not registered.
	Registerer prometheus.Registerer
	// Logger receives sync results and errors. Default: discard.
	Logger *slog.Logger
	// Clock is the clock for status times, the loader (ramps, schedules,
	// expiry warnings) and the check ticker. Nil means the real clock.
	Clock clockwork.Clock
	// CheckInterval is how often the store is checked for the published
	// snapshots (Redis flushed or restarted empty) and a failed publish
	// retried. Default 5 s.
	CheckInterval time.Duration
	// MaxFileSize is passed to the loader. Zero: the loader's default.
	MaxFileSize int64
	// OnError, when set, is told of each new sync error (reason is
	// ReasonFetch, ReasonValidate or ReasonPublish), for sync_error
	// notifications. A retry failing the same way is not new. It runs on
	// the sync goroutine and must not block.
	OnError func(reason string, e store.SyncError)
	// WhileLeading, when set, runs in its own goroutine for as long as the
	// syncer leads (holds the lock), with a context that ends when it stops
	// leading: the leader-only work that follows the sync, such as the
	// write-back of the override layer. Nil: nothing.
	WhileLeading func(ctx context.Context)
	// Advertise is this process's HTTP address as others reach it; the
	// leader records it in the status (SyncStatus.Leader) so that a
	// standby can name the leader. "": not recorded.
	Advertise string
}

// Syncer publishes valid revisions of a flags repository to a store.
type Syncer struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics

	work  sync.Mutex    // serialises loading and publishing
	cache *loader.Cache // what the last load parsed, checked and compiled

	// The fields below are guarded by work.
	good      []*store.Snapshot // last good revision's snapshots
	goodID    string            // its revision ID
	published bool              // good is in the store
	// inStore holds the snapshots known to be in the store, by environment.
	inStore map[string]*store.Snapshot
	// builtFrom is the revision each environment's snapshot in good was
	// built from: an earlier one when keepUnchanged kept it.
	builtFrom map[string]builtFrom
	dirty     bool   // status not yet written to the store
	failedBy  string // reason of the error in the status, if any

	mu          sync.Mutex // guards status and settings
	status      store.SyncStatus
	settings    loader.Settings // of the last good revision
	hasSettings bool

	leading atomic.Bool
}

// New checks opts and registers the metrics.
func New(opts Options) (*Syncer, error) {
	if opts.Source == nil || opts.Store == nil {
		return nil, errors.New("syncer: Source and Store are required")
	}
	if opts.LockName == "" {
		opts.LockName = "syncer"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = 5 * time.Second
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Syncer{opts: opts, log: opts.Logger.With("source", opts.Source.String()), metrics: m, cache: loader.NewCache()}
	s.status.Source = opts.Source.String()
	if b, ok := opts.Source.(source.Brancher); ok {
		s.status.Branch = b.Branch()
	}
	return s, nil
}

// Settings returns the flagpole.yaml settings of the last good revision,
// and false until a revision has been loaded.
func (s *Syncer) Settings() (loader.Settings, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings, s.hasSettings
}

// Leading reports whether this syncer holds the leader lock now (always
// true while a syncer without a Locker runs).
func (s *Syncer) Leading() bool { return s.leading.Load() }

// Trigger asks the source for an immediate check, as a push webhook does.
func (s *Syncer) Trigger() { s.opts.Source.Trigger() }

// Status returns a copy of the syncer's current status.
func (s *Syncer) Status() store.SyncStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyStatus(s.status)
}

func copyStatus(st store.SyncStatus) store.SyncStatus {
	st.Envs = maps.Clone(st.Envs)
	if st.LastError != nil {
		e := *st.LastError
		e.Problems = append([]string(nil), e.Problems...)
		e.Locations = append([]string(nil), e.Locations...)
		st.LastError = &e
	}
	return st
}

// Run syncs until ctx is done, then returns nil. With a Locker it first
// waits for the leader lock, and goes back to waiting whenever the lock is
// lost; the lock is released when Run returns.
func (s *Syncer) Run(ctx context.Context) error {
	if s.opts.Locker == nil {
		s.metrics.leader.Set(1)
		defer s.metrics.leader.Set(0)
		return s.lead(ctx)
	}
	for {
		s.log.Info("sync: waiting for the leader lock", "lock", s.opts.LockName)
		lock, err := s.opts.Locker.Acquire(ctx, s.opts.LockName)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("syncer: acquiring lock %s: %w", s.opts.LockName, err)
		}
		s.log.Info("sync: leader lock acquired; syncing", "lock", s.opts.LockName)
		s.metrics.leader.Set(1)
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-lock.Lost():
				cancel()
			case <-lctx.Done():
			}
		}()
		err = s.lead(lctx)
		lost := lctx.Err() != nil && ctx.Err() == nil
		cancel()
		s.metrics.leader.Set(0)
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		if rerr := lock.Release(rctx); rerr != nil && !errors.Is(rerr, store.ErrLockNotHeld) {
			s.log.Warn("sync: releasing the leader lock", "lock", s.opts.LockName, "err", rerr)
		}
		rcancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if lost {
			s.log.Warn("sync: leader lock lost; standing by", "lock", s.opts.LockName)
		}
	}
}

// lead runs the source and the store check until ctx is done.
func (s *Syncer) lead(ctx context.Context) error {
	// Another leader may have published since this syncer last led: start
	// afresh, so that the source's first revision is published again.
	s.work.Lock()
	s.good, s.goodID, s.published, s.inStore = nil, "", false, nil
	s.work.Unlock()
	s.mu.Lock()
	s.status.Leader = s.opts.Advertise
	s.mu.Unlock()
	s.leading.Store(true)
	defer s.leading.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { s.checkLoop(ctx) })
	if s.opts.WhileLeading != nil {
		wg.Go(func() { s.opts.WhileLeading(ctx) })
	}
	err := s.opts.Source.Run(ctx, s.handle)
	cancel()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("syncer: source %s: %w", s.opts.Source, err)
	}
	return nil
}

// checkLoop republishes when the store lost the snapshots or a publish
// failed, and rewrites a status the store does not have.
func (s *Syncer) checkLoop(ctx context.Context) {
	t := s.opts.Clock.NewTicker(s.opts.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.Chan():
			s.check(ctx)
		}
	}
}
