package syncer_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/loader/syncer"
)

// FuzzWebhook sends arbitrary payloads and signature headers: the handler
// must never panic, and must trigger only for a correct signature.
func FuzzWebhook(f *testing.F) {
	f.Add(`{"ref":"refs/heads/main"}`, "X-Hub-Signature-256", "sha256=00")
	f.Add(`{"ref":1}`, "X-Gitea-Signature", "zz")
	f.Add(`not json`, "X-Gitlab-Token", "nope")
	f.Add(``, "X-Gogs-Signature", "")
	f.Fuzz(func(t *testing.T, body, header, value string) {
		triggered := false
		h := syncer.NewWebhookHandler(syncer.WebhookOptions{Secret: hookSecret, Branch: "main", Trigger: func() { triggered = true }})
		req := httptest.NewRequest("POST", "/v1/hooks/git", strings.NewReader(body))
		if header != "" && !strings.ContainsAny(header, "\r\n:\x00 ") {
			req.Header.Set(header, value)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		valid := (req.Header.Get("X-Hub-Signature-256") == "sha256="+sign(hookSecret, body)) ||
			req.Header.Get("X-Gitea-Signature") == sign(hookSecret, body) ||
			req.Header.Get("X-Gogs-Signature") == sign(hookSecret, body) ||
			req.Header.Get("X-Gitlab-Token") == string(hookSecret)
		if triggered && !valid {
			t.Fatalf("triggered without a valid signature: %s=%q body %q", header, value, body)
		}
		if !triggered && rec.Code == 202 && !valid {
			t.Fatalf("202 without a valid signature")
		}
	})
}
