package bearer

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flagpole/flagpole/internal/store"
)

// Error codes of the {"error":{"code","message"}} body.
const (
	codeBadRequest       = "bad_request"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeNotFound         = "not_found"
	codeTooLarge         = "too_large"
	codeNotReady         = "not_ready"
	codeMethodNotAllowed = "method_not_allowed"
)

// Handler returns the bearer's HTTP API (docs/http-api.md).
//
// SSE streams over HTTP/1.x hijack their connection once the request is
// accepted, so that an idle stream holds no net/http buffers or goroutines;
// http.Server.Shutdown therefore does not wait for them: cancelling Run's
// context closes them. Streams set their own write deadlines, so the
// http.Server should set ReadHeaderTimeout and IdleTimeout but not
// WriteTimeout (which would cut HTTP/2 streams).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	allowed := map[string][]string{} // methods by path
	route := func(method, path string, h http.Handler) {
		mux.Handle(method+" "+path, h)
		if _, dup := allowed[path]; !dup {
			// Other methods on a known path get a JSON 405, not the 404 below.
			mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Allow", strings.Join(allowed[path], ", "))
				writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, r.Method+" is not allowed on "+path)
			}))
		}
		allowed[path] = append(allowed[path], method)
	}
	route("GET", "/v1/flags", s.plain(s.serveFlags))
	route("GET", "/v1/stream", http.HandlerFunc(s.serveStream))
	route("POST", "/v1/evaluate", cors(s.plain(s.serveEvaluate)))
	route("GET", "/v1/stream/evaluated", cors(http.HandlerFunc(s.serveEvaluatedStream)))
	route("POST", "/ofrep/v1/evaluate/flags/{key}", cors(s.plain(s.serveOFREPFlag)))
	route("POST", "/ofrep/v1/evaluate/flags", cors(s.plain(s.serveOFREPBulk)))
	for _, p := range []string{"/v1/evaluate", "/v1/stream/evaluated", "/ofrep/v1/evaluate/flags/{key}", "/ofrep/v1/evaluate/flags"} {
		route("OPTIONS", p, cors(http.HandlerFunc(preflight)))
	}
	route("GET", "/v1/status", s.plain(s.serveStatus))
	route("GET", "/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	}))
	route("GET", "/readyz", http.HandlerFunc(s.serveReady))
	route("GET", "/metrics", promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{}))
	if s.opts.Webhook != nil {
		route("POST", "/v1/hooks/git", http.MaxBytesHandler(s.opts.Webhook, s.opts.MaxBodyBytes))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "no such endpoint: "+r.URL.Path)
	})
	return mux
}

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

// apiError is the JSON error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError writes a JSON error.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"encoding the response failed"}}`)
	}
	writeBody(w, status, b)
}

// writeBody writes a JSON body that is already encoded.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// access is what an authenticated request may use.
type access struct {
	hub     *hub
	state   *envState
	kind    store.KeyKind
	keyHash [32]byte
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
		return nil, &authFailure{http.StatusServiceUnavailable, codeNotReady, "no rule set loaded yet"}
	}
	key := presentedKey(r, queryParam)
	if key == "" {
		return nil, &authFailure{http.StatusUnauthorized, codeUnauthorized, "missing SDK key: send Authorization: Bearer <key>"}
	}
	sum := sha256.Sum256([]byte(key))
	var found *access
	// Compare against every key of every environment, without stopping at
	// the first match, so that timing reveals nothing about the keys.
	for _, h := range hubs {
		st := h.cur.Load()
		for _, k := range st.keyList {
			if subtle.ConstantTimeCompare(sum[:], k.hash[:]) == 1 && found == nil {
				found = &access{hub: h, state: st, kind: k.kind, keyHash: sum}
			}
		}
	}
	if found == nil {
		return nil, &authFailure{http.StatusUnauthorized, codeUnauthorized, "unknown SDK key"}
	}
	for _, k := range kinds {
		if found.kind == k {
			return found, nil
		}
	}
	return nil, &authFailure{http.StatusForbidden, codeForbidden, "a " + string(found.kind) + " key cannot use " + r.URL.Path}
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
