package bearer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// Limits of POST /v1/metrics. A batch over either is refused whole.
const (
	// MaxMetricsEntries is the most entries one batch may hold (413 beyond).
	MaxMetricsEntries = 1000
	// MaxCallsPerEntry is the most calls one entry may count in each of
	// success, failure and slow (400 beyond): an SDK sends every second, so
	// more is a broken or hostile sender.
	MaxCallsPerEntry = 1_000_000
)

// maxIngestProblems is how many bad entries a 400 lists.
const maxIngestProblems = 10

// metricsBatch is the body of POST /v1/metrics. The numbers are kept raw
// so that a fraction, a string or an exponent is refused by entry rather
// than rounded or reported as a Go type.
type metricsBatch struct {
	Counts []metricsEntry `json:"counts"`
}

type metricsEntry struct {
	Flag    json.RawMessage `json:"flag"`
	Variant json.RawMessage `json:"variant"`
	Success json.RawMessage `json:"success"`
	Failure json.RawMessage `json:"failure"`
	Slow    json.RawMessage `json:"slow"`
}

// ingestResponse answers an accepted batch.
type ingestResponse struct {
	Entries int   `json:"entries"` // entries added
	Calls   int64 `json:"calls"`   // successes and failures added
}

// serveMetrics adds a batch of outcome counts from a server SDK into the
// store's bucket of the bearer's current time, with group commit
// (ingest_group.go).
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	a, fail := s.authenticate(r, "", store.KeyServer)
	if fail != nil {
		httpx.WriteError(w, fail.status, fail.code, fail.message)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rerr := s.bodyError(err)
		httpx.WriteError(w, rerr.status, rerr.code, rerr.msg)
		return
	}
	counts, n, calls, rerr := parseMetrics(body, a.state.doc)
	if rerr != nil {
		httpx.WriteError(w, rerr.status, rerr.code, rerr.msg)
		return
	}
	if len(counts) == 0 {
		httpx.WriteJSON(w, http.StatusOK, ingestResponse{Entries: n})
		return
	}
	if err := s.ingest.add(a.state.env, s.opts.Clock.Now(), counts); err != nil {
		s.log.Warn("adding outcome counts to the store", "environment", a.state.env, "error", err)
		httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeNotReady, "the store did not take the counts; send them again")
		return
	}
	httpx.WriteJSON(w, http.StatusOK, ingestResponse{Entries: n, Calls: calls})
}

// parseMetrics decodes and checks a batch against doc's flags and sums it
// by flag. It returns the number of entries and of calls, or a request
// error that lists the bad entries (the first maxIngestProblems).
func parseMetrics(body []byte, doc *ruleset.Document) (map[string]store.Counts, int, int64, *requestError) {
	var batch metricsBatch
	var ok bool
	if batch.Counts, ok = fastBatch(body); !ok {
		if rerr := decodeBatch(body, &batch); rerr != nil {
			return nil, 0, 0, rerr
		}
	}
	if len(batch.Counts) > MaxMetricsEntries {
		return nil, 0, 0, &requestError{http.StatusRequestEntityTooLarge, httpx.CodeTooLarge,
			fmt.Sprintf("counts has %d entries, more than the limit of %d per batch", len(batch.Counts), MaxMetricsEntries), ""}
	}
	var problems []string
	counts := make(map[string]store.Counts, len(batch.Counts))
	var calls int64
	for i, e := range batch.Counts {
		c, flag, p := checkEntry(e, doc)
		if p != "" {
			problems = append(problems, fmt.Sprintf("counts[%d].%s", i, p))
			continue
		}
		counts[flag] = counts[flag].Add(c)
		calls += c.Total()
	}
	if len(problems) > 0 {
		msg := strings.Join(problems[:min(len(problems), maxIngestProblems)], "; ")
		if len(problems) > maxIngestProblems {
			msg += fmt.Sprintf("; and %d more", len(problems)-maxIngestProblems)
		}
		return nil, 0, 0, badRequest("nothing added: " + msg)
	}
	return counts, len(batch.Counts), calls, nil
}

// decodeBatch decodes a body that fastBatch did not take.
func decodeBatch(body []byte, batch *metricsBatch) *requestError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(batch); err != nil {
		return badRequest(`request body must be a JSON object {"counts":[{"flag","variant","success","failure","slow"},...]}: ` + metricsJSONProblem(err))
	}
	if dec.More() {
		return badRequest("request body must hold one JSON object")
	}
	return nil
}

// checkEntry returns an entry's counts and flag, or what is wrong with it
// as "<field>: <problem>".
func checkEntry(e metricsEntry, doc *ruleset.Document) (store.Counts, string, string) {
	var c store.Counts
	if len(e.Flag) == 0 || string(e.Flag) == "null" {
		return c, "", "flag: required"
	}
	var f *ruleset.Flag
	if len(e.Flag) >= 2 && e.Flag[0] == '"' && bytes.IndexByte(e.Flag, '\\') < 0 {
		f = doc.Flags.Get(string(e.Flag[1 : len(e.Flag)-1])) // on the stack up to 32 bytes
	}
	if f == nil {
		flag, ok := jsonString(e.Flag)
		if !ok {
			return c, "", "flag: must be a string"
		}
		if f = doc.Flags.Get(flag); f == nil {
			return c, "", fmt.Sprintf("flag: unknown flag %q", flag)
		}
	}
	flag := f.Key
	if len(e.Variant) > 0 && string(e.Variant) != "null" {
		v, ok := jsonString(e.Variant)
		if !ok {
			return c, "", "variant: must be a string"
		}
		if !hasVariant(f, v) {
			return c, "", fmt.Sprintf("variant: flag %q has no variant %q", flag, v)
		}
	}
	for _, n := range []struct {
		name string
		raw  json.RawMessage
		dst  *int64
	}{{"success", e.Success, &c.Success}, {"failure", e.Failure, &c.Failure}, {"slow", e.Slow, &c.Slow}} {
		if len(n.raw) == 0 {
			continue // absent: zero
		}
		x, err := strconv.ParseInt(string(n.raw), 10, 64)
		switch {
		case err != nil:
			return c, "", fmt.Sprintf("%s: %s is not a whole number", n.name, truncate(string(n.raw), 32))
		case x < 0:
			return c, "", fmt.Sprintf("%s: %d is negative", n.name, x)
		case x > MaxCallsPerEntry:
			return c, "", fmt.Sprintf("%s: %d is more than the limit of %d per entry", n.name, x, MaxCallsPerEntry)
		}
		*n.dst = x
	}
	if c.Slow > c.Total() {
		return c, "", fmt.Sprintf("slow: %d is more than success + failure (%d): a slow call is also a success or a failure", c.Slow, c.Total())
	}
	return c, flag, ""
}

// jsonString decodes raw as a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

func hasVariant(f *ruleset.Flag, name string) bool {
	for _, v := range f.Variants {
		if v.Name == name {
			return true
		}
	}
	return false
}

// truncate cuts s to at most n bytes, for quoting input in messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// metricsJSONProblem is jsonProblem with the field of an unknown-field error.
func metricsJSONProblem(err error) string {
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown field " + f
	}
	return jsonProblem(err)
}

func badRequest(msg string) *requestError {
	return &requestError{http.StatusBadRequest, httpx.CodeBadRequest, msg, ""}
}
