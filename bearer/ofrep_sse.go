package bearer

import (
	"net/http"
	"time"

	"github.com/flagpole/flagpole/internal/httpx"
)

// OFREP change notifications over SSE (OpenFeature protocol, ADR 0008 and
// service/event-streams.yaml): the bulk evaluation advertises an event
// stream; the stream sends, for every change of the environment, the event
//
//	id: <rule set version>
//	event: message
//	data: {"type":"refetchEvaluation","etag":"<rule set version>"}
//
// and the provider then re-fetches the bulk evaluation (with If-None-Match,
// so an unchanged result costs a 304). The stream carries nothing else:
// no flag, no value, no rule, whatever the kind of key.

// eventStreamPath is the path of the OFREP event stream.
const eventStreamPath = "/v1/stream/ofrep"

// appendEventStreams appends the "eventStreams" member of a bulk evaluation
// response, with a leading comma: one SSE stream, given as a request URI so
// that the provider joins it to the origin it is configured with (the
// bearer need not know its public address behind a proxy).
func (s *Server) appendEventStreams(b []byte, a *access) []byte {
	exp := tokenExpiry(s.opts.Clock.Now(), s.opts.EventTokenWindow)
	b = append(b, `,"eventStreams":[{"type":"sse","endpoint":{"requestUri":"`...)
	b = append(b, eventStreamPath...)
	b = append(b, "?token="...)
	b = append(b, s.mintEventToken(a.hub.env, a.keyHash, exp)...) // base64url: nothing to escape
	return append(b, `"}}]`...)
}

// refetchFrame is the refetchEvaluation event for st.
func refetchFrame(st *envState) []byte {
	data := append([]byte(`{"type":"refetchEvaluation","etag":`), appendJSONString(nil, st.version)...)
	return sseFrame("message", st.version, append(data, '}'))
}

// serveOFREPEvents is GET /v1/stream/ofrep: refetchEvaluation events for
// one environment. On connect it sends one at once unless Last-Event-ID
// names the current version (a resumed stream that missed nothing), which
// also covers a change between the provider's bulk request and its
// connecting. Then it sends one for every event of the environment's hub
// but pings: a new rule set version, and every clock tick, when results
// may change with no new version (a schedule or ramp step, an override's
// expiry or recovery step, a date in a condition on "now").
func (s *Server) serveOFREPEvents(w http.ResponseWriter, r *http.Request) {
	a, fail := s.eventStreamAccess(r)
	if fail != nil {
		httpx.WriteError(w, fail.status, fail.code, fail.message)
		return
	}
	c, st, ok := s.subscribe(w, a)
	if !ok {
		return
	}
	s.stream(w, r, a, c, streamOFREP, func(out sink) error {
		if r.Header.Get("Last-Event-ID") == st.version {
			return nil // resumed at the version served: nothing missed
		}
		return out.write(refetchFrame(st))
	}, func(out sink, ev *event) bool {
		if ev.ping {
			return out.write(ev.frame) == nil
		}
		return out.write(refetchFrame(ev.state)) == nil
	})
}

// Bounds of the wait for an announced version (awaitAnnounced).
const (
	announcedWait  = 500 * time.Millisecond
	announcedCheck = 10 * time.Millisecond
	maxAnnounced   = 256 // longer flagConfigEtag values are ignored
)

// awaitAnnounced returns a's access to the rule set that a re-fetch
// triggered by the event stream asks for. The provider sends the version
// the event announced as flagConfigEtag; behind a load balancer the
// re-fetch may reach a bearer that has not loaded that version yet (all
// load it within milliseconds of one another), and answering at once would
// leave the provider on the old result until the next event. So when
// flagConfigEtag is not the version served, the request waits until it
// is, at most announcedWait (or the request's deadline), then answers with
// what the bearer serves: an older announcement (the bearer has moved on)
// costs that wait once.
func (s *Server) awaitAnnounced(r *http.Request, a *access) *access {
	want := r.URL.Query().Get("flagConfigEtag")
	if want == "" || len(want) > maxAnnounced || want == a.state.version {
		return a
	}
	s.announcedWaits.Add(1)
	deadline := time.NewTimer(announcedWait)
	defer deadline.Stop()
	tick := time.NewTicker(announcedCheck)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if st := a.hub.cur.Load(); st.version == want {
				if !st.keys.Allows(a.keyHash, a.kind) {
					return a // the key went with that version: answer from the one it was accepted by
				}
				b := *a
				b.state = st
				return &b
			}
		case <-deadline.C:
			return a
		case <-r.Context().Done():
			return a
		}
	}
}
