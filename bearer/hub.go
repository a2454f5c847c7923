package bearer

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flagpole/flagpole/internal/keyring"
	"github.com/flagpole/flagpole/store"
)

// Reasons a stream cannot be opened.
var (
	errHubClosed  = errors.New("bearer is shutting down")
	errKeyRevoked = errors.New("key is not valid for this rule set version")
)

// event is what a hub hands to its clients. Its frame is encoded once per
// change and shared by every client.
type event struct {
	frame []byte    // the SSE frame, ready to write; nil for a tick
	state *envState // the environment's state once this event is applied
	ping  bool      // a keep-alive
	// tick says the clock passed a boundary of the rule set (see
	// ruleset.RuleSet.NextChange): a schedule step, a ramp or recovery
	// step, an override's expiry or a date in a condition on "now".
	// Results may have changed with no new version: evaluated streams
	// re-evaluate. It has no frame of its own.
	tick bool
}

// client is one open SSE stream. It is kept small: 10,000 of them must fit
// in a few hundred megabytes together with their connections.
type client struct {
	ch      chan *event // closed by the hub when the client is dropped
	keyHash keyring.Hash
	kind    store.KeyKind
}

// hub is one environment: its current state and the SSE clients that follow
// it. One broadcaster goroutine per hub applies new states and fans events
// out without ever blocking on a client.
type hub struct {
	env     string
	srv     *Server
	cur     atomic.Pointer[envState]
	streams atomic.Int64 // open SSE connections, for status
	// kinds counts the same streams by kind, for the presence record.
	kinds [numStreamKinds]atomic.Int64
	// nextTick is when the clock timer fires next (Unix nanoseconds), 0
	// when no boundary is ahead.
	nextTick atomic.Int64

	updates chan *envState // latest state offered by the loader (buffer 1)
	stop    chan struct{}  // closed when the environment is removed

	mu      sync.Mutex
	clients map[*client]struct{}
	closed  bool
}

// newHub returns a hub serving st. Its broadcaster runs until done closes.
func newHub(srv *Server, st *envState) *hub {
	h := &hub{env: st.env, srv: srv, updates: make(chan *envState, 1), stop: make(chan struct{}), clients: map[*client]struct{}{}}
	h.cur.Store(st)
	return h
}

// offer hands st to the broadcaster, replacing any state it has not taken
// yet: the broadcaster diffs against what its clients last saw, so skipping
// an intermediate state still gives correct patches.
func (h *hub) offer(st *envState) {
	for {
		select {
		case h.updates <- st:
			return
		default:
		}
		select {
		case <-h.updates:
		default:
		}
	}
}

// run is the hub's broadcaster: it applies offered states, sends pings
// and clock ticks until done or h.stop closes, then closes every stream.
func (h *hub) run(done <-chan struct{}, ping time.Duration) {
	t := h.srv.opts.Clock.NewTicker(ping)
	defer t.Stop()
	var tick clockTimer
	defer tick.stop()
	h.armTick(&tick, h.cur.Load())
	for {
		select {
		case <-done:
			h.close()
			return
		case <-h.stop:
			h.close()
			return
		case st := <-h.updates:
			h.apply(st)
			if due := h.nextTick.Load(); due != 0 && due <= h.srv.opts.Clock.Now().UnixNano() {
				// The timer was due as the state came: tick now, or
				// re-arming from now would skip that boundary.
				h.broadcast(&event{state: st, tick: true})
			}
			h.armTick(&tick, st)
		case <-t.Chan():
			h.broadcast(&event{frame: pingFrame, state: h.cur.Load(), ping: true})
		case <-tick.c:
			st := h.cur.Load()
			h.srv.log.Debug("clock tick: results may change", "environment", h.env, "version", st.version)
			h.broadcast(&event{state: st, tick: true})
			h.armTick(&tick, st)
		}
	}
}

// apply makes st current: clients whose key st no longer accepts are
// closed, the others get a patch from the previous state.
func (h *hub) apply(st *envState) {
	old := h.cur.Load() // only this goroutine stores cur after newHub
	var ev *event
	if old.version != st.version {
		data, err := json.Marshal(st.change.Diff(old.doc, st.doc))
		if err != nil {
			// A patch that cannot be encoded would leave clients behind:
			// close every stream so that they reconnect and get a put.
			h.srv.log.Error("encoding patch; closing streams so that clients resync",
				"environment", h.env, "base", old.version, "version", st.version, "error", err)
		} else {
			ev = &event{frame: sseFrame("patch", st.version, data), state: st}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cur.Store(st)
	h.srv.presence.changed() // the record shows the new version now
	var sent, dropped, revoked int
	for c := range h.clients {
		switch {
		case !st.keys.Allows(c.keyHash, c.kind):
			revoked++
			h.drop(c)
		case old.version == st.version:
		case ev == nil:
			h.drop(c)
		default:
			select {
			case c.ch <- ev:
				sent++
			default:
				dropped++
				h.drop(c)
			}
		}
	}
	h.srv.metrics.dropped.Add(float64(dropped))
	if revoked > 0 {
		h.srv.log.Info("closed streams of keys removed by a new rule set", "environment", h.env, "version", st.version, "streams", revoked)
	}
	if ev != nil {
		h.srv.log.Debug("broadcast patch", "environment", h.env, "version", st.version, "clients", sent, "dropped", dropped)
	}
}

// broadcast hands ev to every client, dropping those whose buffer is full.
func (h *hub) broadcast(ev *event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	dropped := 0
	for c := range h.clients {
		select {
		case c.ch <- ev:
		default:
			dropped++
			h.drop(c)
		}
	}
	h.srv.metrics.dropped.Add(float64(dropped))
}

// drop removes c and closes its channel, which ends its stream. h.mu is held.
func (h *hub) drop(c *client) {
	delete(h.clients, c)
	close(c.ch)
}

// subscribe registers a stream for the key with the given hash and kind and
// returns it with the state it starts from.
func (h *hub) subscribe(keyHash keyring.Hash, kind store.KeyKind, buffer int) (*client, *envState, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, errHubClosed
	}
	st := h.cur.Load()
	if !st.keys.Allows(keyHash, kind) {
		return nil, nil, errKeyRevoked
	}
	c := &client{ch: make(chan *event, buffer), keyHash: keyHash, kind: kind}
	h.clients[c] = struct{}{}
	return c, st, nil
}

// unsubscribe removes c if the hub has not dropped it already.
func (h *hub) unsubscribe(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
}

// close ends every stream and refuses new ones.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for c := range h.clients {
		h.drop(c)
	}
}

// pingFrame is the keep-alive comment.
var pingFrame = []byte(": ping\n\n")

// sseFrame encodes one SSE event. data must not contain newlines, which
// holds for compact JSON.
func sseFrame(name, id string, data []byte) []byte {
	b := make([]byte, 0, len(name)+len(id)+len(data)+32)
	b = append(b, "event: "...)
	b = append(b, name...)
	b = append(b, "\nid: "...)
	b = append(b, id...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}
