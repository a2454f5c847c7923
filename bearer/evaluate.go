package bearer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// requestError is a request problem with its HTTP status.
type requestError struct {
	status int
	code   string
	msg    string
	ofrep  string // the OFREP error code
}

func (e *requestError) Error() string { return e.msg }

// evalRequest is the body of POST /v1/evaluate and of the OFREP endpoints.
type evalRequest struct {
	Context json.RawMessage `json:"context"`
}

// readContext reads a {"context":{...}} body and decodes its context. With
// lenient, attributes whose values are objects or arrays are ignored rather
// than refused (OpenFeature contexts may hold structures, which no flag
// condition can test).
func (s *Server) readContext(r *http.Request, lenient bool) (ruleset.Context, *requestError) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, s.bodyError(err)
	}
	var req evalRequest
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, &requestError{http.StatusBadRequest, httpx.CodeBadRequest, "request body must be a JSON object {\"context\":{...}}: " + jsonProblem(err), "PARSE_ERROR"}
		}
	}
	if lenient && len(req.Context) > 0 && len(req.Context) <= s.opts.MaxContextBytes {
		req.Context = scalarsOnly(req.Context)
	}
	return s.decodeContext(req.Context)
}

// scalarsOnly returns the JSON object raw without its object and array
// attributes, keeping the others in order, duplicates included, for
// decodeContext to check; anything that is not an object is returned
// unchanged for decodeContext to refuse.
func scalarsOnly(raw json.RawMessage) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return raw
	}
	out := []byte{'{'}
	changed := false
	for dec.More() {
		name, err := dec.Token()
		var v json.RawMessage
		if err != nil || dec.Decode(&v) != nil {
			return raw
		}
		if len(v) > 0 && (v[0] == '{' || v[0] == '[') {
			changed = true
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = appendJSONString(out, name.(string))
		out = append(out, ':')
		out = append(out, v...)
	}
	if !changed {
		return raw
	}
	return append(out, '}')
}

// decodeContext checks the size of a context's JSON and decodes it; an
// absent or null context is an empty one.
func (s *Server) decodeContext(raw []byte) (ruleset.Context, *requestError) {
	if len(raw) > s.opts.MaxContextBytes {
		return nil, &requestError{http.StatusRequestEntityTooLarge, httpx.CodeTooLarge,
			fmt.Sprintf("context is %d bytes, larger than the limit of %d", len(raw), s.opts.MaxContextBytes), "INVALID_CONTEXT"}
	}
	if len(raw) == 0 || string(raw) == "null" {
		return ruleset.Context{}, nil
	}
	c, err := parseContext(raw)
	if errors.Is(err, ruleset.ErrContextTooLarge) {
		return nil, &requestError{http.StatusRequestEntityTooLarge, httpx.CodeTooLarge, "invalid context: " + err.Error(), "INVALID_CONTEXT"}
	}
	if err != nil {
		return nil, &requestError{http.StatusBadRequest, httpx.CodeBadRequest, "invalid context: " + err.Error(), "INVALID_CONTEXT"}
	}
	// The evaluation time is the bearer's: a caller-supplied "now" would let
	// anyone step past an override's expiry or recovery ramp (a kill switch)
	// or a date-gated rule. SDKs that evaluate locally keep that power.
	delete(c, "now")
	return c, nil
}

// bufPool holds response buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// appendEvaluation appends the /v1/evaluate response for c to b:
// {"version":"...","flags":{"<key>":{"value":...,"variant":"...","reason":"..."}}}.
// With clientOnly only client flags are included. When fp is not nil it
// receives a fingerprint of the flags' keys, values and variants, which
// changes when (barring hash collisions) only when one of them changes.
// It reports false, with a partial b, when deadline (if not zero) passes
// before every flag is evaluated.
func appendEvaluation(b []byte, st *envState, c ruleset.Context, clientOnly bool, fp *uint64, dl deadline) ([]byte, bool) {
	h := uint64(fnvOffset)
	b = append(b, `{"version":`...)
	b = appendJSONString(b, st.version)
	b = append(b, `,"flags":{`...)
	first := true
	for f := range st.flags.all() {
		if clientOnly && !f.client {
			continue
		}
		if dl.passed() {
			return b, false
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, f.keyJSON...)
		b = append(b, `:{"value":`...)
		start := len(b)
		b = appendResult(b, f, evaluate(st.rs, f.key, c), true)
		if fp != nil {
			h = fnvAdd(fnvAdd(h, f.keyJSON), valueAndVariant(b[start:]))
		}
		b = append(b, '}')
	}
	if fp != nil {
		*fp = h
	}
	return append(b, "}}"...), true
}

// valueAndVariant cuts the reason and error code off an appended result.
func valueAndVariant(res []byte) []byte {
	if i := bytes.LastIndex(res, []byte(`,"reason":`)); i >= 0 {
		return res[:i]
	}
	return res
}

// FNV-1a, 64 bits.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvAdd(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// appendResult appends `<value>,"variant":"..."`, with meta the flag's
// `,"metadata":{...}` when it has metadata, then `,"reason":"..."` and, on
// error, `,"errorCode":"..."`. A result without a known variant has a null
// value and no variant. The metadata comes before the reason so that
// evaluated streams (see valueAndVariant) re-send a changed one.
func appendResult(b []byte, f *flagEnc, r ruleset.Result, meta bool) []byte {
	if v, ok := f.variants[r.Variant]; ok {
		b = append(b, v...)
	} else {
		b = append(b, "null"...)
	}
	if meta && len(f.meta) > 0 {
		b = append(b, `,"metadata":{`...)
		b = append(b, f.meta...)
		b = append(b, '}')
	}
	b = append(b, `,"reason":"`...)
	b = append(b, r.Reason.String()...)
	b = append(b, '"')
	if r.ErrorCode != ruleset.ErrorNone {
		b = append(b, `,"errorCode":"`...)
		b = append(b, r.ErrorCode.String()...)
		b = append(b, '"')
	}
	return b
}

// serveEvaluate is POST /v1/evaluate.
func (s *Server) serveEvaluate(w http.ResponseWriter, r *http.Request) {
	a, fail := s.authenticate(r, "", store.KeyClient, store.KeyServer)
	if fail != nil {
		httpx.WriteError(w, fail.status, fail.code, fail.message)
		return
	}
	c, rerr := s.readContext(r, false)
	if rerr != nil {
		httpx.WriteError(w, rerr.status, rerr.code, rerr.msg)
		return
	}
	bp := bufPool.Get().(*[]byte)
	b, ok := appendEvaluation((*bp)[:0], a.state, c, a.kind == store.KeyClient, nil, s.requestDeadline(r))
	if ok {
		httpx.WriteEncoded(w, http.StatusOK, b)
	} else {
		httpx.WriteError(w, http.StatusServiceUnavailable, codeEvaluationTimeout, s.evaluationTimeout())
	}
	*bp = b
	bufPool.Put(bp)
}
