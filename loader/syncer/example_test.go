package syncer_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/flagpole/flagpole/loader/syncer"
)

// A GitHub push delivery, signed with the shared secret, triggers a fetch;
// a delivery with a wrong signature is refused.
func ExampleNewWebhookHandler() {
	secret := []byte("webhook-secret")
	h := syncer.NewWebhookHandler(syncer.WebhookOptions{
		Secret:  secret,
		Branch:  "main",
		Trigger: func() { fmt.Println("fetch triggered") },
	})
	body := `{"ref":"refs/heads/main"}`
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(body))

	for _, sig := range []string{"sha256=" + hex.EncodeToString(mac.Sum(nil)), "sha256=00"} {
		req := httptest.NewRequest("POST", "/v1/hooks/git", strings.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", sig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// fetch triggered
	// 202 {"note":"fetch scheduled","status":"accepted"}
	// 401 {"error":{"code":"unauthorized","message":"X-Hub-Signature-256 does not match the payload"}}
}
