package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/internal/redact"
	"github.com/flagpole/flagpole/ruleset"
)

// Errors a Client reports through New, StateChange.Err and its logs.
var (
	// ErrKeyRejected: the bearer answered 401 (unknown key) or 403 (not a
	// server key). New returns it when it happens before the first rule set.
	ErrKeyRejected = errors.New("sdk key rejected by the bearer")
	// ErrStreamSilent: the stream sent neither an event nor a ping for
	// longer than Options.StaleAfter.
	ErrStreamSilent = errors.New("stream silent")
	// errResync: a patch did not apply to the rule set held; refetch.
	errResync = errors.New("patch does not apply to the rule set held")
)

// snapshot is one immutable, compiled rule set; Clients swap them whole.
type snapshot struct {
	doc   *ruleset.Document
	rs    *ruleset.RuleSet
	types map[string]ruleset.FlagType
	slow  map[string]time.Duration // breaker slow durations, for Guard
}

// Client holds an environment's compiled rule set, kept current by a
// stream from the bearer, and evaluates flags against it. All methods are
// safe for concurrent use; evaluation never blocks on I/O or on a lock.
type Client struct {
	opts  Options
	log   *slog.Logger
	clock clockwork.Clock

	snap  atomic.Pointer[snapshot]
	state atomic.Int32

	stateMu   sync.Mutex // orders state transitions and their notifications
	stateErr  error      // the failure behind the current state; under stateMu
	ready     chan struct{}
	readyOnce sync.Once
	initErr   chan error // a key rejection before New returns

	changes *dispatcher[Change]
	states  *dispatcher[StateChange]

	cancel    context.CancelFunc
	done      chan struct{} // closed when the stream loop has exited
	rearm     chan struct{} // a new rule set: the clock loop re-arms (capacity 1)
	clockStop chan struct{} // closed by Close to end the clock loop
	clockDone chan struct{} // closed when the clock loop has exited
	closeOnce sync.Once
	ownHTTP   bool

	rep *reporter // outcome counts; nil when Offline or reporting is off
}

// New starts a Client. It loads Options.Bootstrap if set, connects to the
// bearer unless Offline, and waits up to InitTimeout for the first rule set
// (ctx can cut that wait short, which closes the client and returns
// ctx's error; ctx does not bound the client's life: Close does). When the
// wait times out New returns a working client serving the bootstrap or the
// defaults, which keeps trying in the background. New fails at once on bad
// Options, an unreadable bootstrap, or a key the bearer rejects.
func New(ctx context.Context, opts Options) (*Client, error) {
	own := opts.HTTPClient == nil
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{
		opts: o, log: o.Logger, clock: o.Clock, ready: make(chan struct{}),
		initErr: make(chan error, 1), changes: newDispatcher[Change](),
		states: newDispatcher[StateChange](), done: make(chan struct{}), ownHTTP: own,
		rearm: make(chan struct{}, 1), clockStop: make(chan struct{}), clockDone: make(chan struct{}),
	}
	if err := c.bootstrap(); err != nil {
		return nil, err
	}
	if o.Offline && c.snap.Load() == nil {
		if err := c.install(&ruleset.Document{Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{})}, nil); err != nil {
			return nil, fmt.Errorf("compiling the empty offline rule set: %w", err)
		}
	}
	go c.clockLoop(c.clock.Now()) // stopped by Close
	if o.Offline {
		c.cancel = func() {}
		close(c.done)
		c.setState(StateReady, nil)
		return c, nil
	}
	if c.snap.Load() != nil {
		c.setState(StateStale, errors.New("serving the bootstrap until the bearer answers"))
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	if o.MetricsInterval > 0 {
		c.rep = newReporter(runCtx, c)
	}
	go c.run(runCtx)
	if err := c.waitInit(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// bootstrap installs Options.Bootstrap or Options.BootstrapDocument, if set.
func (c *Client) bootstrap() error {
	doc, what := c.opts.BootstrapDocument, "bootstrap document"
	if c.opts.Bootstrap != "" {
		var err error
		if doc, err = loadBootstrap(c.opts.Bootstrap, c.opts.Environment); err != nil {
			return err
		}
		what = "bootstrap " + c.opts.Bootstrap
	} else if doc != nil && c.opts.Environment != "" && doc.Environment != "" && doc.Environment != c.opts.Environment {
		return fmt.Errorf("bootstrap document is for environment %q, not %q", doc.Environment, c.opts.Environment)
	}
	if doc == nil {
		return nil
	}
	if err := c.install(doc, nil); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// waitInit waits for the first rule set from the bearer, up to InitTimeout.
func (c *Client) waitInit(ctx context.Context) error {
	if c.opts.InitTimeout < 0 {
		return nil
	}
	t := c.clock.NewTimer(c.opts.InitTimeout)
	defer t.Stop()
	select {
	case <-c.ready:
		return nil
	case err := <-c.initErr:
		return fmt.Errorf("starting the flagpole client: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("waiting for the first rule set from %s: %w", redact.URL(c.opts.URL), ctx.Err())
	case <-t.Chan():
		c.log.Warn("flagpole: no rule set from the bearer yet; serving bootstrap or defaults and retrying",
			"url", redact.URL(c.opts.URL), "waited", c.opts.InitTimeout, "state", c.State().String())
		return nil
	}
}

// Ready returns a channel closed once the client has a rule set from the
// bearer (or, when Offline, at once).
func (c *Client) Ready() <-chan struct{} { return c.ready }

// State returns the client's current state.
func (c *Client) State() State { return State(c.state.Load()) }

// Err returns the failure behind the current state (StateStale or
// StateError), nil in the others; errors.Is(err, ErrKeyRejected) tells a
// key the bearer refuses. It never contains the SDK key.
func (c *Client) Err() error {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.stateErr
}

// Version returns the version of the rule set served, "" before any.
func (c *Client) Version() string {
	if s := c.snap.Load(); s != nil {
		return s.doc.Version
	}
	return ""
}

// Document returns the rule set served, nil before any. It is shared:
// never modify it.
func (c *Client) Document() *ruleset.Document {
	if s := c.snap.Load(); s != nil {
		return s.doc
	}
	return nil
}

// Subscribe calls fn, on a goroutine of its own and in order, after every
// change of the rule set served. It returns the function that stops the
// calls. fn must not call Close.
func (c *Client) Subscribe(fn func(Change)) (unsubscribe func()) {
	return c.changes.subscribe(fn)
}

// WatchState calls fn, on a goroutine of its own and in order, after every
// change of State. It returns the function that stops the calls. fn must
// not call Close.
func (c *Client) WatchState(fn func(StateChange)) (unsubscribe func()) {
	return c.states.subscribe(fn)
}

// Close stops the stream and the subscribers' goroutines and waits for
// them, then sends the outcome counts not yet reported (waiting at most
// RequestTimeout for the bearer). The client keeps answering evaluations
// from its last rule set.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		<-c.done
		close(c.clockStop)
		<-c.clockDone
		if c.rep != nil {
			c.rep.flush()
		}
		c.changes.close()
		c.states.close()
		if c.ownHTTP {
			c.opts.HTTPClient.CloseIdleConnections()
		}
	})
	return nil
}

// setState records a new state and tells the watchers if it changed, or
// if the key started or stopped being refused (ERROR for a refused key
// and ERROR for an unreachable bearer call for different actions).
func (c *Client) setState(s State, err error) {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	from := State(c.state.Swap(int32(s)))
	refusedBefore := errors.Is(c.stateErr, ErrKeyRejected)
	c.stateErr = err
	if s == StateReady {
		c.readyOnce.Do(func() { close(c.ready) })
	}
	if from == s && refusedBefore == errors.Is(err, ErrKeyRejected) {
		return
	}
	if err != nil {
		c.log.Warn("flagpole: client state changed", "from", from.String(), "to", s.String(), "err", err)
	} else {
		c.log.Info("flagpole: client state changed", "from", from.String(), "to", s.String())
	}
	c.states.publish(StateChange{From: from, To: s, Err: err})
}

// install compiles doc and makes it the rule set served; p, when doc came
// from applying a patch, limits the search for changed flags.
func (c *Client) install(doc *ruleset.Document, p *ruleset.Patch) error {
	rs, err := ruleset.CompileWith(doc, ruleset.Options{Now: c.clock.Now})
	if err != nil {
		return fmt.Errorf("compiling rule set %s: %w", doc.Version, err)
	}
	next := &snapshot{doc: doc, rs: rs, types: make(map[string]ruleset.FlagType, doc.Flags.Len()), slow: map[string]time.Duration{}}
	for k, f := range doc.Flags.All() {
		next.types[k] = flagType(f)
		if d := slowDuration(f); d > 0 {
			next.slow[k] = d
		}
	}
	prev := c.snap.Swap(next)
	select {
	case c.rearm <- struct{}{}:
	default:
	}
	flags := changedFlags(prev, next, p)
	if prev != nil && prev.doc.Version == doc.Version && len(flags) == 0 {
		return nil
	}
	c.log.Info("flagpole: rule set updated", "version", doc.Version, "flags", doc.Flags.Len(), "changed", len(flags))
	c.changes.publish(Change{Version: doc.Version, Flags: flags})
	return nil
}

// flagType returns f's type, boolean when unset.
func flagType(f *ruleset.Flag) ruleset.FlagType {
	if f == nil || f.Type == "" {
		return ruleset.TypeBoolean
	}
	return f.Type
}
