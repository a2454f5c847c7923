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
	args = append(args, "--listen", "127.0.0.1:0")
	d := &daemon{cmd: exec.Command(binary, args...), done: make(chan struct{})}
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

// gitRepo is a working clone pushing to a bare remote, driven by the git CLI.
type gitRepo struct {
	t           *testing.T
	work, bare  string
	commitCount int
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed (make deps installs it)")
	}
	root := t.TempDir()
	g := &gitRepo{t: t, work: filepath.Join(root, "work"), bare: filepath.Join(root, "remote.git")}
	g.git(root, "init", "--bare", "--initial-branch=main", g.bare)
	copyDir(t, exampleRepo(t), g.work)
	g.git(g.work, "init", "--initial-branch=main")
	g.git(g.work, "remote", "add", "origin", g.bare)
	g.commit("initial flags")
	return g
}

func (g *gitRepo) git(dir string, args ...string) string {
	g.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@localhost",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@localhost", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		g.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// write replaces a file of the working clone.
func (g *gitRepo) write(rel, content string) {
	g.t.Helper()
	if err := os.WriteFile(filepath.Join(g.work, rel), []byte(content), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

// commit commits everything, pushes, and returns the commit hash.
func (g *gitRepo) commit(msg string) string {
	g.git(g.work, "add", "-A")
	g.git(g.work, "commit", "-q", "-m", msg)
	g.git(g.work, "push", "-q", "origin", "main")
	return g.git(g.work, "rev-parse", "HEAD")
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
