package breaker

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// LockName is the leader lock the Runner holds while it acts.
const LockName = "breaker"

// DefaultInterval is how often a leading Runner decides when
// RunnerOptions.Interval is zero.
const DefaultInterval = time.Second

// LayerStore is a store with an override layer (store.Memory,
// redisstore.Redis): the Runner reads snapshots and layers and writes its
// trips and recoveries into the layer.
type LayerStore interface {
	store.Store
	store.Overrider
}

// RunnerOptions configures a Runner. Store, Metrics and Locker are
// required.
type RunnerOptions struct {
	Store   LayerStore
	Metrics store.Metrics
	// Locker hands out the "breaker" leader lock: only its holder acts.
	Locker store.Locker
	// Clock ticks the loop and times decisions. Default: the real clock.
	Clock clockwork.Clock
	// Interval between decisions. Default 1 s.
	Interval time.Duration
	// Logger hears of every transition. Default: discard.
	Logger *slog.Logger
	// Registerer receives flagpole_breaker_state, _trips_total and
	// _recoveries_total. Nil: not registered.
	Registerer prometheus.Registerer
}

// FlagStatus is one breaker as the last decision saw it, for /v1/status.
type FlagStatus struct {
	Environment string       `json:"environment"`
	Flag        string       `json:"flag"`
	State       State        `json:"state"`
	Counts      store.Counts `json:"counts"`
	ErrorRate   float64      `json:"error_rate"`
	SlowRate    float64      `json:"slow_rate"`
	// Threshold and SlowThreshold are the rates (percent) that trip the
	// flag; SlowThreshold 0 when slow calls are not watched.
	Threshold     float64 `json:"threshold"`
	SlowThreshold float64 `json:"slow_threshold,omitempty"`
	MinRequests   int64   `json:"min_requests"`
	Window        string  `json:"window"`
	// Cap is the recovery cap in percent; NextStep when it next grows.
	Cap      float64    `json:"recovery_cap"`
	NextStep *time.Time `json:"next_step,omitempty"`
	Note     string     `json:"note,omitempty"`
	At       time.Time  `json:"at"`
}

// fkey names one flag in one environment.
type fkey struct{ env, flag string }

// Runner runs Decide for every flag with a breaker block in every
// environment, every Interval, while it holds the leader lock.
type Runner struct {
	opts RunnerOptions
	log  *slog.Logger

	state      *prometheus.GaugeVec
	trips      *prometheus.CounterVec
	recoveries *prometheus.CounterVec
	keys       KeyCache // flags with a breaker block, per Document

	mu      sync.Mutex
	leading bool
	status  map[fkey]FlagStatus
	// seen are the breaker overrides the last tick saw, to notice a
	// person's clear; cleared when that happened; disabledByTrip the flags
	// whose on_trip: commit trip git now has as enabled: false, to notice a
	// person enabling them again.
	seen           map[fkey]*ruleset.Override
	cleared        map[fkey]time.Time
	disabledByTrip map[fkey]bool
}

// NewRunner checks opts and applies their defaults.
func NewRunner(opts RunnerOptions) (*Runner, error) {
	if opts.Store == nil || opts.Metrics == nil || opts.Locker == nil {
		return nil, errors.New("breaker: Store, Metrics and Locker are required")
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Interval = cmp.Or(max(opts.Interval, 0), DefaultInterval)
	r := &Runner{opts: opts, log: opts.Logger,
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "flagpole_breaker_state",
			Help: "Breaker state per flag and environment, only while not closed: 1 open, 2 recovering, 3 disabled in git (leader only; no series: closed)."},
			[]string{"environment", "flag"}),
		trips: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flagpole_breaker_trips_total",
			Help: "Breaker trips (re-trips during recovery included)."}, []string{"environment", "flag"}),
		recoveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flagpole_breaker_recoveries_total",
			Help: "Breaker overrides removed at the end of their recovery."}, []string{"environment", "flag"}),
		status: map[fkey]FlagStatus{}, seen: map[fkey]*ruleset.Override{}, cleared: map[fkey]time.Time{},
		disabledByTrip: map[fkey]bool{},
	}
	if reg := opts.Registerer; reg != nil {
		for _, c := range []prometheus.Collector{r.state, r.trips, r.recoveries} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// Run waits for the leader lock, decides every Interval while it holds
// it, and waits again when it loses it, until ctx is done.
func (r *Runner) Run(ctx context.Context) error {
	for {
		lock, err := r.opts.Locker.Acquire(ctx, LockName)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.log.Warn("breaker: acquiring the leader lock; will retry", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-r.opts.Clock.After(r.opts.Interval):
			}
			continue
		}
		r.lead(ctx, lock)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = lock.Release(rctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
	}
}

// lead decides every Interval until ctx is done or the lock is lost.
func (r *Runner) lead(ctx context.Context, lock store.Lock) {
	r.log.Info("breaker: leading")
	r.mu.Lock()
	r.leading = true
	r.seen, r.cleared, r.disabledByTrip = map[fkey]*ruleset.Override{}, map[fkey]time.Time{}, map[fkey]bool{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.leading = false
		r.status = map[fkey]FlagStatus{}
		r.mu.Unlock()
		r.state.Reset()
		r.log.Info("breaker: no longer leading")
	}()
	r.Tick(ctx) // at once on taking the lead
	t := r.opts.Clock.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-lock.Lost():
			r.log.Warn("breaker: leader lock lost; standing by")
			return
		case <-t.Chan():
		}
		r.Tick(ctx)
	}
}

// Leading reports whether this Runner holds the leader lock.
func (r *Runner) Leading() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leading
}

// Status lists the last decision of every breaker, sorted by environment
// and flag; empty on a standby.
func (r *Runner) Status() []FlagStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := slices.SortedFunc(maps.Keys(r.status), func(a, b fkey) int {
		return cmp.Or(cmp.Compare(a.env, b.env), cmp.Compare(a.flag, b.flag))
	})
	out := make([]FlagStatus, 0, len(keys))
	for _, k := range keys {
		out = append(out, r.status[k])
	}
	return out
}

// Tick decides once for every environment. Run calls it while leading;
// tests call it directly.
func (r *Runner) Tick(ctx context.Context) {
	envs, err := r.opts.Store.Environments(ctx)
	if err != nil {
		r.log.Warn("breaker: listing environments; will retry", "err", err)
		return
	}
	now := r.opts.Clock.Now()
	r.keys.Forget(func(env string) bool { return slices.Contains(envs, env) })
	for _, env := range envs {
		if err := r.tickEnv(ctx, env, now); err != nil {
			r.log.Warn("breaker: deciding; will retry", "environment", env, "err", err)
		}
	}
}

// tickEnv decides for every flag of env that has a breaker block: one
// WindowCounts call per distinct window (usually one per environment).
func (r *Runner) tickEnv(ctx context.Context, env string, now time.Time) error {
	snap, err := r.opts.Store.Snapshot(ctx, env)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	if snap.Document == nil {
		return nil
	}
	layer, err := r.opts.Store.Layer(ctx, env)
	if err != nil {
		return err
	}
	served, _ := layer.Apply(snap.Document)
	windows := map[time.Duration]map[string]store.Counts{}
	// Only flags with a breaker block: the others never trip.
	for _, key := range r.keys.Keys(env, snap.Document, snap.Change) {
		f := snap.Document.Flags.Get(key)
		s := SettingsOf(*f.Breaker)
		o := served.Overrides[key]
		var judge bool
		s.Window, judge = recoveryWindow(o, s.Window, now)
		counts, ok := windows[s.Window]
		if !ok && judge {
			if counts, err = r.opts.Metrics.WindowCounts(ctx, env, now, s.Window); err != nil {
				return err
			}
			windows[s.Window] = counts
		}
		if !judge {
			counts = nil // the ramp's own calls are not in yet
		}
		k := fkey{env, key}
		in := Input{Flag: key, Environment: env, Off: f.Off, Settings: s, Counts: counts[key], Override: o,
			Disabled: !f.Enabled, ClearedAt: r.clearedAt(k, o, layer.Entries[key], !f.Enabled, now), Now: now}
		r.act(ctx, k, in, Decide(in))
	}
	return nil
}

// LateReports is how long after a call its outcome may still reach the
// store: SDKs send their counts every second by default
// (sdk.Options.MetricsInterval), and a batch takes a moment to arrive.
// Counts are stamped when a bearer receives them, so calls made before a
// trip land in the buckets of up to LateReports after it.
const LateReports = 2 * time.Second

// recoveryWindow is the window the breaker judges a flag by: window, or,
// while the breaker's override o ramps the flag back, only the seconds
// since the ramp started (counts are kept in 1 s buckets), and not before
// LateReports after the trip. The calls before that are those that
// tripped the flag, some reported late; with a recovery delay shorter
// than the window they would trip it again at once, although nobody has
// run the flag's code since. ok is false while the ramp has started but
// its own calls cannot be told apart yet: there is nothing to judge.
func recoveryWindow(o *ruleset.Override, window time.Duration, now time.Time) (w time.Duration, ok bool) {
	if o == nil || o.By != By || o.Recovery == nil || now.Before(o.Recovery.StartAt) {
		return window, true
	}
	from := o.Recovery.StartAt
	if late := o.At.Add(LateReports); late.After(from) {
		from = late
	}
	if now.Before(from) {
		return window, false
	}
	return min(window, time.Duration(now.Unix()-from.Unix()+1)*time.Second), true
}

// clearedAt returns when a person removed the breaker's override of k, as
// far as this leader knows: a tombstone in the layer by someone else, or
// a breaker override seen at the last tick that is gone now without the
// breaker having removed it (a merged pull request), or a flag that git
// disabled after an on_trip: commit trip and a person enabled again. It
// records what this tick sees for the next.
func (r *Runner) clearedAt(k fkey, o *ruleset.Override, e store.LayerEntry, disabled bool, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case disabled && (o == nil || o.Recovery == nil):
		// The trip's layer entry gives way to git's enabled: false: not a
		// person's clear.
		if prev := r.seen[k]; prev != nil || (o != nil && o.By == By) {
			r.disabledByTrip[k] = true
		}
		delete(r.seen, k)
		return time.Time{}
	case !disabled && r.disabledByTrip[k]:
		// A person enabled the flag again: like a clear, the window still
		// holds the calls that caused the trip.
		delete(r.disabledByTrip, k)
		r.cleared[k] = now
	}
	if o != nil && o.By == By {
		r.seen[k] = o
		delete(r.cleared, k)
		return time.Time{}
	}
	// A person's tombstone dates the clear; without one (a pull request
	// deleted the file) the first tick that misses the override does.
	tombstone := time.Time{}
	if e.Flag != "" && e.Override == nil && e.By != By {
		tombstone = e.At
	}
	if prev := r.seen[k]; prev != nil {
		delete(r.seen, k)
		if o == nil {
			r.cleared[k] = cmp.Or(tombstone, now)
		}
	}
	if at := r.cleared[k]; !at.IsZero() {
		return at
	}
	return tombstone
}

// act writes what d asks for and records the breaker's status.
func (r *Runner) act(ctx context.Context, k fkey, in Input, d Decision) {
	// The logger is built only when there is something to log: act runs
	// for every flag with a breaker at every tick.
	log := func() *slog.Logger { return r.log.With("environment", k.env, "flag", k.flag) }
	switch d.Action {
	case Trip:
		e := store.LayerEntry{Flag: k.flag, Override: d.Override, At: d.Override.At, By: By, Requester: By}
		recovery := "left to a person: on_trip: commit disables the flag in git"
		if rec := d.Override.Recovery; rec != nil {
			recovery = "from " + rec.StartAt.UTC().Format(time.RFC3339)
		} else {
			e.Kind = store.KindDisable
		}
		if _, err := r.opts.Store.SetOverride(ctx, k.env, e); err != nil {
			log().Error("breaker: setting the trip's override; will retry", "err", err)
			return
		}
		r.trips.WithLabelValues(k.env, k.flag).Inc()
		r.markSeen(k, d.Override)
		log().Warn("breaker: tripped", "from", stateBefore(in), "serve", d.Override.Serve, "reason", d.Reason,
			"failure", d.Counts.Failure, "slow", d.Counts.Slow, "calls", d.Counts.Total(),
			"recovery", recovery)
	case Recover:
		e := store.LayerEntry{Flag: k.flag, At: in.Now.UTC().Truncate(time.Millisecond), By: By, Requester: By,
			Reason: d.Reason}
		if _, err := r.opts.Store.SetOverride(ctx, k.env, e); err != nil {
			log().Error("breaker: removing the recovered override; will retry", "err", err)
			return
		}
		r.recoveries.WithLabelValues(k.env, k.flag).Inc()
		r.markSeen(k, nil)
		log().Info("breaker: recovered", "reason", d.Reason)
	default:
		if prev := r.lastState(k); prev != d.State {
			log().Info("breaker: "+d.State.String(), "from", prev, "cap", d.Cap, "next_step", d.NextStep)
		}
	}
	// A series only for a breaker that is not closed: at 10,000 flags in
	// two environments one per flag was 20,000 series, 9 MiB of heap and
	// every scrape's bulk, all saying 0.
	if d.State != Closed {
		r.state.WithLabelValues(k.env, k.flag).Set(float64(d.State))
	} else if r.lastState(k) != Closed {
		r.state.DeleteLabelValues(k.env, k.flag)
	}
	st := FlagStatus{Environment: k.env, Flag: k.flag, State: d.State, Counts: d.Counts, ErrorRate: d.ErrorRate,
		SlowRate: d.SlowRate, Threshold: in.Settings.withDefaults().ErrorRate, MinRequests: d.MinRequests,
		Window: seconds(in.Settings.withDefaults().Window), Cap: d.Cap, At: in.Now}
	if in.Settings.SlowDuration > 0 {
		st.SlowThreshold = in.Settings.SlowRate
	}
	if !d.NextStep.IsZero() {
		next := d.NextStep
		st.NextStep = &next
	}
	if d.Action == Stay {
		st.Note = d.Reason
	}
	r.mu.Lock()
	r.status[k] = st
	r.mu.Unlock()
}

// markSeen records the override the breaker itself just set (nil: removed),
// so that the next tick does not take it for a person's change.
func (r *Runner) markSeen(k fkey, o *ruleset.Override) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o == nil {
		delete(r.seen, k)
	} else {
		r.seen[k] = o
	}
}

func (r *Runner) lastState(k fkey) State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status[k].State
}

// stateBefore is the state a trip left: closed or recovering.
func stateBefore(in Input) State {
	if in.Override != nil {
		return Recovering
	}
	return Closed
}
