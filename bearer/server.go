package bearer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flagpole/flagpole/internal/backoff"
	"github.com/flagpole/flagpole/store"
)

// Server is a bearer: it loads rule sets from a store and serves them over
// HTTP. Create it with New, start Run, and serve Handler.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics

	hubs        atomic.Pointer[map[string]*hub] // copy on write; written by Run only
	done        chan struct{}                   // closed when Run returns
	hubsDone    sync.WaitGroup                  // the hubs' broadcasters
	streamLim   streamLimits                    // open streams by key and address
	streamEvals atomic.Int64                    // evaluations by evaluated streams

	wholeReads     atomic.Int64 // snapshots read whole, not patched (memory.go)
	wholeReadsSeen int64        // by afterWholeReads; the loader's only

	syncCache syncCache // the syncer's status, for GET /v1/status
	presence  *presence // this bearer's record in the store (presence.go)

	ingest *groupAdder // POST /v1/metrics into Options.Metrics; nil without

	eventKey       []byte       // signs OFREP event stream tokens (ofrep_sse_token.go)
	announcedWaits atomic.Int64 // bulk requests that waited for an announced version, for tests

	mu         sync.Mutex
	loadErrors map[string]string // environment → last load error, for status
	running    bool
}

// New returns a Server for opts. It fails when opts.Store is nil or the
// metrics cannot be registered.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("bearer: Options.Store is required")
	}
	opts = opts.withDefaults()
	key, generated, err := eventTokenSecret(opts.EventTokenSecret)
	if err != nil {
		return nil, fmt.Errorf("bearer: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("bearer: registering metrics: %w", err)
	}
	if generated {
		opts.Logger.Info("OFREP event stream tokens are signed with a key of this process; give every bearer behind one load balancer the same EventTokenSecret")
	}
	s := &Server{opts: opts, log: opts.Logger, metrics: m, done: make(chan struct{}), loadErrors: map[string]string{}, eventKey: key}
	empty := map[string]*hub{}
	s.hubs.Store(&empty)
	s.presence = newPresence(s)
	if opts.Metrics != nil {
		s.ingest = newGroupAdder(opts.Metrics, budget(opts.RequestTimeout))
	}
	m.registerClientGauge(opts.Registerer, s)
	return s, nil
}

// Run loads every environment's snapshot from the store and follows its
// changes until ctx is cancelled; then it closes every stream and returns
// nil. Reload failures and store outages are logged and retried with
// backoff and jitter while the last good rule sets keep serving. Run may be
// called once.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("bearer: Run called twice")
	}
	s.running = true
	s.mu.Unlock()
	pctx, stopPresence := context.WithCancel(ctx)
	go s.presence.run(pctx)
	defer func() {
		stopPresence()
		<-s.presence.stopped // the record is removed
		close(s.done)
		s.hubsDone.Wait() // every stream has been told to end
	}()

	l := &loop{s: s, pending: map[string]bool{}, all: true, retry: s.retryPolicy()}
	if vl, ok := s.opts.Store.(versionLister); ok {
		l.versions = vl
		// The real clock, whatever Options.Clock is: the check guards
		// against lost messages, not against anything a test's clock
		// paces, and it must not add a waiter to a fake clock.
		l.check = time.NewTicker(s.opts.VersionCheck)
		defer l.check.Stop()
	}
	l.run(ctx)
	return nil
}

// loop is Run's state: which environments still need a reload.
type loop struct {
	s        *Server
	changes  <-chan store.Change
	pending  map[string]bool
	all      bool // list environments from the store and reload them all
	retry    backoff.Policy
	failures int
	// versions and check: the store's listed versions, compared with the
	// served ones at every tick of check (Options.VersionCheck); nil when
	// the store cannot list them.
	versions versionLister
	check    *time.Ticker
}

// versionLister is a store that lists every environment's version.
type versionLister interface {
	Versions(ctx context.Context) (map[string]string, error)
}

func (l *loop) run(ctx context.Context) {
	for {
		if l.changes == nil {
			ch, err := l.s.opts.Store.Watch(ctx)
			if err != nil {
				l.s.log.Warn("watching the store; retrying", "error", err)
			} else {
				l.changes, l.all = ch, true
			}
		}
		if l.changes != nil && l.reload(ctx) {
			l.failures = 0
		} else {
			l.failures++
		}
		if !l.wait(ctx) {
			return
		}
	}
}

// wait waits for the next change, or for the retry delay after a failure,
// and reports false when ctx is done.
func (l *loop) wait(ctx context.Context) bool {
	var retry, check <-chan time.Time
	if l.failures > 0 {
		t := l.s.opts.Clock.NewTimer(l.retry.Delay(l.failures))
		defer t.Stop()
		retry = t.Chan()
	}
	if l.check != nil {
		check = l.check.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-retry:
	case <-check:
		if l.failures == 0 { // else a retry of what failed is due anyway
			l.checkVersions(ctx)
		}
	case c, open := <-l.changes:
		if !open {
			if ctx.Err() != nil {
				return false
			}
			l.s.log.Warn("store watch ended; watching again")
			l.changes = nil
			t := l.s.opts.Clock.NewTimer(l.retry.Delay(l.failures + 1))
			defer t.Stop()
			select {
			case <-ctx.Done():
				return false
			case <-t.Chan():
			}
		}
		l.note(c)
		l.drain()
	}
	return true
}

// checkVersions marks for reload every environment whose listed version
// is not the one served: its change notification was lost. An environment
// the store no longer lists is left to the next notification or Resync.
func (l *loop) checkVersions(ctx context.Context) {
	listed, err := l.versions.Versions(ctx)
	if err != nil {
		return // the store is unreachable: the watch reports it
	}
	hubs := *l.s.hubs.Load()
	for env, v := range listed {
		h := hubs[env]
		if h == nil || h.cur.Load().raw == nil || h.cur.Load().raw.Version != v {
			if !l.pending[env] {
				// Usually a notification on its way; logged in case it was lost.
				l.s.log.Info("the store lists another version than the one served; reloading", "environment", env, "version", v)
			}
			l.pending[env] = true
		}
	}
}

// note records that c requires a reload.
func (l *loop) note(c store.Change) {
	if c.Resync || c.Environment == "" {
		l.all = true
		return
	}
	l.pending[c.Environment] = true
}

// drain notes every change already waiting, so that a burst costs one reload.
func (l *loop) drain() {
	for {
		select {
		case c, open := <-l.changes:
			if !open {
				return
			}
			l.note(c)
		default:
			return
		}
	}
}

// reload loads what is pending and reports whether everything succeeded;
// what failed stays pending.
func (l *loop) reload(ctx context.Context) bool {
	if l.all {
		envs, err := l.s.opts.Store.Environments(ctx)
		if err != nil {
			l.s.log.Warn("listing environments in the store; retrying", "error", err)
			return false
		}
		for _, env := range envs {
			l.pending[env] = true
		}
		for env := range *l.s.hubs.Load() {
			if removed(envs, env) {
				l.s.remove(env) // removed while this bearer was not listening
			}
		}
		l.all = false
	}
	ok := true
	for _, env := range l.s.byDemand(slices.Collect(maps.Keys(l.pending))) {
		if err := l.s.load(ctx, env); err != nil {
			ok = false
			l.s.setLoadError(env, err)
			l.s.log.Error("loading rule set; keeping the last good one", "environment", env, "error", err)
			continue
		}
		l.s.setLoadError(env, nil)
		delete(l.pending, env)
	}
	l.s.afterWholeReads()
	return ok
}

// byDemand sorts envs by their open streams, most first (ties by name),
// and returns them. The loader applies one environment at a time, so a
// change to a flag every environment has reaches most streams soonest; at
// 100,000 flags an environment's patch takes a bearer 30–130 ms on a busy
// 2-core machine, which the streams of the environment loaded second wait.
func (s *Server) byDemand(envs []string) []string {
	hubs := *s.hubs.Load()
	streams := func(env string) int64 {
		if h := hubs[env]; h != nil {
			return h.streams.Load()
		}
		return 0
	}
	slices.SortFunc(envs, func(a, b string) int {
		if c := cmp.Compare(streams(b), streams(a)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return envs
}

// load reads env's snapshot and override layer and, when the served
// version is new, makes it current.
func (s *Server) load(ctx context.Context, env string) error {
	snap, err := s.snapshot(ctx, env)
	if errors.Is(err, store.ErrNotFound) {
		// Removed from the repository, or a snapshot lost from a store that
		// still lists the environment (which the syncer repairs).
		envs, lerr := s.opts.Store.Environments(ctx)
		if lerr == nil && removed(envs, env) {
			s.remove(env)
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("reading snapshot of environment %s: %w", env, err)
	}
	if snap.Environment != env {
		return fmt.Errorf("reading snapshot of environment %s: store returned environment %q", env, snap.Environment)
	}
	raw := snap
	if snap, err = s.withLayer(ctx, snap); err != nil {
		return err
	}
	hubs := *s.hubs.Load()
	if h := hubs[env]; h != nil && h.cur.Load().version == snap.Version && sameKeys(h.cur.Load(), snap) {
		return nil
	}
	from := sibling(hubs, env)
	if h := hubs[env]; h != nil {
		from = h.cur.Load()
	}
	st, err := newEnvState(snap, s.opts.Clock.Now, from)
	if err != nil {
		return err
	}
	st.raw = raw
	if h := hubs[env]; h != nil {
		h.offer(st)
	} else {
		h = newHub(s, st)
		next := maps.Clone(hubs)
		next[env] = h
		s.hubs.Store(&next)
		s.hubsDone.Add(1)
		go func() {
			defer s.hubsDone.Done()
			h.run(s.done, s.opts.PingInterval)
		}()
	}
	s.presence.changed()
	s.log.Info("loaded rule set", "environment", env, "version", st.version, "flags", st.flags.len())
	return nil
}

// sibling returns the state of the environment other than env that comes
// first by name, or nil: what an environment's first state is built from,
// so that the flags the environments have alike (the same *Flag, as the
// store shares them) are compiled and encoded once.
func sibling(hubs map[string]*hub, env string) *envState {
	for _, e := range slices.Sorted(maps.Keys(hubs)) {
		if e != env {
			return hubs[e].cur.Load()
		}
	}
	return nil
}

// remove stops serving env: its keys are refused from now on and its
// streams end. Only Run's goroutine calls it.
func (s *Server) remove(env string) {
	s.setLoadError(env, nil)
	hubs := *s.hubs.Load()
	h := hubs[env]
	if h == nil {
		return
	}
	next := maps.Clone(hubs)
	delete(next, env)
	s.hubs.Store(&next)
	close(h.stop)
	s.presence.changed()
	s.log.Info("environment removed from the store; its keys are refused and its streams closed", "environment", env)
}

// removed reports whether the store's environment list envs says env was
// removed from the repository. An empty list never does: a repository
// always has an environment, so an empty store was flushed or restarted
// (Redis without persistence) and the syncer is about to republish; until
// then the last good rule sets keep serving.
func removed(envs []string, env string) bool {
	return len(envs) > 0 && !slices.Contains(envs, env)
}

// sameKeys reports whether snap has exactly the keys st was built with.
func sameKeys(st *envState, snap *store.Snapshot) bool {
	keys, err := sdkKeys(snap)
	return err == nil && keys.Equal(st.keys)
}

func (s *Server) setLoadError(env string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.loadErrors, env)
		return
	}
	s.loadErrors[env] = err.Error()
}

// hub returns the hub of env, or nil.
func (s *Server) hub(env string) *hub {
	return (*s.hubs.Load())[env]
}

// retryPolicy is the schedule of reloads after failures: exponential from
// RetryMin, capped at RetryMax, each delay at least half its ceiling.
func (s *Server) retryPolicy() backoff.Policy {
	return backoff.Policy{Min: s.opts.RetryMin, Max: s.opts.RetryMax}
}
