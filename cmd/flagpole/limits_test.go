package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// dialFrom opens a TCP connection to the daemon from the loopback address
// local (127.0.0.x: Linux routes all of 127/8 to lo).
func dialFrom(t *testing.T, d *daemon, local string) net.Conn {
	t.Helper()
	dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: eventually}
	c, err := dialer.Dial("tcp", strings.TrimPrefix(d.url, "http://"))
	if err != nil {
		t.Fatalf("dialing %s from %s: %v", d.url, local, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// keepAliveGet sends GET path on c, reads the answer and leaves c open. It
// returns the status, or an error when the connection was closed instead.
func keepAliveGet(c net.Conn, path string) (int, error) {
	_ = c.SetDeadline(time.Now().Add(eventually))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: flagpole\r\n\r\n"); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitClosed waits until the server closes c, failing after eventually.
func waitClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(eventually))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("%s: the server did not close the connection within %s (read: %v)", what, eventually, err)
	}
}

// Idle keep-alive connections used to stay open forever: enough of them,
// no key needed, exhausted the server's descriptors.
func TestIdleKeepAliveConnectionsClose(t *testing.T) {
	d := startDaemon(t, "serve", "--repo", exampleRepo(t), "--idle-timeout", "200ms")
	waitFor(t, "the example repository served", func() bool { return versionOf(t, d) != "" })
	conns := make([]net.Conn, 20)
	for i := range conns {
		conns[i] = dialFrom(t, d, "127.0.0.1")
		if code, err := keepAliveGet(conns[i], "/healthz"); err != nil || code != http.StatusOK {
			t.Fatalf("GET /healthz: %d, %v", code, err)
		}
	}
	for _, c := range conns {
		waitClosed(t, c, "idle keep-alive connection")
	}
}

// Connections beyond the per-address and overall caps are closed at once,
// others are still served, refusals are logged once per interval, and a
// place freed is taken again.
func TestConnectionCaps(t *testing.T) {
	d := startDaemon(t, "serve", "--repo", exampleRepo(t), "--max-conns-per-addr", "6", "--max-conns", "10")
	waitFor(t, "the example repository served", func() bool { return versionOf(t, d) != "" })
	http.DefaultClient.CloseIdleConnections()
	var held []net.Conn
	hold := func(local string) {
		t.Helper()
		waitFor(t, "a connection from "+local+" accepted", func() bool {
			c := dialFrom(t, d, local)
			if code, err := keepAliveGet(c, "/healthz"); err == nil && code == http.StatusOK {
				held = append(held, c)
				return true
			}
			c.Close()
			return false
		})
	}
	for range 6 {
		hold("127.0.0.1")
	}
	// Over the per-address cap: closed without an answer.
	for range 3 {
		c := dialFrom(t, d, "127.0.0.1")
		waitClosed(t, c, "7th connection from 127.0.0.1")
	}
	for range 4 {
		hold("127.0.0.2")
	}
	// Over the overall cap, from an address that has none.
	c := dialFrom(t, d, "127.0.0.3")
	waitClosed(t, c, "11th connection overall")
	// The held connections are still served.
	if code, err := keepAliveGet(held[0], "/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("held connection: GET /healthz: %d, %v", code, err)
	}
	held[0].Close()
	hold("127.0.0.3")
	if n := strings.Count(d.Logs(), "refused connections over the limits"); n != 1 {
		t.Errorf("refusals logged %d times, want once per interval:\n%s", n, d.Logs())
	}
}

// openCloseStream opens /v1/stream/evaluated with the client key on a new
// connection, reads until the first put, and closes the connection.
func openCloseStream(t *testing.T, d *daemon) {
	t.Helper()
	c := dialFrom(t, d, "127.0.0.1")
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(eventually))
	if _, err := io.WriteString(c, "GET /v1/stream/evaluated?key="+prodClientKey+" HTTP/1.1\r\nHost: flagpole\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	status, err := r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("GET /v1/stream/evaluated: %q, %v", status, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		if strings.HasPrefix(line, "event: put") {
			return
		}
	}
}

// openStreams returns the number of open SSE streams /v1/status reports.
func openStreams(t *testing.T, d *daemon) int {
	t.Helper()
	n := 0
	envs, _ := status(t, d)["environments"].(map[string]any)
	for _, e := range envs {
		if m, ok := e.(map[string]any); ok {
			c, _ := m["sse_clients"].(float64)
			n += int(c)
		}
	}
	return n
}

// A closed stream used to hold its connection and descriptor until the
// next ping (15 s): opening and closing streams with the public client key
// exhausted the descriptors. This is the bounded functional version; the
// 24,000-cycle measurement is BenchmarkStreamChurn in ./bearer.
func TestClosedStreamsReleasedAtOnce(t *testing.T) {
	d := startDaemon(t, "serve", "--repo", exampleRepo(t))
	waitFor(t, "the example repository served", func() bool { return versionOf(t, d) != "" })
	fdsBefore := openFDs(t, d)
	for i := range 500 {
		openCloseStream(t, d)
		if i%100 == 99 {
			// A ping could end leaked streams; checking along the way
			// makes the test fail on a bearer that only notices then.
			if n := openStreams(t, d); n > 50 {
				t.Fatalf("after %d streams opened and closed, %d are still open", i+1, n)
			}
		}
	}
	waitFor(t, "every closed stream released", func() bool { return openStreams(t, d) == 0 })
	waitFor(t, "descriptors back to their count before", func() bool { return openFDs(t, d) <= fdsBefore+10 })
}

// openFDs returns process_open_fds from the daemon's /metrics.
func openFDs(t *testing.T, d *daemon) int {
	t.Helper()
	_, _, b := get(t, d.url+"/metrics", "")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "process_open_fds "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return int(f)
			}
		}
	}
	t.Skip("process_open_fds is not reported on this platform")
	return 0
}
