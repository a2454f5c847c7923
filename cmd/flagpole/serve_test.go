package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/sdk"
)

const checkoutDisabled = `key: checkout-v2
name: Checkout v2
description: The rewritten checkout flow, switched off.
owner: team-payments
enabled: false
rules:
  - name: allow list
    users: [audrey]
    serve: on
`

// TestServeGit follows a git remote end to end: pushes reach an SDK through
// the webhook, an invalid commit is reported by file and line and never
// served, and a bad webhook signature is refused without a fetch.
func TestServeGit(t *testing.T) {
	g := newGitRepo(t)
	const secret = "webhook-secret-for-tests"
	d := startDaemon(t, "serve", "--repo", g.bare, "--branch", "main", "--poll", "1h",
		"--webhook-secret", secret, "--cache-dir", t.TempDir())
	first := g.git(g.work, "rev-parse", "HEAD")
	waitFor(t, "the first commit to be served", func() bool { return strings.HasPrefix(first, versionOf(t, d)) && versionOf(t, d) != "" })

	client, err := sdk.New(ctxT(t), sdk.Options{URL: d.url, Key: prodServerKey})
	if err != nil {
		t.Fatalf("sdk.New: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	user := sdk.Context{"key": "audrey"}
	if !client.Bool("checkout-v2", user, false) {
		t.Fatal("checkout-v2 is off for audrey before the change")
	}

	// A bad signature is refused and fetches nothing.
	g.write("flags/checkout-v2.yaml", checkoutDisabled)
	second := g.commit("switch checkout-v2 off")
	if code := pushWebhook(t, d, "wrong secret"); code != http.StatusUnauthorized {
		t.Fatalf("webhook with a bad signature: %d, want 401", code)
	}
	if v := versionOf(t, d); !strings.HasPrefix(first, v) {
		t.Fatalf("version changed to %s after a refused webhook (poll is 1h)", v)
	}

	// A good one fetches at once, and the SDK follows.
	if code := pushWebhook(t, d, secret); code != http.StatusAccepted {
		t.Fatalf("webhook: %d, want 202", code)
	}
	waitFor(t, "the SDK to see checkout-v2 off", func() bool { return !client.Bool("checkout-v2", user, true) })
	if v := client.Version(); !strings.HasPrefix(second, v) {
		t.Errorf("SDK version %s, want a prefix of %s", v, second)
	}

	// An invalid commit is reported and not served.
	g.write("flags/checkout-v2.yaml", strings.Replace(checkoutDisabled, "enabled: false", "enabled: perhaps", 1))
	bad := g.commit("a typo")
	pushWebhook(t, d, secret)
	var lastErr map[string]any
	waitFor(t, "the bad commit in /v1/status", func() bool {
		sync, _ := status(t, d)["sync"].(map[string]any)
		lastErr, _ = sync["last_error"].(map[string]any)
		return lastErr != nil && lastErr["commit"] == bad
	})
	problems, _ := lastErr["problems"].([]any)
	if len(problems) == 0 || !strings.HasPrefix(problems[0].(string), "flags/checkout-v2.yaml:5:") {
		t.Errorf("problems %v, want flags/checkout-v2.yaml:5:...", problems)
	}
	if v := versionOf(t, d); !strings.HasPrefix(second, v) {
		t.Errorf("serving %s after a bad commit, want the last good %s", v, second)
	}
	if client.Bool("checkout-v2", user, true) {
		t.Error("SDK lost the last good rule set")
	}

	// The next good commit clears the error. It serves what the last good
	// one served (a comment is all it adds), so no environment is
	// republished: the served version stays the last good commit's.
	g.write("flags/checkout-v2.yaml", checkoutDisabled+"# fixed\n")
	fixed := g.commit("fix the typo")
	pushWebhook(t, d, secret)
	waitFor(t, "the fixed commit synced", func() bool {
		sync, _ := status(t, d)["sync"].(map[string]any)
		return sync["published"] == fixed && sync["last_error"] == nil
	})
	if v := versionOf(t, d); !strings.HasPrefix(second, v) {
		t.Errorf("serving %s after a commit that changes nothing served, want %s still", v, second)
	}
}

// TestServeDirectory follows edits to a plain directory, as the README's
// run command does, and serves client keys only client flags.
func TestServeDirectory(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, exampleRepo(t), dir)
	d := startDaemon(t, "serve", "--repo", dir)
	waitFor(t, "readiness", func() bool { code, _, _ := get(t, d.url+"/readyz", ""); return code == http.StatusOK })

	client, err := sdk.New(ctxT(t), sdk.Options{URL: d.url, Key: prodServerKey})
	if err != nil {
		t.Fatalf("sdk.New: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	user := sdk.Context{"key": "audrey"}
	if !client.Bool("checkout-v2", user, false) {
		t.Fatal("checkout-v2 is off for audrey before the edit")
	}
	if err := os.WriteFile(filepath.Join(dir, "flags", "checkout-v2.yaml"), []byte(checkoutDisabled), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the SDK to see the edit", func() bool { return !client.Bool("checkout-v2", user, true) })

	code, _, body := do(t, http.MethodPost, d.url+"/v1/evaluate", prodClientKey, strings.NewReader(`{"context":{"key":"juan"}}`), nil)
	if code != http.StatusOK {
		t.Fatalf("POST /v1/evaluate with the client key: %d %s", code, body)
	}
	if strings.Contains(string(body), "checkout-v2") || !strings.Contains(string(body), "west-coast-student-banner") {
		t.Errorf("client key saw the wrong flags: %s", body)
	}
	if code, _, _ := get(t, d.url+"/v1/flags", prodClientKey); code != http.StatusForbidden {
		t.Errorf("client key on /v1/flags: %d, want 403", code)
	}
}

func TestServeUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "--repo is required"},
		{[]string{"sync", "--repo", "."}, "--redis is required"},
		{[]string{"bearer"}, "--redis is required"},
		{[]string{"serve", "--repo", ".", "--log-level", "loud"}, "--log-level"},
	} {
		r := flagpole(t, "", nil, tt.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("flagpole %v: exit %d, stderr lacks %q:\n%s", tt.args, r.code, tt.want, r.stderr)
		}
	}
}
