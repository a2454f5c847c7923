package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/internal/keyring"
)

// streamBuffer is how many events wait for a slow page before the
// dashboard drops its stream (the page reconnects and reloads).
const streamBuffer = 32

// codeTooManyStreams is the error code of a stream refused by a limit.
const codeTooManyStreams = "too_many_streams"

// event is one Server-Sent Event; env, when set, limits it to the pages
// that may see that environment.
type event struct {
	name string
	env  string
	data any
}

// client is one open event stream.
type client struct {
	p  *principal
	ch chan []byte
	// gone is closed when the hub drops the client.
	gone chan struct{}
	once sync.Once
}

func (c *client) drop() { c.once.Do(func() { close(c.gone) }) }

// hub fans events out to the open streams. It never blocks on a slow
// stream: one whose buffer is full is dropped.
type hub struct {
	max, perKey int

	mu      sync.Mutex
	clients map[*client]struct{}
	byKey   map[keyring.Hash]int
}

func newHub(max, perKey int) *hub {
	return &hub{max: max, perKey: perKey, clients: map[*client]struct{}{}, byKey: map[keyring.Hash]int{}}
}

// join adds a stream for p, or says which limit refused it.
func (h *hub) join(p *principal) (*client, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case len(h.clients) >= h.max:
		return nil, fmt.Sprintf("this server has %d dashboard streams open, its limit", h.max)
	case h.byKey[p.hash] >= h.perKey:
		return nil, fmt.Sprintf("this key has %d dashboard streams open, its limit: close another tab", h.perKey)
	}
	c := &client{p: p, ch: make(chan []byte, streamBuffer), gone: make(chan struct{})}
	h.clients[c] = struct{}{}
	h.byKey[p.hash]++
	return c, ""
}

// leave removes c.
func (h *hub) leave(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(c)
}

// removeLocked removes c and tells its stream to end; h.mu is held.
func (h *hub) removeLocked(c *client) {
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	if h.byKey[c.p.hash]--; h.byKey[c.p.hash] <= 0 {
		delete(h.byKey, c.p.hash)
	}
	c.drop()
}

// count is the number of open streams.
func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// frame encodes one SSE frame.
func frame(name string, data any) []byte {
	b, err := json.Marshal(data)
	if err != nil {
		b = []byte(`{}`)
	}
	return []byte("event: " + name + "\ndata: " + string(b) + "\n\n")
}

// send queues f for c, dropping c when its buffer is full; h.mu is held.
func (h *hub) send(c *client, f []byte) {
	select {
	case c.ch <- f:
	default:
		h.removeLocked(c)
	}
}

// publish sends e to every stream that may see it.
func (h *hub) publish(e event) {
	f := frame(e.name, e.data)
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if e.env == "" || c.p.may(e.env) {
			h.send(c, f)
		}
	}
}

// publishBreakers sends each stream the sample of the breakers it may see,
// encoding once per set of environments.
func (h *hub) publishBreakers(now time.Time, list []Breaker) {
	h.mu.Lock()
	defer h.mu.Unlock()
	frames := map[string][]byte{}
	for c := range h.clients {
		set := strings.Join(c.p.Envs, ",")
		f, ok := frames[set]
		if !ok {
			mine := make([]Breaker, 0, len(list))
			for _, b := range list {
				if c.p.may(b.Environment) {
					mine = append(mine, b)
				}
			}
			f = frame("breakers", map[string]any{"at": now.UnixMilli(), "breakers": mine})
			frames[set] = f
		}
		h.send(c, f)
	}
}

// recheck drops the streams whose key ok no longer accepts.
func (h *hub) recheck(ok func(*principal) bool) {
	h.mu.Lock()
	list := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		list = append(list, c)
	}
	h.mu.Unlock()
	checked := map[keyring.Hash]bool{}
	for _, c := range list {
		still, done := checked[c.p.hash]
		if !done {
			still = ok(c.p)
			checked[c.p.hash] = still
		}
		if !still {
			h.leave(c)
		}
	}
}

// closeAll drops every stream.
func (h *hub) closeAll() {
	h.mu.Lock()
	list := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		list = append(list, c)
	}
	h.mu.Unlock()
	for _, c := range list {
		h.leave(c)
	}
}

// serveEvents is GET /ui/api/events: a Server-Sent Events stream of
// "hello" (on connect), "change" (a rule set or override layer changed:
// reload what you show), "breakers" (every sample) and "sync" (the sync
// state changed), with a ": ping" comment every Ping.
func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request, p *principal) {
	c, refused := d.hub.join(p)
	if c == nil {
		httpx.WriteError(w, http.StatusTooManyRequests, codeTooManyStreams, refused)
		return
	}
	defer d.hub.leave(c)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(f []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(d.opts.WriteTimeout))
		if _, err := w.Write(f); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write(frame("hello", map[string]any{"streams": d.hub.count(), "interval_ms": d.opts.Interval.Milliseconds()})) {
		return
	}
	ping := time.NewTicker(d.opts.Ping)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.gone:
			// Dropped: too slow, key revoked or shutting down. The page
			// reconnects and reloads.
			return
		case f := <-c.ch:
			if !write(f) {
				return
			}
		case <-ping.C:
			if !write([]byte(": ping\n\n")) {
				return
			}
		}
	}
}
