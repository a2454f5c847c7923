package bearer

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// The OpenFeature Remote Evaluation Protocol
// (https://github.com/open-feature/protocol, service/openapi.yaml):
// evaluation successes are {key, value, reason, variant, metadata}; failures
// are {key, errorCode, errorDetails}; other errors {errorDetails}.

// ofrepError is an OFREP failure body.
type ofrepError struct {
	Key          string `json:"key,omitempty"`
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorDetails string `json:"errorDetails"`
}

// ofrepAuth authenticates an OFREP request, answering failures in OFREP's
// form.
func (s *Server) ofrepAuth(w http.ResponseWriter, r *http.Request) (*access, bool) {
	a, fail := s.authenticate(r, "", store.KeyClient, store.KeyServer)
	if fail != nil {
		httpx.WriteJSON(w, fail.status, ofrepError{ErrorCode: "GENERAL", ErrorDetails: fail.message})
		return nil, false
	}
	return a, true
}

// ofrepContext reads an OFREP request's context, mapping OpenFeature's
// targetingKey to our key attribute and ignoring structured attributes.
//
// OFREP answers every bad evaluation request with 400 and an error code; it
// has no 413, and the official providers treat any status it does not list
// as a malformed response, losing the error code. So a context or body over
// the limits is a 400 here (INVALID_CONTEXT or GENERAL), where /v1/evaluate
// says 413.
func (s *Server) ofrepContext(w http.ResponseWriter, r *http.Request, key string) (ruleset.Context, bool) {
	c, rerr := s.readContext(r, true)
	if rerr != nil {
		status := rerr.status
		if status == http.StatusRequestEntityTooLarge {
			status = http.StatusBadRequest
		}
		httpx.WriteJSON(w, status, ofrepError{Key: key, ErrorCode: rerr.ofrep, ErrorDetails: rerr.msg})
		return nil, false
	}
	if tk, ok := c["targetingKey"]; ok {
		if _, has := c["key"]; !has {
			c["key"] = tk
		}
		delete(c, "targetingKey")
	}
	return c, true
}

// serveOFREPFlag is POST /ofrep/v1/evaluate/flags/{key}.
func (s *Server) serveOFREPFlag(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	a, ok := s.ofrepAuth(w, r)
	if !ok {
		return
	}
	c, ok := s.ofrepContext(w, r, key)
	if !ok {
		return
	}
	f := a.state.flag(key)
	if f == nil || (a.kind == store.KeyClient && !f.client) {
		httpx.WriteJSON(w, http.StatusNotFound, ofrepError{Key: key, ErrorCode: "FLAG_NOT_FOUND", ErrorDetails: "flag " + key + " does not exist"})
		return
	}
	res := evaluate(a.state.rs, key, c)
	if res.Reason == ruleset.ReasonError {
		httpx.WriteJSON(w, http.StatusBadRequest, ofrepError{Key: key, ErrorCode: ofrepErrorCode(res.ErrorCode), ErrorDetails: "evaluating flag " + key + " failed"})
		return
	}
	bp := bufPool.Get().(*[]byte)
	b := appendOFREPResult((*bp)[:0], a.state, f, res)
	httpx.WriteEncoded(w, http.StatusOK, b)
	*bp = b
	bufPool.Put(bp)
}

// serveOFREPBulk is POST /ofrep/v1/evaluate/flags: every flag the key may
// see and the event stream that announces changes (ofrep_sse.go), with an
// ETag of the response so that If-None-Match gives 304.
func (s *Server) serveOFREPBulk(w http.ResponseWriter, r *http.Request) {
	a, ok := s.ofrepAuth(w, r)
	if !ok {
		return
	}
	c, ok := s.ofrepContext(w, r, "")
	if !ok {
		return
	}
	a = s.awaitAnnounced(r, a)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	b := append((*bp)[:0], `{"flags":[`...)
	first := true
	dl := s.requestDeadline(r)
	for f := range a.state.flags.all() {
		if a.kind == store.KeyClient && !f.client {
			continue
		}
		if dl.passed() {
			*bp = b
			httpx.WriteJSON(w, http.StatusInternalServerError, ofrepError{ErrorCode: "GENERAL", ErrorDetails: codeEvaluationTimeout + ": " + s.evaluationTimeout()})
			return
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		res := evaluate(a.state.rs, f.key, c)
		if res.Reason == ruleset.ReasonError {
			b = append(b, `{"key":`...)
			b = append(b, f.keyJSON...)
			b = append(b, `,"errorCode":"`...)
			b = append(b, ofrepErrorCode(res.ErrorCode)...)
			b = append(b, `","errorDetails":"evaluation failed"}`...)
			continue
		}
		b = appendOFREPResult(b, a.state, f, res)
	}
	b = append(s.appendEventStreams(append(b, ']'), a), '}')
	*bp = b
	sum := sha256.Sum256(b)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	httpx.WriteEncoded(w, http.StatusOK, b)
}

// appendOFREPResult appends {"key","value","variant","reason","metadata"};
// the metadata holds the flag's own and "version", the rule set's.
func appendOFREPResult(b []byte, st *envState, f *flagEnc, res ruleset.Result) []byte {
	b = append(b, `{"key":`...)
	b = append(b, f.keyJSON...)
	b = append(b, `,"value":`...)
	b = appendResult(b, f, res, false)
	b = append(b, `,"metadata":{`...)
	if len(f.meta) > 0 {
		b = append(b, f.meta...)
		b = append(b, ',')
	}
	b = append(b, `"version":`...)
	b = appendJSONString(b, st.version)
	return append(b, "}}"...)
}

// ofrepErrorCode maps an evaluation error to an OFREP error code.
func ofrepErrorCode(c ruleset.ErrorCode) string {
	switch c {
	case ruleset.ErrorFlagNotFound:
		return "FLAG_NOT_FOUND"
	case ruleset.ErrorParseError:
		return "PARSE_ERROR"
	}
	return "GENERAL"
}
