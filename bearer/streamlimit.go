package bearer

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/flagpole/flagpole/internal/httpx"
)

// codeTooManyStreams is the error code of a stream refused over a limit.
const codeTooManyStreams = "too_many_streams"

// streamLimits counts open streams by SDK key and by remote IP address.
// Its zero value is ready to use.
type streamLimits struct {
	mu       sync.Mutex
	byKey    map[[32]byte]int
	byAddr   map[string]int
	refusals refusalLog
}

// admitStream reserves a place for one more stream of a's key from r's
// remote address and counts it in the hub's open streams. It returns the
// function that gives the place back (call it once, when the stream ends).
// Over a limit it answers 429 and reports false.
func (s *Server) admitStream(w http.ResponseWriter, r *http.Request, a *access, kind streamKind) (release func(), ok bool) {
	l := &s.streamLim
	addr := remoteIP(r.RemoteAddr)
	l.mu.Lock()
	if l.byKey == nil {
		l.byKey, l.byAddr = map[[32]byte]int{}, map[string]int{}
	}
	var msg string
	switch {
	case l.byKey[a.keyHash] >= s.opts.MaxStreamsPerKey:
		msg = fmt.Sprintf("this SDK key has %d open streams, the limit", s.opts.MaxStreamsPerKey)
	case l.byAddr[addr] >= s.opts.MaxStreamsPerAddr:
		msg = fmt.Sprintf("this address has %d open streams, the limit", s.opts.MaxStreamsPerAddr)
	default:
		l.byKey[a.keyHash]++
		l.byAddr[addr]++
	}
	l.mu.Unlock()
	if msg != "" {
		l.refusals.note(s.log, "refused streams over the limits", addr)
		w.Header().Set("Retry-After", "1")
		httpx.WriteError(w, http.StatusTooManyRequests, codeTooManyStreams, msg+"; close a stream first")
		return nil, false
	}
	a.hub.streams.Add(1)
	a.hub.kinds[kind].Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			a.hub.streams.Add(-1)
			a.hub.kinds[kind].Add(-1)
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.byKey[a.keyHash]--; l.byKey[a.keyHash] <= 0 {
				delete(l.byKey, a.keyHash)
			}
			if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
				delete(l.byAddr, addr)
			}
		})
	}, true
}

// streamKind tells the SSE streams apart in the presence record.
type streamKind int

// Kinds of SSE stream.
const (
	streamSDK       streamKind = iota // GET /v1/stream: the rule set
	streamEvaluated                   // GET /v1/stream/evaluated
	streamOFREP                       // OFREP event streams
	numStreamKinds
)

// peerGone returns a channel closed when the peer of a hijacked stream
// closes its connection, or sends anything (an SSE client sends nothing
// once its request is made). Without it a closed stream would hold its
// connection until the next write fails, up to a ping interval later.
// The goroutine ends when the connection is closed, whoever closes it.
func (cs *connSink) peerGone() <-chan struct{} {
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		_ = cs.c.SetReadDeadline(time.Time{})
		var b [1]byte
		_, _ = cs.c.Read(b[:])
	}()
	return gone
}
