package sdk

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// demoServerKey is the production server key of flags.example
// (flags.example/DEMO-KEYS.md).
const demoServerKey = "fp_srv_prod_00924f0ac53302c0eed957fb2f4f221a"

// TestEndToEndWithFlagpoleServe runs the real flagpole binary on a copy of
// flags.example: the client follows a file edit, serves the last rule set
// while the server is killed, and resumes when it is restarted.
func TestEndToEndWithFlagpoleServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the flagpole binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "flagpole")
	build := exec.Command("go", "build", "-o", bin, "../cmd/flagpole")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building flagpole: %v\n%s", err, out)
	}
	repo := filepath.Join(dir, "repo")
	if err := os.CopyFS(repo, os.DirFS("../flags.example")); err != nil {
		t.Fatalf("copying flags.example: %v", err)
	}
	addr := freeAddr(t)
	stop := serve(t, bin, repo, addr)

	c, err := newClient(t, "http://"+addr, demoServerKey, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if c.State() != StateReady || !c.Bool("checkout-v2", Context{"key": "audrey"}, false) {
		t.Fatalf("state %s: want READY with audrey on checkout-v2", c.State())
	}
	changes := collect(t, c)

	flagFile := filepath.Join(repo, "flags", "checkout-v2.yaml")
	editFile(t, flagFile, "rules:", "enabled: false\nrules:")
	waitFor(t, "the edit to reach the client", func() bool {
		return c.BoolDetail("checkout-v2", Context{"key": "audrey"}, true).Reason.String() == "DISABLED"
	})
	waitFor(t, "a change naming checkout-v2", func() bool {
		ch := changes()
		return len(ch) > 0 && strings.Join(ch[len(ch)-1].Flags, ",") == "checkout-v2"
	})

	stop()
	waitFor(t, "STALE", func() bool { return c.State() == StateStale })
	if c.Bool("checkout-v2", Context{"key": "audrey"}, true) {
		t.Fatal("the last known rule set (checkout-v2 disabled) is not served while the server is down")
	}
	editFile(t, flagFile, "enabled: false\n", "")
	serve(t, bin, repo, addr)
	waitFor(t, "READY after the restart", func() bool { return c.State() == StateReady })
	waitFor(t, "the edit made while the server was down", func() bool {
		return c.Bool("checkout-v2", Context{"key": "audrey"}, false)
	})
}

// serve starts `flagpole serve` and returns the function that kills it
// (also called at cleanup).
func serve(t *testing.T, bin, repo, addr string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", "--repo", repo, "--source", "dir", "--listen", addr, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting flagpole serve: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// editFile replaces the first old with new in path, failing if old is absent.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	// Write a new file and rename it over, as editors do.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
