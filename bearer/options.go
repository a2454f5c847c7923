package bearer

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flagpole/flagpole/store"
)

// Defaults applied by New to zero fields of Options.
const (
	DefaultPingInterval      = 15 * time.Second
	DefaultVersionCheck      = 5 * time.Second
	DefaultMaxBodyBytes      = 1 << 20  // 1 MiB
	DefaultMaxContextBytes   = 64 << 10 // 64 KiB
	DefaultClientBuffer      = 16
	DefaultRequestTimeout    = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultRetryMin          = 250 * time.Millisecond
	DefaultRetryMax          = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxConns          = 20000
	DefaultMaxConnsPerAddr   = 256
	DefaultMaxStreamsPerKey  = 10000
	DefaultMaxStreamsPerAddr = 128
	DefaultEventTokenWindow  = 15 * time.Minute
)

// Store is what a bearer reads: the snapshots of every environment, their
// changes and the syncer's status. Every store.Store (store.Memory,
// redisstore.Redis) is one; a read-only view of another store may be too.
type Store interface {
	// Snapshot returns the current snapshot of env, or store.ErrNotFound.
	Snapshot(ctx context.Context, env string) (*store.Snapshot, error)
	// Environments lists the environments that have a snapshot.
	Environments(ctx context.Context) ([]string, error)
	// Watch delivers changes until ctx is done, then closes the channel.
	Watch(ctx context.Context) (<-chan store.Change, error)
	// Status returns the syncer's status, or store.ErrNotFound.
	Status(ctx context.Context) (*store.SyncStatus, error)
}

var _ Store = (*store.Memory)(nil)

// Options configures a Server. Only Store is required.
type Options struct {
	// Store is where snapshots are read and watched. Required.
	Store Store
	// Metrics is where POST /v1/metrics adds the outcome counts that server
	// SDKs report, for the breaker to read (store.Memory and
	// redisstore.Redis are both one). Zero: the route is not mounted and
	// answers 404, so SDKs keep their counts bounded and drop them.
	Metrics store.Metrics
	// Registerer receives the bearer's own metrics. Zero: a new private
	// prometheus.Registry (which then also serves /metrics when Gatherer is
	// nil).
	Registerer prometheus.Registerer
	// Gatherer is what /metrics serves. Zero: Registerer if it is also a
	// prometheus.Gatherer, otherwise prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Webhook, if set, is mounted at POST /v1/hooks/git (the syncer's git
	// push webhook; it checks its own HMAC signature). Zero: no such route.
	Webhook http.Handler
	// Logger receives structured logs. Zero: logs are discarded.
	Logger *slog.Logger
	// VersionCheck is how often the bearer compares the versions the store
	// lists with those it serves, and reloads the environments that differ
	// (stores with a Versions method: store.Memory, redisstore.Redis).
	// Change notifications (Redis pub/sub) are delivered at most once: one
	// lost without a reconnect would otherwise leave the bearer on an old
	// version until the next change. It runs on the real clock, whatever
	// Clock is. Zero: 5 s.
	VersionCheck time.Duration
	// PingInterval is how often every SSE stream gets a ": ping" comment
	// (and evaluated streams re-check results when the rule set depends on
	// time). Zero: 15 s.
	PingInterval time.Duration
	// MaxBodyBytes caps request bodies; larger ones get 413. Zero: 1 MiB.
	MaxBodyBytes int64
	// MaxContextBytes caps the JSON of one evaluation context, in a body or
	// in the context query parameter; larger ones get 413. Zero: 64 KiB.
	MaxContextBytes int
	// ClientBuffer is how many events an SSE client may fall behind before
	// it is dropped (its stream closes; it reconnects and gets a put).
	// Zero: 16.
	ClientBuffer int
	// RequestTimeout bounds reading the body of, evaluating and answering
	// a non-streaming request; the body and the evaluation get it less a
	// fifth (at most 1 s), kept to answer 408 or 503 in time. It is also
	// the ReadHeaderTimeout and WriteTimeout of HTTPServer. Zero: 10 s.
	RequestTimeout time.Duration
	// WriteTimeout bounds each write to an SSE stream; a client that does
	// not take an event within it is disconnected. Zero: 10 s.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that has waited this long
	// for its next request (streams are exempt: they have pings). Zero: 60 s.
	IdleTimeout time.Duration
	// MaxConns and MaxConnsPerAddr cap the connections the listener returned
	// by Listener accepts, overall and from one remote IP address; a
	// connection over either is closed at once. Zero: 20,000 and 256.
	MaxConns, MaxConnsPerAddr int
	// MaxStreamsPerKey and MaxStreamsPerAddr cap the open SSE streams of one
	// SDK key and of one remote IP address; a stream over either gets 429.
	// Zero: 10,000 and 128.
	MaxStreamsPerKey, MaxStreamsPerAddr int
	// RetryMin and RetryMax bound the exponential backoff (with jitter) used
	// when the store cannot be watched or a snapshot cannot be loaded.
	// Zero: 250 ms and 30 s.
	RetryMin, RetryMax time.Duration
	// EventTokenSecret signs the tokens in the URLs of OFREP event streams
	// (docs/http-api.md); it must have at least 32 bytes. Every bearer
	// behind one load balancer needs the same secret, or a provider's
	// stream may reach a bearer that refuses its token. Zero: 32 random
	// bytes per process, and New logs that.
	EventTokenSecret []byte
	// EventTokenWindow is how often the OFREP event stream token in bulk
	// evaluation responses changes; a token is valid for one to two
	// windows, and a context's bulk response (and ETag) changes once per
	// window. Zero: 15 minutes.
	EventTokenWindow time.Duration
	// Presence is where this bearer records itself (store.BearerInfo) for
	// the dashboard and /v1/status: a heartbeat every HeartbeatInterval,
	// each record living BearerTTL, removed when Run returns. Nil: no
	// record (every store.Store is a store.Presence; flagpole serve and
	// flagpole bearer pass their store).
	Presence store.Presence
	// Advertise is the address recorded as this bearer's ("" when it does
	// not know one).
	Advertise string
	// BinaryVersion is the version of the program recorded ("" when not
	// known).
	BinaryVersion string
	// HeartbeatInterval and BearerTTL time the presence record. Zero:
	// store.HeartbeatInterval (5 s) and store.BearerTTL (15 s). Readers
	// mark a record stale by the default interval (store.BearerInfo.Stale),
	// so a longer one shows as stale between heartbeats.
	HeartbeatInterval, BearerTTL time.Duration
	// Clock is the clock for load times, overrides, recovery ramps and
	// schedules (it is passed to ruleset.Compile), the SSE ping ticker and
	// the retry timers. Nil means the real clock.
	Clock clockwork.Clock
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.Registerer == nil {
		reg := prometheus.NewRegistry()
		o.Registerer = reg
		if o.Gatherer == nil {
			o.Gatherer = reg
		}
	}
	if o.Gatherer == nil {
		if g, ok := o.Registerer.(prometheus.Gatherer); ok {
			o.Gatherer = g
		} else {
			o.Gatherer = prometheus.DefaultGatherer
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	setDefault(&o.PingInterval, DefaultPingInterval)
	setDefault(&o.VersionCheck, DefaultVersionCheck)
	setDefault(&o.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&o.MaxContextBytes, DefaultMaxContextBytes)
	setDefault(&o.ClientBuffer, DefaultClientBuffer)
	setDefault(&o.RequestTimeout, DefaultRequestTimeout)
	setDefault(&o.WriteTimeout, DefaultWriteTimeout)
	setDefault(&o.RetryMin, DefaultRetryMin)
	setDefault(&o.RetryMax, DefaultRetryMax)
	setDefault(&o.IdleTimeout, DefaultIdleTimeout)
	setDefault(&o.MaxConns, DefaultMaxConns)
	setDefault(&o.MaxConnsPerAddr, DefaultMaxConnsPerAddr)
	setDefault(&o.MaxStreamsPerKey, DefaultMaxStreamsPerKey)
	setDefault(&o.MaxStreamsPerAddr, DefaultMaxStreamsPerAddr)
	setDefault(&o.EventTokenWindow, DefaultEventTokenWindow)
	setDefault(&o.HeartbeatInterval, store.HeartbeatInterval)
	setDefault(&o.BearerTTL, store.BearerTTL)
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	return o
}

// setDefault sets *p to def when *p is zero or negative.
func setDefault[T int | int64 | time.Duration](p *T, def T) {
	if *p <= 0 {
		*p = def
	}
}
