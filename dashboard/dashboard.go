package dashboard

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/breaker"
	"github.com/flagpole/flagpole/internal/backoff"
	"github.com/flagpole/flagpole/store"
)

// Defaults of Options.
const (
	DefaultInterval         = time.Second
	DefaultHistoryLen       = 300
	DefaultMaxBreakers      = 1000
	DefaultMaxStreams       = 256
	DefaultMaxStreamsPerKey = 8
	DefaultWriteTimeout     = 10 * time.Second
	DefaultPing             = 15 * time.Second
	DefaultMaxBodyBytes     = 16 << 10
	DefaultHistoryCommits   = 20
)

// LayerStore is a store with an override layer (store.Memory,
// redisstore.Redis).
type LayerStore interface {
	store.Store
	store.Overrider
}

// Options configures a Dashboard. Store is required; every other zero
// field takes the default its comment names.
type Options struct {
	Store LayerStore
	// Metrics holds the outcome counts the breaker windows are read from.
	// Nil: the breakers show no counts.
	Metrics store.Metrics
	// Sync returns the syncer's status (with full problem messages: only
	// keyed callers see it). Nil: read from the store.
	Sync func() store.SyncStatus
	// Extra returns the overrides in force and the pending write-backs,
	// as GET /v1/status shows them. Nil: none shown.
	Extra func(ctx context.Context) map[string]any
	// SDKStreams returns the SDK event streams open on this process's
	// bearer, by environment. Nil: the process has no bearer (sync).
	SDKStreams func(ctx context.Context) map[string]int64
	// History reads the git history of repository files. Nil: no history.
	History *History
	// AdminToken is FLAGPOLE_ADMIN_TOKEN: an admin credential for every
	// environment. "": none.
	AdminToken string
	// Interval between breaker samples. Default 1 s.
	Interval time.Duration
	// HistoryLen is how many samples of each breaker are kept (the graph's
	// width). Default 300 (5 min at 1 s).
	HistoryLen int
	// MaxBreakers caps how many breakers are sampled and kept. Default 1000.
	MaxBreakers int
	// MaxStreams caps the open event streams; MaxStreamsPerKey those of
	// one key. Defaults 256 and 8.
	MaxStreams, MaxStreamsPerKey int
	// WriteTimeout bounds each write to an event stream. Default 10 s.
	WriteTimeout time.Duration
	// Ping is the keep-alive comment interval of event streams. Default 15 s.
	Ping time.Duration
	// MaxBodyBytes caps the "try a context" body. Default 16 KiB.
	MaxBodyBytes int64
	// Clock times samples. Default: the real clock.
	Clock clockwork.Clock
	// Logger. Default: discard.
	Logger *slog.Logger
}

// Dashboard serves /ui/ and samples the breakers for it.
type Dashboard struct {
	opts Options
	log  *slog.Logger
	keys *keys
	hub  *hub

	// sampleFailing is set while samples fail, so that the failure is
	// logged once.
	sampleFailing atomic.Bool
	// tickMu makes ticks one at a time, so that samples enter a breaker's
	// history in the order of their times: Run ticks from one goroutine,
	// but tests also tick directly while Run is running.
	tickMu sync.Mutex
	// flagKeys caches each environment's sorted breaker flags per
	// Document: the tick walks them every interval.
	flagKeys breaker.KeyCache

	mu       sync.Mutex
	tracks   map[fkey]*track
	sampled  time.Time
	syncHash string
}

// New checks opts and applies their defaults.
func New(opts Options) (*Dashboard, error) {
	if opts.Store == nil {
		return nil, errors.New("dashboard: Options.Store is required")
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur(&opts.Interval, DefaultInterval)
	defDur(&opts.WriteTimeout, DefaultWriteTimeout)
	defDur(&opts.Ping, DefaultPing)
	def(&opts.HistoryLen, DefaultHistoryLen)
	def(&opts.MaxBreakers, DefaultMaxBreakers)
	def(&opts.MaxStreams, DefaultMaxStreams)
	def(&opts.MaxStreamsPerKey, DefaultMaxStreamsPerKey)
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dashboard{opts: opts, log: opts.Logger, keys: newKeys(opts.Store, opts.AdminToken), tracks: map[fkey]*track{}}
	d.hub = newHub(opts.MaxStreams, opts.MaxStreamsPerKey)
	return d, nil
}

// Run samples the breakers every Interval and forwards the store's changes
// to the open pages until ctx is done. It never fails: while the store's
// watch cannot be opened (Redis down) it samples on and retries the watch
// with backoff, and the pages reload when it is back.
func (d *Dashboard) Run(ctx context.Context) error {
	t := d.opts.Clock.NewTicker(d.opts.Interval)
	defer t.Stop()
	defer d.hub.closeAll()
	retry := backoff.Counter{Policy: backoff.Policy{Min: time.Second, Max: 30 * time.Second}}
	var changes <-chan store.Change
	var rewatch <-chan time.Time
	watch := func() {
		ch, err := d.opts.Store.Watch(ctx)
		if err != nil {
			delay := retry.Next()
			d.log.Warn("dashboard: watching the store; will retry", "err", err, "in", delay)
			changes, rewatch = nil, d.opts.Clock.After(delay)
			return
		}
		retry.Reset()
		changes, rewatch = ch, nil
		// Whatever changed meanwhile: every page reloads.
		d.hub.publish(event{name: "change", data: map[string]any{"resync": true}})
	}
	watch()
	d.tick(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-rewatch:
			watch()
		case c, ok := <-changes:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				changes, rewatch = nil, d.opts.Clock.After(retry.Next())
				continue
			}
			d.hub.publish(event{name: "change", env: c.Environment, data: map[string]any{
				"environment": c.Environment, "version": c.Version, "removed": c.Removed, "resync": c.Resync}})
			d.hub.recheck(func(p *principal) bool { return d.keys.still(ctx, p) })
			d.tick(ctx) // an override changes a breaker's state at once
		case <-t.Chan():
			d.tick(ctx)
		}
	}
}

// tick samples the breakers, keeps their history and trips, and sends the
// sample (and the sync state when it changed) to the open pages.
func (d *Dashboard) tick(ctx context.Context) {
	d.tickMu.Lock()
	defer d.tickMu.Unlock()
	now := d.opts.Clock.Now()
	list, err := sampleBreakers(ctx, d.opts.Store, d.opts.Metrics, &d.flagKeys, now, d.opts.MaxBreakers)
	if err != nil {
		if !d.sampleFailing.Swap(true) {
			d.log.Warn("dashboard: sampling the breakers; will retry every interval", "err", err)
		}
		return
	}
	if d.sampleFailing.Swap(false) {
		d.log.Info("dashboard: sampling the breakers again")
	}
	d.mu.Lock()
	seen := make(map[fkey]bool, len(list))
	for i := range list {
		b := &list[i]
		k := fkey{b.Environment, b.Flag}
		seen[k] = true
		tr := d.tracks[k]
		if tr == nil {
			tr = &track{}
			d.tracks[k] = tr
		}
		d.noteTrip(tr, b, now)
		tr.add(Point{At: now.UnixMilli(), ErrorRate: round(b.ErrorRate), SlowRate: round(b.SlowRate),
			Total: b.Counts.Total(), State: b.State, Cap: b.Cap}, d.opts.HistoryLen)
		tr.last = *b
	}
	for k := range d.tracks {
		if !seen[k] {
			delete(d.tracks, k) // the flag lost its breaker block or was removed
		}
	}
	d.sampled = now
	d.mu.Unlock()
	if len(list) > 0 {
		d.hub.publishBreakers(now, list)
	}
	d.publishSync(ctx)
}

// noteTrip counts a trip when the breaker's override has a new at, and
// forgets trips older than 24 h. b gets the counts.
func (d *Dashboard) noteTrip(tr *track, b *Breaker, now time.Time) {
	if at := b.overrideAt; !at.IsZero() && !at.Equal(tr.lastAt) {
		tr.lastAt = at
		if now.Sub(at) < 24*time.Hour {
			tr.trips = append(tr.trips, at)
		}
	}
	cut := 0
	for cut < len(tr.trips) && now.Sub(tr.trips[cut]) >= 24*time.Hour {
		cut++
	}
	tr.trips = tr.trips[cut:]
	if len(tr.trips) > 10000 {
		tr.trips = tr.trips[len(tr.trips)-10000:]
	}
	b.Trips24h = len(tr.trips)
	if n := len(tr.trips); n > 0 {
		t := tr.trips[n-1].UTC()
		b.LastTrip = &t
	}
}

// breakers returns the last sample of every breaker p may see, with its
// history.
func (d *Dashboard) breakers(p *principal) []Breaker {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []Breaker{}
	for k, tr := range d.tracks {
		if !p.may(k.env) {
			continue
		}
		b := tr.last
		b.History, b.Trips = tr.points(), tr.recentTrips()
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Breaker) int {
		if a.Environment != b.Environment {
			if a.Environment < b.Environment {
				return -1
			}
			return 1
		}
		if a.Flag < b.Flag {
			return -1
		}
		if a.Flag > b.Flag {
			return 1
		}
		return 0
	})
	return out
}

// breakerOfFlag returns the last sample of one breaker.
func (d *Dashboard) breakerOfFlag(env, flag string) (Breaker, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	tr, ok := d.tracks[fkey{env, flag}]
	if !ok {
		return Breaker{}, false
	}
	b := tr.last
	b.History, b.Trips = tr.points(), tr.recentTrips()
	return b, true
}

func round(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// Handler returns the /ui/ routes: the page and its API.
func (d *Dashboard) Handler() http.Handler { return d.routes() }
