// Package notify tells people what Flagpole did: overrides set, cleared or
// expired, sync errors, and the breaker's trips and recoveries. It posts
// each event to the webhooks of flagpole.yaml's notify list, as a Slack
// incoming-webhook message or as a JSON body signed with HMAC-SHA256.
//
// Sending never blocks the caller: each webhook has its own bounded queue
// and worker, so a slow or dead receiver delays nobody, not even the other
// webhooks. URLs and secrets are written as ${VAR} in git and expanded
// from the environment at send time; their values never reach a log line
// or an error.
package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flagpole/flagpole/internal/backoff"
	"github.com/flagpole/flagpole/internal/redact"
	"github.com/flagpole/flagpole/loader"
)

// Defaults of Options.
const (
	DefaultQueueSize     = 100
	DefaultTimeout       = 10 * time.Second
	DefaultMaxAttempts   = 6
	DefaultMaxRetryAfter = 5 * time.Minute
)

// DefaultBackoff is the retry schedule when Options.Backoff is zero: 1 s
// doubling to 1 min, jittered in [ceiling/2, ceiling]. With
// DefaultMaxAttempts an event is given up about a minute after it failed
// first.
var DefaultBackoff = backoff.Policy{Min: time.Second, Max: time.Minute}

// Options tunes a Notifier. The zero value is ready to use.
type Options struct {
	// Client sends the requests. Default: a client of its own (proxy
	// from the environment).
	Client *http.Client
	// Timeout bounds each request, connection to response. Default 10 s.
	Timeout time.Duration
	// QueueSize is how many events may wait per webhook; beyond it events
	// for that webhook are dropped and counted. Default 100.
	QueueSize int
	// MaxAttempts is how many times an event is posted before it is given
	// up (network errors, 5xx and 429 are retried; other 4xx are not).
	// Default 6.
	MaxAttempts int
	// Backoff spaces the retries. Zero Min and Max: DefaultBackoff.
	Backoff backoff.Policy
	// MaxRetryAfter caps how long a 429's or 503's Retry-After may make a
	// retry wait. Default 5 min.
	MaxRetryAfter time.Duration
	// Clock times retries and timestamps signatures. Default: real.
	Clock clockwork.Clock
	// Logger hears of failed deliveries and unset variables. Default:
	// discard.
	Logger *slog.Logger
	// LookupEnv expands ${VAR}. Default: os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Registerer receives flagpole_notify_events_total{result} (delivered,
	// failed, dropped). Nil: not registered.
	Registerer prometheus.Registerer
}

// Stats counts events per webhook outcome since New.
type Stats struct {
	// Delivered: accepted by the receiver (2xx), once per event and
	// webhook whatever the number of attempts.
	Delivered uint64
	// Failed: given up (attempts exhausted, a 4xx, an unset variable).
	Failed uint64
	// Dropped: not queued because the webhook's queue was full.
	Dropped uint64
}

// Notifier posts events to webhooks. Its methods are safe for concurrent
// use.
type Notifier struct {
	opts    Options
	clock   clockwork.Clock
	log     *slog.Logger
	targets []*target
	results *prometheus.CounterVec
	stats   struct{ delivered, failed, dropped atomic.Uint64 }

	// done, when set (tests), hears of each event's outcome per webhook.
	done func(t *target, e Event, err error)
}

// target is one webhook and its queue.
type target struct {
	cfg    loader.Notify
	name   string // the URL as written, redacted: safe to log
	events map[string]bool
	queue  chan Event
	warnMu sync.Mutex
	warned map[string]bool // unset variables already logged
}

// New returns a Notifier for the notify entries of flagpole.yaml; call Run
// to start delivering. Formats other than slack and json are errors.
func New(entries []loader.Notify, opts Options) (*Notifier, error) {
	n := &Notifier{opts: opts, clock: opts.Clock, log: opts.Logger}
	if n.clock == nil {
		n.clock = clockwork.NewRealClock()
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.opts.Client == nil {
		n.opts.Client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if n.opts.Timeout <= 0 {
		n.opts.Timeout = DefaultTimeout
	}
	if n.opts.QueueSize <= 0 {
		n.opts.QueueSize = DefaultQueueSize
	}
	if n.opts.MaxAttempts <= 0 {
		n.opts.MaxAttempts = DefaultMaxAttempts
	}
	if n.opts.Backoff.Min <= 0 && n.opts.Backoff.Max <= 0 {
		n.opts.Backoff = DefaultBackoff
	}
	if n.opts.MaxRetryAfter <= 0 {
		n.opts.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if n.opts.LookupEnv == nil {
		n.opts.LookupEnv = os.LookupEnv
	}
	for i, e := range entries {
		if e.Format != FormatSlack && e.Format != FormatJSON {
			return nil, fmt.Errorf("notify[%d] %s: unknown format %q (slack or json)", i, redact.URL(e.URL), e.Format)
		}
		events := e.Events
		if len(events) == 0 {
			events = loader.NotifyEvents
		}
		t := &target{cfg: e, name: redact.URL(e.URL), events: map[string]bool{},
			queue: make(chan Event, n.opts.QueueSize), warned: map[string]bool{}}
		for _, ev := range events {
			t.events[ev] = true
		}
		n.targets = append(n.targets, t)
	}
	n.results = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flagpole_notify_events_total",
		Help: "Events per webhook by outcome: delivered, failed (given up) or dropped (queue full)."}, []string{"result"})
	for _, r := range []string{"delivered", "failed", "dropped"} {
		n.results.WithLabelValues(r) // shown as 0 before the first event
	}
	if r := opts.Registerer; r != nil {
		if err := r.Register(n.results); err != nil {
			return nil, fmt.Errorf("registering notify metrics: %w", err)
		}
	}
	return n, nil
}

// Collectors returns the Notifier's metrics (flagpole_notify_events_total),
// for a caller that registers them itself (with Options.Registerer nil)
// and unregisters them when it replaces the Notifier.
func (n *Notifier) Collectors() []prometheus.Collector {
	return []prometheus.Collector{n.results}
}

// Send queues e for every webhook that wants its kind and returns at once.
// When a webhook's queue is full the event is dropped for that webhook and
// counted in Stats.Dropped.
func (n *Notifier) Send(e Event) {
	if e.At.IsZero() {
		e.At = n.clock.Now()
	}
	for _, t := range n.targets {
		if !t.events[e.Kind.String()] {
			continue
		}
		select {
		case t.queue <- e:
		default:
			n.stats.dropped.Add(1)
			n.results.WithLabelValues("dropped").Inc()
			n.log.Warn("notify: queue full; event dropped", "url", t.name, "event", e.Kind, "flag", e.Flag, "queue", n.opts.QueueSize)
		}
	}
}

// Stats returns the counts so far.
func (n *Notifier) Stats() Stats {
	return Stats{Delivered: n.stats.delivered.Load(), Failed: n.stats.failed.Load(), Dropped: n.stats.dropped.Load()}
}

// Run delivers queued events, one worker per webhook, until ctx ends.
// Events still queued then are not sent.
func (n *Notifier) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, t := range n.targets {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case e := <-t.queue:
					n.deliver(ctx, t, e)
				}
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// deliver posts e to t, retrying as Options says, and counts the outcome.
func (n *Notifier) deliver(ctx context.Context, t *target, e Event) {
	err := n.attempts(ctx, t, e)
	switch {
	case err == nil:
		n.stats.delivered.Add(1)
		n.results.WithLabelValues("delivered").Inc()
	case ctx.Err() != nil:
		return // shutting down
	default:
		n.stats.failed.Add(1)
		n.results.WithLabelValues("failed").Inc()
		if !errors.Is(err, errUnset) { // logged once already
			n.log.Warn("notify: event not delivered", "url", t.name, "event", e.Kind, "flag", e.Flag, "err", err)
		}
	}
	if n.done != nil {
		n.done(t, e, err)
	}
}

// retryable marks errors worth another attempt.
type retryable struct {
	err   error
	after time.Duration // Retry-After, 0 when none
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

func (n *Notifier) attempts(ctx context.Context, t *target, e Event) error {
	body, err := encode(t.cfg.Format, e)
	if err != nil {
		return fmt.Errorf("encoding the %s event: %w", e.Kind, err)
	}
	for attempt := 1; ; attempt++ {
		err := n.post(ctx, t, e, body)
		var r *retryable
		if err == nil || !errors.As(err, &r) || attempt >= n.opts.MaxAttempts {
			if err != nil && attempt > 1 {
				err = fmt.Errorf("after %d attempts: %w", attempt, err)
			}
			return err
		}
		delay := n.opts.Backoff.Delay(attempt)
		if r.after > 0 {
			delay = min(r.after, n.opts.MaxRetryAfter)
		}
		timer := n.clock.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.Chan():
		}
	}
}

// post makes one attempt. Errors never hold the expanded URL or secret.
func (n *Notifier) post(ctx context.Context, t *target, e Event, body []byte) error {
	rawURL, err := t.expand(n, t.cfg.URL, "url")
	if err != nil {
		return err
	}
	secret, err := t.expand(n, t.cfg.Secret, "secret")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("posting to %s: invalid URL", t.name)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "flagpole-notify")
	req.Header.Set(HeaderEvent, e.Kind.String())
	if t.cfg.Format == FormatJSON && secret != "" {
		ts := strconv.FormatInt(n.clock.Now().Unix(), 10)
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, Sign(secret, ts, body))
	}
	resp, err := n.opts.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it quotes the URL
		}
		msg := strings.ReplaceAll(redact.Text(err.Error(), rawURL), rawURL, t.name)
		if len(secret) >= 4 {
			msg = strings.ReplaceAll(msg, secret, redact.Mask)
		}
		return &retryable{err: fmt.Errorf("posting to %s: %s", t.name, msg)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests || code >= 500:
		return &retryable{err: fmt.Errorf("posting to %s: %s", t.name, resp.Status),
			after: retryAfter(resp.Header.Get("Retry-After"), n.clock.Now())}
	default:
		return fmt.Errorf("posting to %s: %s (not retried)", t.name, resp.Status)
	}
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// errUnset is an unset ${VAR}.
var errUnset = errors.New("environment variable not set")

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces each ${VAR} of s with its value. An unset variable is an
// error, logged once per webhook and variable, naming the variable only.
func (t *target) expand(n *Notifier, s, field string) (string, error) {
	var missing []string
	out := varRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		v, ok := n.opts.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) == 0 {
		return out, nil
	}
	slices.Sort(missing)
	missing = slices.Compact(missing)
	t.warnMu.Lock()
	var fresh []string
	for _, m := range missing {
		if !t.warned[m] {
			t.warned[m] = true
			fresh = append(fresh, m)
		}
	}
	t.warnMu.Unlock()
	if len(fresh) > 0 {
		n.log.Error("notify: environment variable not set; events to this webhook fail until it is",
			"url", t.name, "field", field, "variables", fresh)
	}
	return "", fmt.Errorf("notify %s: %s: %w: %s", t.name, field, errUnset, strings.Join(missing, ", "))
}
