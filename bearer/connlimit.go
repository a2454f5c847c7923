package bearer

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// refusalLogInterval is how often refused connections and streams are
// logged: once per interval with a count, never once per connection, so
// that an attack does not also flood the logs.
const refusalLogInterval = 10 * time.Second

// HTTPServer returns an http.Server for Handler with timeouts that fit the
// API: ReadHeaderTimeout and WriteTimeout of RequestTimeout (streams set
// their own write deadlines, and hijack their connection over HTTP/1.x,
// so neither ends them) and IdleTimeout. Serve it on Listener(ln) so that
// connections are capped too.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.opts.RequestTimeout,
		WriteTimeout:      s.opts.RequestTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
	}
}

// Listener wraps ln so that it holds at most MaxConns connections, and at
// most MaxConnsPerAddr from one remote IP address. A connection over a
// limit is closed as soon as it is accepted; refusals are counted in a
// metric and logged once per interval.
func (s *Server) Listener(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, total: s.opts.MaxConns, perAddr: s.opts.MaxConnsPerAddr,
		byAddr: map[string]int{}, log: s.log}
}

// limitListener is the listener returned by Server.Listener.
type limitListener struct {
	net.Listener
	total, perAddr int
	log            *slog.Logger
	refusals       refusalLog

	mu     sync.Mutex
	n      int
	byAddr map[string]int
}

// Accept returns the next connection within the limits, closing those
// over them.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := remoteIP(c.RemoteAddr().String())
		if l.admit(addr) {
			return &limitConn{Conn: c, l: l, addr: addr}, nil
		}
		_ = c.Close()
		l.refusals.note(l.log, "refused connections over the limits", addr)
	}
}

func (l *limitListener) admit(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n >= l.total || l.byAddr[addr] >= l.perAddr {
		return false
	}
	l.n++
	l.byAddr[addr]++
	return true
}

func (l *limitListener) release(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
		delete(l.byAddr, addr)
	}
}

// limitConn gives its place back when closed (also after a hijack: the
// stream closes the same net.Conn).
type limitConn struct {
	net.Conn
	l    *limitListener
	addr string
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.addr) })
	return err
}

// remoteIP returns the IP address of a host:port remote address, or the
// whole string when it has no port.
func remoteIP(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// refusalLog counts refusals and logs them at most once per
// refusalLogInterval.
type refusalLog struct {
	count atomic.Int64
	next  atomic.Int64 // unix nanoseconds of the next allowed log line
}

// note records one refusal of addr and logs msg with the count when the
// interval has passed.
func (r *refusalLog) note(log *slog.Logger, msg, addr string) {
	r.count.Add(1)
	now := time.Now().UnixNano()
	next := r.next.Load()
	if now < next || !r.next.CompareAndSwap(next, now+int64(refusalLogInterval)) {
		return
	}
	log.Warn(msg, "refused", r.count.Swap(0), "last_addr", addr, "interval", refusalLogInterval)
}
