package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// startTimeout bounds how long a child process may take to start listening.
const startTimeout = 30 * time.Second

// stopTimeout is how long a child gets after SIGTERM before SIGKILL.
const stopTimeout = 10 * time.Second

// proc is a child process (flagpole or redis-server) whose stderr and
// stdout are kept, so that a failure can show what it logged.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string // host:port it listens on, once known
	done chan struct{}
	tmp  string // a directory of its own, removed when it stops

	mu   sync.Mutex
	logs []string // last lines logged
}

// maxLogLines is how many log lines of a child are kept for error reports.
const maxLogLines = 200

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startFlagpole runs the flagpole binary with args plus
// --listen 127.0.0.1:0 and waits until it logs the address it bound.
func startFlagpole(bin, name string, args ...string) (*proc, error) {
	args = append(args, "--listen", "127.0.0.1:0")
	p, err := startProc(name, bin, args...)
	if err != nil {
		return nil, err
	}
	if err := p.waitLog(listeningRE, startTimeout); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startRedis runs a private redis-server without persistence on a free
// loopback port and waits until it accepts connections.
func startRedis(extra ...string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "flagpole-bench-redis-")
	if err != nil {
		return nil, fmt.Errorf("making redis-server's directory: %w", err)
	}
	p, err := startProc("redis-server", "redis-server", append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir}, extra...)...)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	p.tmp = dir
	p.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			_ = c.Close()
			return p, nil
		}
		select {
		case <-p.done:
			p.stop() // removes its directory
			return nil, fmt.Errorf("redis-server exited before accepting connections:\n%s", p.Logs())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("redis-server did not accept connections on %s within %s:\n%s", p.addr, startTimeout, p.Logs())
		}
	}
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startProc starts bin with args and collects its output lines.
func startProc(name, bin string, args ...string) (*proc, error) {
	p := &proc{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	// If the bench dies without stopping it, the child goes too.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, bin, err)
	}
	_ = w.Close() // the child holds its own copy
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			p.addLine(sc.Text())
		}
		_ = r.Close()
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) addLine(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.logs) == maxLogLines {
		p.logs = append(p.logs[:0], p.logs[1:]...)
	}
	p.logs = append(p.logs, line)
}

// Logs returns the last lines the process logged.
func (p *proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.logs, "\n")
}

// waitLog waits until a logged line matches re and records its first
// submatch as the process's address.
func (p *proc) waitLog(re *regexp.Regexp, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		p.mu.Lock()
		for _, l := range p.logs {
			if m := re.FindStringSubmatch(l); m != nil {
				p.addr = m[1]
				p.mu.Unlock()
				return nil
			}
		}
		p.mu.Unlock()
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before logging %q:\n%s", p.name, re, p.Logs())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not log %q within %s:\n%s", p.name, re, timeout, p.Logs())
		}
	}
}

// URL returns the process's HTTP base URL.
func (p *proc) URL() string { return "http://" + p.addr }

// stop sends SIGTERM, waits for the exit and kills the process if it is
// still running after stopTimeout.
func (p *proc) stop() {
	defer func() {
		if p.tmp != "" {
			_ = os.RemoveAll(p.tmp)
		}
	}()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	if keepLogs != "" {
		name := strings.ReplaceAll(p.name, " ", "-") + ".log"
		if err := os.WriteFile(filepath.Join(keepLogs, name), []byte(p.Logs()+"\n"), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "bench: keeping the logs of %s: %v\n", p.name, err)
		}
	}
}

// keepLogs is the directory that receives each process's last log lines
// when it stops (-logs); empty: none.
var keepLogs string

// RSS returns the process's resident set size in bytes (VmRSS).
func (p *proc) RSS() (int64, error) {
	return procStatus(p.cmd.Process.Pid, "VmRSS")
}

// PeakRSS returns the process's peak resident set size in bytes (VmHWM).
func (p *proc) PeakRSS() (int64, error) {
	return procStatus(p.cmd.Process.Pid, "VmHWM")
}

// procStatus reads a "kB" field of /proc/<pid>/status in bytes.
func procStatus(pid int, field string) (int64, error) {
	path := filepath.Join("/proc", strconv.Itoa(pid), "status")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: field %s: %w", path, field, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("%s: no field %s", path, field)
}

// group stops every process started through it, newest first.
type group struct{ procs []*proc }

func (g *group) add(p *proc) *proc {
	g.procs = append(g.procs, p)
	return p
}

func (g *group) stopAll() {
	for i := len(g.procs) - 1; i >= 0; i-- {
		g.procs[i].stop()
	}
}

// checkAlive returns an error naming the first process of g that has
// exited, with its last log lines.
func (g *group) checkAlive() error {
	for _, p := range g.procs {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited unexpectedly:\n%s", p.name, p.Logs())
		default:
		}
	}
	return nil
}

// errInterrupted reports that the run was cancelled (Ctrl-C).
var errInterrupted = errors.New("interrupted")

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errInterrupted
	}
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat times;
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// CPU returns the user + system CPU time the process has used.
func (p *proc) CPU() (time.Duration, error) {
	path := filepath.Join("/proc", strconv.Itoa(p.cmd.Process.Pid), "stat")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	// The command name (field 2) may hold spaces; fields count from its ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no command name", path)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: %d fields after the command name, want at least 13", path, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] { // utime, stime: fields 14 and 15
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: CPU time %q: %w", path, s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
