// Package httpx writes the JSON answers of every Flagpole HTTP endpoint: the
// error envelope {"error":{"code","message"}} that the bearer, the syncer's
// webhook and the status pages share, and plain JSON bodies. docs/http-api.md
// lists the codes.
package httpx

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Error codes of the envelope.
const (
	CodeBadRequest       = "bad_request"        // 400
	CodeUnauthorized     = "unauthorized"       // 401
	CodeForbidden        = "forbidden"          // 403
	CodeNotFound         = "not_found"          // 404
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeConflict         = "conflict"           // 409
	CodeTooLarge         = "too_large"          // 413
	CodeInternal         = "internal"           // 500
	CodeNotReady         = "not_ready"          // 503
	CodeNotLeader        = "not_leader"         // 503, a write sent to a standby syncer
)

// ErrorBody is the JSON error envelope. Clients (the Go SDK, the CLI)
// decode answers into it too.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of the envelope.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// internalError is what WriteJSON sends when v cannot be encoded.
var internalError = []byte(`{"error":{"code":"` + CodeInternal + `","message":"encoding the response failed"}}`)

// WriteError writes the envelope with the given status, code and message.
// The message is shown to callers: it must not hold secrets.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: message}})
}

// WriteJSON writes v as a JSON body with the given status, or a 500 error
// envelope when v cannot be encoded.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, internalError
	}
	WriteEncoded(w, status, b)
}

// WriteEncoded writes b, JSON already encoded, with the given status.
func WriteEncoded(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Mux routes requests by method and path, like http.ServeMux patterns
// "METHOD /path", and answers what it cannot route in the envelope: 405
// (with Allow) for another method on a known path, 404 for an unknown path
// unless a fallback handler takes it.
type Mux struct {
	mux      *http.ServeMux
	allowed  map[string][]string // methods by path
	fallback http.Handler
}

// NewMux returns a Mux with no routes.
func NewMux() *Mux {
	m := &Mux{mux: http.NewServeMux(), allowed: map[string][]string{}}
	m.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if m.fallback != nil {
			m.fallback.ServeHTTP(w, r)
			return
		}
		WriteError(w, http.StatusNotFound, CodeNotFound, "no such endpoint: "+r.URL.Path)
	})
	return m
}

// Handle routes method and path (a http.ServeMux path pattern) to h.
func (m *Mux) Handle(method, path string, h http.Handler) {
	m.mux.Handle(method+" "+path, h)
	if _, known := m.allowed[path]; !known {
		m.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(m.allowed[path], ", "))
			WriteError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" is not allowed on "+path)
		})
	}
	m.allowed[path] = append(m.allowed[path], method)
}

// Fallback makes h answer every path that no route names, instead of 404.
func (m *Mux) Fallback(h http.Handler) { m.fallback = h }

// ServeHTTP implements http.Handler.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }
