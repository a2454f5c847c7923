package sdk

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// lossyProxy stands between the client and a real bearer and loses the
// first n `patch` events of GET /v1/stream on the way, like a broken
// intermediary would: the client then holds a version the next patch does
// not apply to. It counts GET /v1/flags requests.
type lossyProxy struct {
	srv      *httptest.Server
	upstream string
	toDrop   atomic.Int32
	nDropped atomic.Int32
	nFetches atomic.Int32
}

func newLossyProxy(t *testing.T, upstream string, drop int32) *lossyProxy {
	p := &lossyProxy{upstream: upstream}
	p.toDrop.Store(drop)
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		p.srv.CloseClientConnections()
		p.srv.Close()
	})
	return p
}

func (p *lossyProxy) url() string    { return p.srv.URL }
func (p *lossyProxy) dropped() int32 { return p.nDropped.Load() }
func (p *lossyProxy) fetches() int32 { return p.nFetches.Load() }

func (p *lossyProxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/flags" {
		p.nFetches.Add(1)
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.upstream+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		_, _ = io.Copy(w, resp.Body)
		return
	}
	p.relayEvents(w, resp.Body)
}

// relayEvents copies the stream frame by frame (a frame ends with a blank
// line), leaving out the patches it is told to lose.
func (p *lossyProxy) relayEvents(w http.ResponseWriter, body io.Reader) {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	rd := bufio.NewReader(body)
	var frame bytes.Buffer
	for {
		line, err := rd.ReadBytes('\n')
		if err != nil {
			return
		}
		frame.Write(line)
		if len(bytes.TrimRight(line, "\r\n")) > 0 {
			continue
		}
		if bytes.HasPrefix(frame.Bytes(), []byte("event: patch")) && p.toDrop.Add(-1) >= 0 {
			p.nDropped.Add(1)
		} else if _, err := w.Write(frame.Bytes()); err != nil || rc.Flush() != nil {
			return
		}
		frame.Reset()
	}
}
