package bearer

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/internal/httpx"
)

// Error codes of requests that ran out of time.
const (
	codeRequestTimeout    = "request_timeout"
	codeEvaluationTimeout = "evaluation_timeout"
)

// budget is the part of RequestTimeout given to reading the body and
// evaluating; the rest (a fifth, at most 1 s) is kept to write an error
// before the write deadline passes, so that a slow body or an evaluation
// over budget gets an answer rather than a closed connection.
func budget(timeout time.Duration) time.Duration {
	return timeout - min(timeout/5, time.Second)
}

// deadline is when an evaluation must stop, read on a clock. It is
// checked before each flag: one flag may cost tens of milliseconds
// (ruleset.MaxFlagCost), so checking less often could overrun the margin.
type deadline struct {
	at    time.Time // zero: no deadline
	clock clockwork.Clock
}

// passed reports whether the deadline (when set) has passed.
func (d deadline) passed() bool {
	return !d.at.IsZero() && d.clock.Now().After(d.at)
}

// requestDeadline is the evaluation deadline of r, on the server's clock:
// the time left until the request's (real-time) deadline, from the
// server's now, so that a server clock set apart from the real one (a
// test's fake clock) keeps the whole budget.
func (s *Server) requestDeadline(r *http.Request) deadline {
	at, ok := r.Context().Deadline()
	if !ok {
		return deadline{clock: s.opts.Clock}
	}
	return deadline{at: s.opts.Clock.Now().Add(time.Until(at)), clock: s.opts.Clock}
}

// evaluationTimeout is the message of an evaluation over budget.
func (s *Server) evaluationTimeout() string {
	return fmt.Sprintf("evaluating the flags took longer than the limit of %s (request timeout less a margin to answer); ask for fewer flags or simplify their rules", budget(s.opts.RequestTimeout))
}

// bodyError describes an error reading a request body: 413 over the size
// limit, 408 when the body did not arrive in time, else 400.
func (s *Server) bodyError(err error) *requestError {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &requestError{http.StatusRequestEntityTooLarge, httpx.CodeTooLarge,
			fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit), "GENERAL"}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &requestError{http.StatusRequestTimeout, codeRequestTimeout,
			fmt.Sprintf("the request body did not arrive within %s", budget(s.opts.RequestTimeout)), "GENERAL"}
	}
	return &requestError{http.StatusBadRequest, httpx.CodeBadRequest, "reading request body: " + err.Error(), "GENERAL"}
}

// jsonProblem describes a JSON decoding error without naming Go types,
// which encoding/json's messages do ("cannot unmarshal string into Go
// value of type bearer.evalRequest").
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Sprintf("%s: a JSON %s is not allowed here", typeErr.Field, typeErr.Value)
	case errors.As(err, &typeErr):
		return fmt.Sprintf("a JSON %s is not allowed here", typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("invalid JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error())
	}
	return "invalid JSON"
}
