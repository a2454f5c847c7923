package syncer_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/loader/source"
	"github.com/flagpole/flagpole/loader/syncer"
	"github.com/flagpole/flagpole/store"
)

var hookSecret = []byte("s3cret-hook")

func sign(secret []byte, body string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func TestWebhook(t *testing.T) {
	push := `{"ref":"refs/heads/main","after":"abc"}`
	other := `{"ref":"refs/heads/feature","after":"abc"}`
	cases := []struct {
		name     string
		method   string
		body     string
		headers  map[string]string
		code     int
		errCode  string
		triggers int32
	}{
		{"github good", "POST", push, map[string]string{"X-Hub-Signature-256": "sha256=" + sign(hookSecret, push)}, 202, "", 1},
		{"github bad", "POST", push, map[string]string{"X-Hub-Signature-256": "sha256=" + sign([]byte("wrong"), push)}, 401, "unauthorized", 0},
		{"github no prefix", "POST", push, map[string]string{"X-Hub-Signature-256": sign(hookSecret, push)}, 401, "unauthorized", 0},
		{"github body altered", "POST", push + " ", map[string]string{"X-Hub-Signature-256": "sha256=" + sign(hookSecret, push)}, 401, "unauthorized", 0},
		{"gitea good", "POST", push, map[string]string{"X-Gitea-Signature": sign(hookSecret, push)}, 202, "", 1},
		{"gitea bad", "POST", push, map[string]string{"X-Gitea-Signature": "zz"}, 401, "unauthorized", 0},
		{"gitlab good", "POST", push, map[string]string{"X-Gitlab-Token": string(hookSecret)}, 202, "", 1},
		{"gitlab bad", "POST", push, map[string]string{"X-Gitlab-Token": "s3cret-hoo"}, 401, "unauthorized", 0},
		{"missing signature", "POST", push, nil, 401, "unauthorized", 0},
		{"other branch", "POST", other, map[string]string{"X-Hub-Signature-256": "sha256=" + sign(hookSecret, other)}, 202, "", 0},
		{"ping", "POST", `{"zen":"x"}`, map[string]string{"X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=" + sign(hookSecret, `{"zen":"x"}`)}, 202, "", 0},
		{"no ref", "POST", `{}`, map[string]string{"X-Hub-Signature-256": "sha256=" + sign(hookSecret, `{}`)}, 202, "", 1},
		{"too large", "POST", strings.Repeat("x", syncer.MaxWebhookBody+1), map[string]string{"X-Gitlab-Token": string(hookSecret)}, 413, "too_large", 0},
		{"GET", "GET", "", nil, 405, "method_not_allowed", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			h := syncer.NewWebhookHandler(syncer.WebhookOptions{Secret: hookSecret, Branch: "main", Trigger: func() { n.Add(1) }})
			srv := httptest.NewServer(h)
			defer srv.Close()
			req, _ := http.NewRequest(tc.method, srv.URL+"/v1/hooks/git", strings.NewReader(tc.body))
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.code, body)
			}
			if resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("content type %q", resp.Header.Get("Content-Type"))
			}
			if tc.errCode != "" {
				var e struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != tc.errCode || e.Error.Message == "" {
					t.Errorf("body %s, want error code %s with a message", body, tc.errCode)
				}
				if strings.Contains(string(body), string(hookSecret)) {
					t.Errorf("response leaks the secret: %s", body)
				}
			}
			if got := n.Load(); got != tc.triggers {
				t.Errorf("triggers = %d, want %d", got, tc.triggers)
			}
		})
	}
}

func TestWebhookWithoutSecretRefusesAll(t *testing.T) {
	var n atomic.Int32
	h := syncer.WebhookHandler(nil, func() { n.Add(1) })
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/v1/hooks/git", strings.NewReader("{}"))
	req.Header.Set("X-Hub-Signature-256", "sha256="+sign(nil, "{}"))
	h.ServeHTTP(rec, req)
	if rec.Code != 401 || n.Load() != 0 {
		t.Fatalf("status %d, triggers %d; want 401 and none", rec.Code, n.Load())
	}
}

// TestWebhookTriggersFetch pushes to a bare remote and delivers a signed
// webhook: the new commit is published, with polling disabled. A bad
// signature causes no fetch.
func TestWebhookTriggersFetch(t *testing.T) {
	r := newGitRemote(t)
	r.commitPush(goodRepo("one"), "first")
	src, err := source.NewGit(source.GitOptions{URL: r.bare, Poll: -1, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	mem := store.NewMemory()
	s, err := syncer.New(syncer.Options{Source: src, Store: mem, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runSyncer(t, s)
	waitFor(t, "first commit", hasDesc(mem, "production", "one"))
	// Polling is off, so a trigger is the only way to a fetch: counting
	// triggers shows at once whether a delivery asked for one.
	var triggers atomic.Int32
	trigger := func() { triggers.Add(1); s.Trigger() }
	hook := httptest.NewServer(syncer.NewWebhookHandler(syncer.WebhookOptions{Secret: hookSecret, Branch: "main", Trigger: trigger}))
	defer hook.Close()
	deliver := func(sig string) int {
		body := `{"ref":"refs/heads/main"}`
		req, _ := http.NewRequest("POST", hook.URL+"/v1/hooks/git", bytes.NewReader([]byte(body)))
		req.Header.Set("X-Hub-Signature-256", "sha256="+sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	r.commitPush(goodRepo("two"), "second")
	if code := deliver(sign([]byte("wrong"), `{"ref":"refs/heads/main"}`)); code != 401 {
		t.Fatalf("bad signature: status %d", code)
	}
	if n := triggers.Load(); n != 0 {
		t.Fatalf("a bad signature caused %d fetches", n)
	}
	if code := deliver(sign(hookSecret, `{"ref":"refs/heads/main"}`)); code != 202 {
		t.Fatalf("good signature: status %d", code)
	}
	waitFor(t, "webhook-triggered publish", hasDesc(mem, "production", "two"))
}

// TestWebhookReplay: a verified delivery resent with the same id within
// the window fetches once; after the window, or with another id, again.
// Only verified deliveries are remembered.
func TestWebhookReplay(t *testing.T) {
	clock := clockwork.NewFakeClock()
	var n atomic.Int32
	h := syncer.NewWebhookHandler(syncer.WebhookOptions{Secret: hookSecret, Trigger: func() { n.Add(1) },
		ReplayWindow: time.Minute, Clock: clock})
	push := `{"ref":"refs/heads/main"}`
	deliver := func(id, secret string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/v1/hooks/git", strings.NewReader(push))
		req.Header.Set("X-Hub-Signature-256", "sha256="+sign([]byte(secret), push))
		req.Header.Set("X-GitHub-Delivery", id)
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	steps := []struct {
		id, secret string
		advance    time.Duration
		code       int
		triggers   int32
	}{
		{"d-1", "wrong", 0, 401, 0}, // not verified: not remembered
		{"d-1", string(hookSecret), 0, 202, 1},
		{"d-1", string(hookSecret), 30 * time.Second, 202, 1}, // replay
		{"d-2", string(hookSecret), 0, 202, 2},
		{"d-1", string(hookSecret), 31 * time.Second, 202, 3}, // window passed
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		if code := deliver(s.id, s.secret); code != s.code || n.Load() != s.triggers {
			t.Fatalf("step %d (%s): status %d, triggers %d; want %d, %d", i, s.id, code, n.Load(), s.code, s.triggers)
		}
	}
}
