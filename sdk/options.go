package sdk

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/internal/redact"
	"github.com/flagpole/flagpole/ruleset"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultInitTimeout    = 5 * time.Second
	DefaultReconnectMin   = 500 * time.Millisecond
	DefaultReconnectMax   = 30 * time.Second
	DefaultStaleAfter     = 45 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	// DefaultMetricsInterval is how often outcome counts are sent.
	DefaultMetricsInterval = time.Second
	// DefaultMetricsMaxPending is how many batches of outcome counts wait
	// for an unreachable bearer: a minute of them at the default interval.
	DefaultMetricsMaxPending = 60
)

// maxDocumentBytes bounds one rule set (a `put` event, a `patch` event or
// the body of GET /v1/flags) so that a broken peer cannot exhaust memory.
const maxDocumentBytes = 64 << 20

// Options configures a Client. The zero value of every field is usable; the
// comment of each field says what its zero value means.
type Options struct {
	// URL is the bearer's base URL, such as "http://127.0.0.1:8080".
	// Required unless Offline is set.
	URL string
	// Key is the server SDK key of the environment (sent as
	// "Authorization: Bearer <key>"). Required unless Offline is set.
	Key string
	// HTTPClient makes the requests. Zero: a client of its own on a clone
	// of http.DefaultTransport. Its Timeout must be zero (New refuses
	// others): the stream is one long response.
	HTTPClient *http.Client
	// Bootstrap is served until the bearer answers, and for good when
	// Offline is set: the path of a rule-set snapshot file (a JSON
	// ruleset.Document, as GET /v1/flags returns it). To bootstrap from a
	// flags repository directory, use package sdk/fromrepo and
	// BootstrapDocument. Zero: no bootstrap; defaults are served until the
	// first rule set arrives.
	Bootstrap string
	// BootstrapDocument is a rule set already in memory, served like
	// Bootstrap (set one or the other). New does not modify it. Zero: none.
	BootstrapDocument *ruleset.Document
	// Environment, when set, is the environment the bootstrap must be for:
	// a snapshot of another environment is refused. Zero: any.
	Environment string
	// InitTimeout is how long New waits for the first rule set from the
	// bearer. On timeout New still returns a working client that serves
	// the bootstrap or the defaults and keeps trying. Zero: 5 s. Negative:
	// do not wait.
	InitTimeout time.Duration
	// Logger receives connection and rule-set events. Zero: slog.Default().
	Logger *slog.Logger
	// Offline serves Bootstrap only and never contacts a bearer. With no
	// Bootstrap every flag is unknown and evaluates to its default.
	Offline bool
	// ReconnectMin and ReconnectMax bound the reconnect backoff: the n-th
	// consecutive failure waits a random time in
	// [0, min(ReconnectMax, ReconnectMin * 2^n)) (full jitter).
	// Zero: 500 ms and 30 s.
	ReconnectMin, ReconnectMax time.Duration
	// StaleAfter is how long the stream may go without an event or a
	// `: ping` before the client calls its rule set stale and reconnects.
	// The bearer pings every 15 s. Zero: 45 s.
	StaleAfter time.Duration
	// RequestTimeout bounds GET /v1/flags and the wait for the stream's
	// response headers. Zero: 10 s.
	RequestTimeout time.Duration
	// MetricsInterval is how often the outcomes recorded with Record,
	// Success, Failure and Guard are sent to the bearer (POST /v1/metrics)
	// for its circuit breaker. Zero: 1 s. Negative: outcomes are not
	// recorded at all. An Offline client never records them. The ticker
	// (on Clock) starts with the first outcome recorded.
	MetricsInterval time.Duration
	// MetricsMaxPending is how many batches of outcome counts wait while
	// the bearer is unreachable; beyond it the oldest is dropped and
	// counted in MetricsStats. Zero: 60.
	MetricsMaxPending int
	// Clock is the clock of evaluation (overrides, ramps, schedules), of
	// the InitTimeout wait, the reconnect delays, the StaleAfter watchdog,
	// the MetricsInterval ticker and Guard's timing of slow calls. Tests
	// pass a clockwork.FakeClock to shift time instead of sleeping. Nil
	// means the real clock.
	Clock clockwork.Clock
}

// withDefaults returns o with every zero field replaced by its default, or
// an error naming the field that is wrong.
func (o Options) withDefaults() (Options, error) {
	if !o.Offline {
		if o.URL == "" {
			return o, errors.New("sdk options: URL is required unless Offline is set")
		}
		u, err := url.Parse(o.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, fmt.Errorf("sdk options: URL %q must be an absolute http or https URL", redact.URL(o.URL))
		}
		if o.Key == "" {
			return o, errors.New("sdk options: Key is required unless Offline is set")
		}
		o.URL = strings.TrimRight(o.URL, "/")
	}
	if o.Bootstrap != "" && o.BootstrapDocument != nil {
		return o, errors.New("sdk options: set Bootstrap or BootstrapDocument, not both")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	} else if o.HTTPClient.Timeout != 0 {
		return o, fmt.Errorf("sdk options: HTTPClient.Timeout is %s: it must be zero, or it cuts the stream; RequestTimeout bounds requests", o.HTTPClient.Timeout)
	}
	if o.InitTimeout == 0 {
		o.InitTimeout = DefaultInitTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = DefaultReconnectMin
	}
	if o.ReconnectMax <= 0 {
		o.ReconnectMax = DefaultReconnectMax
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = o.ReconnectMin
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = DefaultStaleAfter
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.MetricsInterval == 0 {
		o.MetricsInterval = DefaultMetricsInterval
	}
	if o.MetricsMaxPending <= 0 {
		o.MetricsMaxPending = DefaultMetricsMaxPending
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	return o, nil
}
