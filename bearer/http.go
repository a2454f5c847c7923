package bearer

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/internal/keyring"
	"github.com/flagpole/flagpole/internal/surface"
	"github.com/flagpole/flagpole/store"
)

// Handler returns the bearer's HTTP surface (docs/http-api.md): the SDK API
// of API, GET /v1/status, /healthz, /readyz, /metrics, and POST
// /v1/hooks/git when Options.Webhook is set. A process that also runs a
// syncer mounts API, StatusHandler and ReadyHandler in its own surface
// instead.
//
// SSE streams over HTTP/1.x hijack their connection once the request is
// accepted, so that an idle stream holds no net/http buffers or goroutines;
// http.Server.Shutdown therefore does not wait for them: cancelling Run's
// context closes them. Streams set their own write deadline before every
// event, so the WriteTimeout of HTTPServer (RequestTimeout) bounds the
// other requests without cutting a stream.
func (s *Server) Handler() http.Handler {
	return surface.Handler(surface.Options{
		Bearer: s, Gatherer: s.opts.Gatherer, Webhook: s.opts.Webhook, MaxBodyBytes: s.opts.MaxBodyBytes,
	})
}

var _ surface.Bearer = (*Server)(nil)

// API returns the SDK endpoints alone: rule sets and their streams,
// evaluation, OFREP and, when Options.Metrics is set, the outcome counts
// of POST /v1/metrics. Other paths answer 404.
func (s *Server) API() http.Handler {
	m := httpx.NewMux()
	m.Handle("GET", "/v1/flags", s.plain(s.serveFlags))
	m.Handle("GET", "/v1/stream", http.HandlerFunc(s.serveStream))
	m.Handle("POST", "/v1/evaluate", cors(s.plain(s.serveEvaluate)))
	m.Handle("GET", "/v1/stream/evaluated", cors(http.HandlerFunc(s.serveEvaluatedStream)))
	m.Handle("POST", "/ofrep/v1/evaluate/flags/{key}", cors(s.plain(s.serveOFREPFlag)))
	m.Handle("POST", "/ofrep/v1/evaluate/flags", cors(s.plain(s.serveOFREPBulk)))
	m.Handle("GET", eventStreamPath, cors(http.HandlerFunc(s.serveOFREPEvents)))
	if s.opts.Metrics != nil {
		m.Handle("POST", "/v1/metrics", s.plain(s.serveMetrics))
	}
	for _, p := range []string{"/v1/evaluate", "/v1/stream/evaluated", "/ofrep/v1/evaluate/flags/{key}", "/ofrep/v1/evaluate/flags", eventStreamPath} {
		m.Handle("OPTIONS", p, cors(http.HandlerFunc(preflight)))
	}
	return m
}

// StatusHandler answers GET /v1/status with Status.
func (s *Server) StatusHandler() http.Handler { return s.plain(s.serveStatus) }

// ReadyHandler answers GET /readyz: 503 until a rule set is loaded.
func (s *Server) ReadyHandler() http.Handler { return http.HandlerFunc(s.serveReady) }

// plain wraps a non-streaming handler: body size limit, read and write
// deadlines, a context timeout, and request metrics. The body and the
// evaluation must be done within budget(RequestTimeout), which leaves
// time to write an error before the write deadline.
func (s *Server) plain(h func(http.ResponseWriter, *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		deadline := start.Add(budget(s.opts.RequestTimeout))
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(deadline) // not every ResponseWriter supports deadlines
		_ = rc.SetWriteDeadline(start.Add(s.opts.RequestTimeout))
		ctx, cancel := context.WithDeadline(r.Context(), deadline)
		defer cancel()
		r = r.WithContext(ctx)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		}
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(sw, r)
		route := r.Pattern
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		s.metrics.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// cors allows browsers on any origin to call h with an SDK key.
func cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Access-Control-Expose-Headers", "ETag")
		h.ServeHTTP(w, r)
	})
}

// preflight answers a CORS preflight request.
func preflight(w http.ResponseWriter, _ *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-None-Match, Last-Event-ID, X-API-Key")
	hd.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// access is what an authenticated request may use.
type access struct {
	hub     *hub
	state   *envState
	kind    store.KeyKind
	keyHash keyring.Hash
}

// authFailure says why a request was refused.
type authFailure struct {
	status  int
	code    string
	message string
}

// authenticate checks the request's key, which must be of one of the kinds
// given. The key is taken from "Authorization: Bearer <key>", or from
// X-API-Key (the OFREP alternative), or from the query parameter named by
// queryParam when it is not empty (for EventSource, which cannot send
// headers).
func (s *Server) authenticate(r *http.Request, queryParam string, kinds ...store.KeyKind) (*access, *authFailure) {
	hubs := *s.hubs.Load()
	if len(hubs) == 0 {
		return nil, &authFailure{http.StatusServiceUnavailable, httpx.CodeNotReady, "no rule set loaded yet"}
	}
	key := presentedKey(r, queryParam)
	if key == "" {
		return nil, &authFailure{http.StatusUnauthorized, httpx.CodeUnauthorized, "missing SDK key: send Authorization: Bearer <key>"}
	}
	sum := keyring.Sum(key)
	var found *access
	// Compare against every key of every environment, without stopping at
	// the first match, so that timing reveals nothing about the keys.
	for _, h := range hubs {
		st := h.cur.Load()
		if e, ok := st.keys.Match(sum); ok && found == nil {
			found = &access{hub: h, state: st, kind: e.Kind, keyHash: sum}
		}
	}
	if found == nil {
		return nil, &authFailure{http.StatusUnauthorized, httpx.CodeUnauthorized, "unknown SDK key"}
	}
	for _, k := range kinds {
		if found.kind == k {
			return found, nil
		}
	}
	return nil, &authFailure{http.StatusForbidden, httpx.CodeForbidden, "keys of kind " + string(found.kind) + " cannot use " + r.URL.Path}
}

// presentedKey returns the SDK key sent with r, or "".
func presentedKey(r *http.Request, queryParam string) string {
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, key, ok := strings.Cut(a, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(key)
		}
		return ""
	}
	if k := r.Header.Get("X-API-Key"); k != "" {
		return k
	}
	if queryParam != "" {
		return r.URL.Query().Get(queryParam)
	}
	return ""
}

// etagMatches reports whether an If-None-Match header value lists etag.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
