// Package httpx writes the JSON answers of every Flagpole HTTP endpoint: the
// error envelope {"error":{"code","message"}} that the bearer, the syncer's
// webhook and the status pages share, and plain JSON bodies. docs/http-api.md
// lists the codes.
package httpx

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error codes of the envelope.
const (
	CodeBadRequest       = "bad_request"        // 400
	CodeUnauthorized     = "unauthorized"       // 401
	CodeForbidden        = "forbidden"          // 403
	CodeNotFound         = "not_found"          // 404
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeTooLarge         = "too_large"          // 413
	CodeInternal         = "internal"           // 500
	CodeNotReady         = "not_ready"          // 503
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
