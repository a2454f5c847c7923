package sdk

import (
	"net"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"
)

// failoverProxy sends each request to the first of its bearers that
// accepts a TCP connection, like a load balancer with health checks, and
// records the Last-Event-ID of each stream request per bearer.
type failoverProxy struct {
	srv     *httptest.Server
	mu      sync.Mutex
	resumes map[string][]string // bearer address → Last-Event-ID values seen
}

func newFailoverProxy(t *testing.T, addrs ...string) *failoverProxy {
	p := &failoverProxy{resumes: map[string][]string{}}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		target := addrs[len(addrs)-1]
		for _, a := range addrs {
			if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
				conn.Close()
				target = a
				break
			}
		}
		if r.In.URL.Path == "/v1/stream" {
			p.mu.Lock()
			p.resumes[target] = append(p.resumes[target], r.In.Header.Get("Last-Event-ID"))
			p.mu.Unlock()
		}
		r.SetURL(&url.URL{Scheme: "http", Host: target})
	}}
	p.srv = httptest.NewServer(rp)
	t.Cleanup(func() {
		p.srv.CloseClientConnections()
		p.srv.Close()
	})
	return p
}

func (p *failoverProxy) streamsTo(addr string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.resumes[addr]...)
}

func TestFailoverBetweenBearers(t *testing.T) {
	f := newFleet(t)
	f.Publish(doc("v1", boolFlag("checkout-v2", false)))
	a, b := f.Start("127.0.0.1:0"), f.Start("127.0.0.1:0")
	p := newFailoverProxy(t, a.Addr, b.Addr)
	c, err := newClient(t, p.srv.URL, f.ServerKey, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	changes := collect(t, c)
	if got := p.streamsTo(a.Addr); len(got) != 1 {
		t.Fatalf("streams to bearer A: %q, want one", got)
	}

	a.Stop()
	waitFor(t, "a stream to bearer B", func() bool { return len(p.streamsTo(b.Addr)) > 0 })
	if got := p.streamsTo(b.Addr)[0]; got != "v1" {
		t.Errorf("resumed on B with Last-Event-ID %q, want v1", got)
	}
	waitFor(t, "READY on B", func() bool { return c.State() == StateReady })
	f.Publish(doc("v2", boolFlag("checkout-v2", true)))
	waitFor(t, "v2 from B", func() bool { return c.Version() == "v2" })
	if !c.Bool("checkout-v2", nil, false) {
		t.Error("v2 not served")
	}
	// B had nothing new at v1, so it sent no put: the only change is v2.
	waitFor(t, "the v2 change", func() bool { return len(changes()) > 0 })
	if got := changes(); len(got) != 1 || got[0].Version != "v2" {
		t.Errorf("changes %+v, want only v2", got)
	}
}
