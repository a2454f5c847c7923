// Package redistest starts a real, throw-away redis-server for tests: its own
// temporary directory, a free loopback port and a unix socket, no
// persistence. StartCluster and StartSentinel start a Redis Cluster and a
// Sentinel-monitored master and replica the same way. Tests that need
// Redis are skipped, with a message saying why, only when redis-server is not
// installed.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 10 * time.Second

// Server is one redis-server process owned by a test. Stop and Restart
// simulate outages: Restart brings up an empty server on the same address.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	// conf, when set, is a config file given before the other arguments
	// (redis-server needs one to run as a sentinel); extra are appended.
	conf  string
	extra []string

	mu     sync.Mutex
	proc   *os.Process
	exited chan error // receives the process's exit once
}

// Start starts redis-server on a free 127.0.0.1 port and stops it when the
// test ends. It skips the test if redis-server is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: lookPath(t, "redis-server"), dir: t.TempDir()}
	if err := s.startFree(nil); err != nil {
		t.Fatalf("redistest: starting redis-server: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// lookPath finds an installed program or skips the test, saying why.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("redistest: %s is not installed (apt-get install redis-server redis-tools); skipping a test that needs a real Redis", name)
	}
	return bin
}

// startFree starts s on a free port, retrying with another port when the
// one found is taken before redis-server binds it. extra, if not nil, is
// called with the chosen port to set s.conf and s.extra.
func (s *Server) startFree(extra func(port int) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, err = freePort(); err != nil {
			continue
		}
		if extra != nil {
			if err = extra(s.port); err != nil {
				continue
			}
		}
		if err = s.start(); err == nil {
			return nil
		}
	}
	return err
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is a redis:// URL for the server.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Socket is the path of the server's unix socket (it listens on both).
func (s *Server) Socket() string { return filepath.Join(s.dir, "redis.sock") }

// Stop kills the server (SIGKILL, like a crash) and waits for it to exit.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.Kill()
	<-s.exited
	s.proc, s.exited = nil, nil
}

// Restart stops the server if it runs and starts an empty one on the same
// address.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		// The port may linger briefly after the kill; retry until it binds.
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restarting redis-server on %s: %v", s.Addr(), err)
}

// start launches the process and waits until it answers PING.
func (s *Server) start() error {
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "no",
		"--logfile", filepath.Join(s.dir, "redis.log"),
		"--unixsocket", s.Socket(),
		"--unixsocketperm", "700",
	)
	args = append(args, s.extra...)
	cmd := exec.Command(s.bin, args...)
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running %s: %w", s.bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server exited early (%v): %s", err, s.logTail())
		default:
		}
		if ping(s.Addr()) == nil {
			s.mu.Lock()
			s.proc, s.exited = cmd.Process, exited
			s.mu.Unlock()
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("redis-server on %s did not answer PING within %s: %s", s.Addr(), startTimeout, s.logTail())
}

// ping sends an inline PING and expects +PONG.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the end of the server's log for error messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return "(no log)"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}
