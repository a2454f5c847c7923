package bearer

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// sink is where a stream's frames go.
type sink interface {
	// write writes one frame, within the write timeout.
	write(frame []byte) error
	// close ends the stream.
	close()
}

// connSink writes frames straight to a hijacked HTTP/1.x connection. Once
// the handler has returned, net/http releases the connection's buffers and
// goroutines, so an idle stream costs little more than its own goroutine:
// this is what lets one bearer hold tens of thousands of streams.
type connSink struct {
	c       net.Conn
	timeout time.Duration
	m       *metrics
}

func (cs *connSink) write(frame []byte) error {
	_ = cs.c.SetWriteDeadline(time.Now().Add(cs.timeout))
	if _, err := cs.c.Write(frame); err != nil {
		return err
	}
	cs.m.eventsSent.Inc()
	return nil
}

func (cs *connSink) close() { _ = cs.c.Close() }

// responseSink writes frames through the ResponseWriter, for connections
// that cannot be hijacked (HTTP/2).
type responseSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	m       *metrics
}

func (rs *responseSink) write(frame []byte) error {
	_ = rs.rc.SetWriteDeadline(time.Now().Add(rs.timeout))
	if _, err := rs.w.Write(frame); err != nil {
		return err
	}
	if err := rs.rc.Flush(); err != nil {
		return err
	}
	rs.m.eventsSent.Inc()
	return nil
}

func (rs *responseSink) close() {}

// startSSE answers the request with an SSE response and returns where the
// stream's frames go (a HEAD request gets the headers and errHeadOnly).
// hijacked says whether the stream must go on in a
// goroutine of its own after the handler returns (the connection is then
// the sink's to close); otherwise it must go on within the handler.
func (s *Server) startSSE(w http.ResponseWriter, r *http.Request) (out sink, hijacked bool, err error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	rc := http.NewResponseController(w)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil, false, errHeadOnly
	}
	if conn, _, err := rc.Hijack(); err == nil {
		h.Set("Connection", "close")
		cs := &connSink{c: conn, timeout: s.opts.WriteTimeout, m: s.metrics}
		var head bytes.Buffer
		head.WriteString("HTTP/1.1 200 OK\r\n")
		_ = h.Write(&head)
		head.WriteString("\r\n")
		_ = conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		if _, err := conn.Write(head.Bytes()); err != nil {
			conn.Close()
			return nil, true, err
		}
		return cs, true, nil
	}
	w.WriteHeader(http.StatusOK)
	_ = rc.SetReadDeadline(time.Time{}) // a server-wide read timeout must not end the stream
	rs := &responseSink{w: w, rc: rc, timeout: s.opts.WriteTimeout, m: s.metrics}
	_ = rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	return rs, false, rc.Flush()
}

// follow runs a stream: it hands every event of c to handle until the hub
// drops c, handle fails, or done closes; then it unsubscribes and releases
// the stream's place (admitStream). It holds
// the hub, not the state the stream started from, so that old rule sets
// can be collected.
func follow(h *hub, c *client, out sink, done <-chan struct{}, release func(), handle func(*event) bool) {
	defer release()
	defer out.close()
	defer h.unsubscribe(c)
	for {
		select {
		case <-done:
			return
		case ev, open := <-c.ch:
			if !open || !handle(ev) {
				return
			}
		}
	}
}

// run starts follow in its own goroutine for a hijacked stream, which ends
// as soon as the peer closes the connection, or runs it in the handler
// (until the request ends) otherwise.
func run(r *http.Request, hijacked bool, h *hub, c *client, out sink, release func(), handle func(*event) bool) {
	if cs, ok := out.(*connSink); hijacked && ok {
		go follow(h, c, out, cs.peerGone(), release, handle)
		return
	}
	follow(h, c, out, r.Context().Done(), release, handle)
}

// openStream authenticates and subscribes a stream; on failure it has
// answered the request.
func (s *Server) openStream(w http.ResponseWriter, r *http.Request, queryParam string, kinds ...store.KeyKind) (*access, *client, *envState, bool) {
	a, fail := s.authenticate(r, queryParam, kinds...)
	if fail != nil {
		httpx.WriteError(w, fail.status, fail.code, fail.message)
		return nil, nil, nil, false
	}
	c, st, ok := s.subscribe(w, a)
	return a, c, st, ok
}

// subscribe subscribes a stream for an authenticated request; on failure
// it has answered the request.
func (s *Server) subscribe(w http.ResponseWriter, a *access) (*client, *envState, bool) {
	c, st, err := a.hub.subscribe(a.keyHash, a.kind, s.opts.ClientBuffer)
	switch err {
	case nil:
		return c, st, true
	case errKeyRevoked:
		httpx.WriteError(w, http.StatusUnauthorized, httpx.CodeUnauthorized, "unknown SDK key")
	default:
		httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeNotReady, err.Error())
	}
	return nil, nil, false
}

// serveStream is GET /v1/stream: the rule set as a put, then patches.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	a, c, st, ok := s.openStream(w, r, "", store.KeyServer)
	if !ok {
		return
	}
	s.stream(w, r, a, c, streamSDK, func(out sink) error {
		if r.Header.Get("Last-Event-ID") == st.version {
			return nil // resumed at the version served: nothing missed
		}
		frame, err := st.putFrame()
		if err != nil {
			return err
		}
		return out.write(frame)
	}, func(out sink, ev *event) bool {
		// The rule set streamed is the same after a clock tick: SDKs
		// compute schedules and ramps from their own clocks.
		return ev.tick || out.write(ev.frame) == nil
	})
}

// stream admits one more stream of kind for a's key, starts the SSE
// response, sends what first writes, then runs the stream with handle
// until it ends. A step that fails undoes the ones before it: the place
// taken, the subscription c, the response started.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, a *access, c *client, kind streamKind,
	first func(out sink) error, handle func(out sink, ev *event) bool) {
	release, ok := s.admitStream(w, r, a, kind)
	if !ok {
		a.hub.unsubscribe(c)
		return
	}
	out, hijacked, err := s.startSSE(w, r)
	if err == nil {
		err = first(out)
	}
	if err != nil {
		release()
		a.hub.unsubscribe(c)
		if out != nil {
			out.close()
		}
		return
	}
	run(r, hijacked, a.hub, c, out, release, func(ev *event) bool { return handle(out, ev) })
}

// serveEvaluatedStream is GET /v1/stream/evaluated: the evaluated flags of
// one context as a put on connect, and again whenever they change.
func (s *Server) serveEvaluatedStream(w http.ResponseWriter, r *http.Request) {
	ctx, rerr := s.queryContext(r)
	if rerr != nil {
		// Authenticate first so that the status tells key problems apart.
		if _, fail := s.authenticate(r, "key", store.KeyClient, store.KeyServer); fail != nil {
			httpx.WriteError(w, fail.status, fail.code, fail.message)
			return
		}
		httpx.WriteError(w, rerr.status, rerr.code, rerr.msg)
		return
	}
	a, c, st, ok := s.openStream(w, r, "key", store.KeyClient, store.KeyServer)
	if !ok {
		return
	}
	e := &evaluatedStream{ctx: ctx, clientOnly: a.kind == store.KeyClient, evals: &s.streamEvals}
	s.stream(w, r, a, c, streamEvaluated, func(out sink) error {
		e.out = out
		if !e.put(st) {
			return errWriteFailed
		}
		return nil
	}, func(_ sink, ev *event) bool { return e.handle(ev) })
}

// Reasons a stream ends at once.
var (
	errWriteFailed = errors.New("writing to the stream failed")
	errHeadOnly    = errors.New("HEAD request: headers only")
)

// evaluatedStream is the state of one evaluated stream.
type evaluatedStream struct {
	out        sink
	ctx        ruleset.Context
	clientOnly bool
	sent       bool
	last       uint64        // fingerprint of the values and variants last sent
	evals      *atomic.Int64 // counts evaluations, for tests
}

// put sends the evaluation for st unless its values and variants are those
// last sent; it reports false when the write failed.
func (e *evaluatedStream) put(st *envState) bool {
	var fp uint64
	e.evals.Add(1)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	data, _ := appendEvaluation((*bp)[:0], st, e.ctx, e.clientOnly, &fp, deadline{})
	*bp = data
	if e.sent && fp == e.last {
		return true
	}
	e.last, e.sent = fp, true
	return e.out.write(sseFrame("put", st.version, data)) == nil
}

// handle re-evaluates on every change and at every clock tick (a schedule
// step, a ramp step, an override's expiry, ... changes results without a
// new version), and sends the results only when they changed. Pings are
// passed on as they are: results cannot change between ticks.
func (e *evaluatedStream) handle(ev *event) bool {
	if ev.ping {
		return e.out.write(ev.frame) == nil
	}
	return e.put(ev.state)
}

// queryContext decodes the context query parameter: base64url (padding
// optional) of the context's JSON object. An absent parameter is an empty
// context.
func (s *Server) queryContext(r *http.Request) (ruleset.Context, *requestError) {
	q := r.URL.Query().Get("context")
	if q == "" {
		return ruleset.Context{}, nil
	}
	if base64.RawURLEncoding.DecodedLen(len(q)) > s.opts.MaxContextBytes+3 {
		return nil, &requestError{http.StatusRequestEntityTooLarge, httpx.CodeTooLarge,
			"context query parameter is larger than the limit", "INVALID_CONTEXT"}
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(q, "="))
	if err != nil {
		return nil, &requestError{http.StatusBadRequest, httpx.CodeBadRequest,
			"context query parameter must be base64url-encoded JSON: " + err.Error(), "PARSE_ERROR"}
	}
	return s.decodeContext(raw)
}
