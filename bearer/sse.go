package bearer

import (
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/flagpole/flagpole/internal/store"
	"github.com/flagpole/flagpole/ruleset"
)

// sseWriter writes SSE frames to one client, each within the write timeout.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	m       *metrics
}

// start sends the SSE response headers.
func (s *Server) startSSE(w http.ResponseWriter) (*sseWriter, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, rc: http.NewResponseController(w), timeout: s.opts.WriteTimeout, m: s.metrics}
	_ = sw.rc.SetReadDeadline(time.Time{}) // a server-wide read timeout must not end the stream
	return sw, sw.flush()
}

// write writes one frame and flushes it.
func (sw *sseWriter) write(frame []byte) error {
	_ = sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout))
	if _, err := sw.w.Write(frame); err != nil {
		return err
	}
	if err := sw.flush(); err != nil {
		return err
	}
	sw.m.eventsSent.Inc()
	return nil
}

func (sw *sseWriter) flush() error {
	_ = sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout))
	return sw.rc.Flush()
}

// openStream authenticates and subscribes a stream; on failure it has
// answered the request.
func (s *Server) openStream(w http.ResponseWriter, r *http.Request, queryParam string, kinds ...store.KeyKind) (*access, *client, *envState, bool) {
	a, fail := s.authenticate(r, queryParam, kinds...)
	if fail != nil {
		writeError(w, fail.status, fail.code, fail.message)
		return nil, nil, nil, false
	}
	c, st, err := a.hub.subscribe(a.keyHash, a.kind, s.opts.ClientBuffer)
	switch err {
	case nil:
		return a, c, st, true
	case errKeyRevoked:
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "unknown SDK key")
	default:
		writeError(w, http.StatusServiceUnavailable, codeNotReady, err.Error())
	}
	return nil, nil, nil, false
}

// serveStream is GET /v1/stream: the rule set as a put, then patches.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	a, c, st, ok := s.openStream(w, r, "", store.KeyServer)
	if !ok {
		return
	}
	a.hub.streams.Add(1)
	defer a.hub.streams.Add(-1)
	defer a.hub.unsubscribe(c)
	sw, err := s.startSSE(w)
	if err != nil {
		return
	}
	if r.Header.Get("Last-Event-ID") != st.version {
		if sw.write(st.putFrame) != nil {
			return
		}
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, open := <-c.ch:
			if !open || sw.write(ev.frame) != nil {
				return
			}
		}
	}
}

// serveEvaluatedStream is GET /v1/stream/evaluated: the evaluated flags of
// one context as a put on connect, and again whenever they change.
func (s *Server) serveEvaluatedStream(w http.ResponseWriter, r *http.Request) {
	ctx, rerr := s.queryContext(r)
	if rerr != nil {
		// Authenticate first so that the status tells key problems apart.
		if _, fail := s.authenticate(r, "key", store.KeyClient, store.KeyServer); fail != nil {
			writeError(w, fail.status, fail.code, fail.message)
			return
		}
		writeError(w, rerr.status, rerr.code, rerr.msg)
		return
	}
	a, c, st, ok := s.openStream(w, r, "key", store.KeyClient, store.KeyServer)
	if !ok {
		return
	}
	a.hub.streams.Add(1)
	defer a.hub.streams.Add(-1)
	defer a.hub.unsubscribe(c)
	sw, err := s.startSSE(w)
	if err != nil {
		return
	}
	clientOnly := a.kind == store.KeyClient
	var last uint64
	sent := false
	put := func(st *envState) bool {
		var fp uint64
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		data := appendEvaluation((*bp)[:0], st, ctx, clientOnly, &fp)
		*bp = data
		if sent && fp == last {
			return true
		}
		last, sent = fp, true
		return sw.write(sseFrame("put", st.version, data)) == nil
	}
	if !put(st) {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, open := <-c.ch:
			if !open || !put(ev.state) {
				return
			}
			if ev.ping && sw.write(ev.frame) != nil {
				return
			}
		}
	}
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
		return nil, &requestError{http.StatusRequestEntityTooLarge, codeTooLarge,
			"context query parameter is larger than the limit", "INVALID_CONTEXT"}
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(q, "="))
	if err != nil {
		return nil, &requestError{http.StatusBadRequest, codeBadRequest,
			"context query parameter must be base64url-encoded JSON: " + err.Error(), "PARSE_ERROR"}
	}
	return s.decodeContext(raw)
}
