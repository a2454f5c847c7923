package ofrepjs

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitLimit bounds every wait for a process: generous, for a loaded 2-core
// machine.
const waitLimit = 20 * time.Second

// requireNode skips the test when node or npm is not installed, and fails
// it when node is older than 18 (no fetch).
func requireNode(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed, so the official OpenFeature JavaScript OFREP providers cannot run: install Node.js 18+ with npm (e.g. apt-get install nodejs npm)", tool)
		}
	}
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	v := strings.TrimSpace(string(out))
	major, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < 18 {
		t.Fatalf("node %s is installed; the OFREP providers need Node.js 18 or later (fetch)", v)
	}
}

// stampFile records, inside node_modules, the SHA-256 of the
// package-lock.json that node_modules was installed from.
const stampFile = "node_modules/.flagpole-lock-sha256"

// installPackages runs `npm ci` (without install scripts: the pinned
// packages have none) when node_modules is missing or was
// installed from another package-lock.json; a failure (the registry
// unreachable, say) fails the test with npm's output.
func installPackages(t *testing.T) {
	t.Helper()
	lock, err := os.ReadFile("package-lock.json")
	if err != nil {
		t.Fatalf("reading the pinned providers: %v", err)
	}
	sum := sha256.Sum256(lock)
	want := hex.EncodeToString(sum[:])
	if got, err := os.ReadFile(stampFile); err == nil && strings.TrimSpace(string(got)) == want {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts").CombinedOutput()
	if err != nil {
		t.Fatalf("npm ci --no-audit --no-fund --ignore-scripts in tests/ofrep-js: %v\n%s", err, out)
	}
	t.Logf("npm ci took %s", time.Since(start).Round(time.Millisecond))
	if err := os.WriteFile(stampFile, []byte(want+"\n"), 0o644); err != nil {
		t.Fatalf("recording the installed package-lock.json: %v", err)
	}
}

// buildFlagpole builds cmd/flagpole into a temporary directory.
func buildFlagpole(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flagpole")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/flagpole/flagpole/cmd/flagpole").CombinedOutput()
	if err != nil {
		t.Fatalf("building flagpole: %v\n%s", err, out)
	}
	return bin
}

// copyExample copies flags.example into a temporary directory, so that the
// test can change a flag.
func copyExample(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "flags")
	if err := os.CopyFS(dir, os.DirFS("../../flags.example")); err != nil {
		t.Fatalf("copying flags.example: %v", err)
	}
	return dir
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// serve starts `flagpole serve --repo repo` on a free loopback port and
// returns its base URL; t.Cleanup stops it and logs its output on failure.
func serve(t *testing.T, bin, repo string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--repo", repo, "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting flagpole serve: %v", err)
	}
	var mu sync.Mutex
	var logs strings.Builder
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
	}()
	logged := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(waitLimit):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("flagpole serve logged:\n%s", logged())
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case <-done:
		t.Fatalf("flagpole serve exited before listening:\n%s", logged())
	case <-time.After(waitLimit):
		t.Fatalf("flagpole serve did not listen within %s:\n%s", waitLimit, logged())
	}
	return ""
}
