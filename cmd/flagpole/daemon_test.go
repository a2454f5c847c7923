package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
)

// Demo keys of flags.example (flags.example/DEMO-KEYS.md).
const (
	prodServerKey = "fp_srv_prod_00924f0ac53302c0eed957fb2f4f221a"
	prodClientKey = "fp_cli_prod_9696b5d062735734a36c80b60533b635"
)

// eventually is how long the end-to-end tests wait for something that
// should happen in milliseconds: generous, for a loaded 2-core machine.
const eventually = 20 * time.Second

// daemon is a running flagpole process (serve, sync or bearer).
type daemon struct {
	cmd  *exec.Cmd
	url  string // http://addr it listens on
	mu   sync.Mutex
	logs strings.Builder
	done chan struct{}
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startDaemon starts the binary with args plus --listen 127.0.0.1:0 and
// waits until it logs the address it bound. t.Cleanup stops it.
func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	return startDaemonEnv(t, nil, args...)
}

// startDaemonEnv is startDaemon with env (NAME=value) added to the
// process's environment.
func startDaemonEnv(t *testing.T, env []string, args ...string) *daemon {
	t.Helper()
	args = append(args, "--listen", "127.0.0.1:0")
	d := &daemon{cmd: exec.Command(binary, args...), done: make(chan struct{})}
	if env != nil {
		d.cmd.Env = append(os.Environ(), env...)
	}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting flagpole %v: %v", args, err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.logs.WriteString(line + "\n")
			d.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_ = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			// What each daemon still running was doing when the test gave
			// up: SIGQUIT makes a Go process print every goroutine's stack
			// to stderr, which lands in the logs below.
			select {
			case <-d.done:
			default:
				_ = d.cmd.Process.Signal(syscall.SIGQUIT)
				select {
				case <-d.done:
				case <-time.After(5 * time.Second):
				}
			}
		}
		d.stop(t)
		if t.Failed() {
			t.Logf("logs of flagpole %s:\n%s", args[0], d.Logs())
		}
	})
	select {
	case a := <-addr:
		d.url = "http://" + a
	case <-d.done:
		t.Fatalf("flagpole %v exited before listening:\n%s", args, d.Logs())
	case <-time.After(eventually):
		t.Fatalf("flagpole %v did not listen within %s:\n%s", args, eventually, d.Logs())
	}
	return d
}

// Logs returns what the process has logged so far.
func (d *daemon) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// stop sends SIGTERM and waits for a graceful exit (SIGKILL after a while).
func (d *daemon) stop(t *testing.T) {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		t.Errorf("flagpole did not stop within 15 s of SIGTERM; killing it")
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// get fetches path with an optional SDK key and returns status, headers, body.
func get(t *testing.T, url, key string) (int, http.Header, []byte) {
	t.Helper()
	return do(t, http.MethodGet, url, key, nil, nil)
}

func do(t *testing.T, method, url, key string, body io.Reader, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// waitFor polls cond until it holds or eventually passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventually)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", eventually, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// versionOf returns the rule-set version the daemon serves for the
// production server key ("" while not ready).
func versionOf(t *testing.T, d *daemon) string {
	code, h, _ := get(t, d.url+"/v1/flags", prodServerKey)
	if code != http.StatusOK {
		return ""
	}
	return strings.Trim(h.Get("ETag"), `"`)
}

// status decodes GET /v1/status.
func status(t *testing.T, d *daemon) map[string]any {
	t.Helper()
	code, _, b := get(t, d.url+"/v1/status", "")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/status: %d %s", code, b)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("GET /v1/status: %v\n%s", err, b)
	}
	return st
}

// gitRepo is a gitrepo.Remote holding the example repository, under the
// names these tests use.
type gitRepo struct {
	*gitrepo.Remote
	t          *testing.T
	work, bare string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	r := gitrepo.New(t)
	g := &gitRepo{Remote: r, t: t, work: r.Work, bare: r.Bare}
	copyDir(t, exampleRepo(t), g.work)
	g.commit("initial flags")
	return g
}

// git runs the git CLI in dir.
func (g *gitRepo) git(dir string, args ...string) string {
	g.t.Helper()
	return g.Git(append([]string{"-C", dir}, args...)...)
}

// write replaces a file of the working clone.
func (g *gitRepo) write(rel, content string) {
	g.t.Helper()
	g.Write(map[string]string{rel: content})
}

// read returns a file of the working clone.
func (g *gitRepo) read(rel string) string {
	g.t.Helper()
	b, err := os.ReadFile(filepath.Join(g.work, rel))
	if err != nil {
		g.t.Fatal(err)
	}
	return string(b)
}

// setNotify replaces the notify section of the working clone's
// flagpole.yaml (its last) with receivers, YAML list items.
func (g *gitRepo) setNotify(receivers string) {
	g.t.Helper()
	y := g.read("flagpole.yaml")
	g.write("flagpole.yaml", y[:strings.Index(y, "notify:")]+"notify:\n"+receivers)
}

// commit commits everything, pushes, and returns the commit hash.
func (g *gitRepo) commit(msg string) string {
	g.t.Helper()
	return g.CommitPush(nil, msg)
}

// pushWebhook delivers a GitHub-style push notification signed with secret.
func pushWebhook(t *testing.T, d *daemon, secret string) int {
	t.Helper()
	body := `{"ref":"refs/heads/main"}`
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-GitHub-Event", "push")
	h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	code, _, _ := do(t, http.MethodPost, d.url+"/v1/hooks/git", "", strings.NewReader(body), h)
	return code
}

// ctxT returns a context cancelled when the test ends.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
