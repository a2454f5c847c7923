package syncer

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flagpole/flagpole/internal/httpx"
)

// MaxWebhookBody is the largest webhook payload accepted: 1 MiB.
const MaxWebhookBody = 1 << 20

// WebhookOptions configures a push webhook handler.
type WebhookOptions struct {
	// Secret verifies deliveries. Empty: every delivery is refused.
	Secret []byte
	// Trigger is called for every verified push (it must not block).
	Trigger func()
	// Branch, when set, makes pushes that name another ref (another branch,
	// a tag) acknowledged without a fetch.
	Branch string
	// ReplayWindow is how long a delivery id (X-GitHub-Delivery,
	// X-Gitea-Delivery, X-Gogs-Delivery, X-Gitlab-Event-UUID or
	// Idempotency-Key) is remembered: a verified delivery with an id seen
	// within it is acknowledged without a fetch. Zero means
	// DefaultReplayWindow (10 minutes).
	ReplayWindow time.Duration
	// Clock is the clock of the replay window; nil means the real clock.
	Clock clockwork.Clock
}

// WebhookHandler returns the handler for POST /v1/hooks/git that calls
// trigger for every verified push, whatever branch it names.
func WebhookHandler(secret []byte, trigger func()) http.Handler {
	return NewWebhookHandler(WebhookOptions{Secret: secret, Trigger: trigger})
}

// NewWebhookHandler returns the handler for POST /v1/hooks/git. A delivery
// is verified by one of:
//
//	X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>   GitHub, Gitea, Forgejo
//	X-Gitea-Signature: <hex HMAC-SHA256 of the body>            Gitea, Gogs (X-Gogs-Signature)
//	X-Gitlab-Token: <secret>                                    GitLab
//
// compared in constant time. Answers: 202 and a fetch for a verified push;
// 202 without a fetch for a ping, a push to another branch or a delivery
// replayed within the replay window (see WebhookOptions); 401 for a
// missing or wrong signature; 405 for a method other than POST; 413 for a
// body over 1 MiB. Errors are JSON {"error":{"code","message"}}.
func NewWebhookHandler(opts WebhookOptions) http.Handler {
	return &webhook{opts: opts, replays: newReplays(opts.ReplayWindow, opts.Clock)}
}

type webhook struct {
	opts    WebhookOptions
	replays *replays
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpx.WriteError(w, http.StatusMethodNotAllowed, httpx.CodeMethodNotAllowed, "use POST")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpx.WriteError(w, http.StatusRequestEntityTooLarge, httpx.CodeTooLarge, "webhook payload over 1 MiB")
			return
		}
		httpx.WriteError(w, http.StatusBadRequest, httpx.CodeBadRequest, "reading the webhook payload failed")
		return
	}
	if msg := h.verify(r.Header, body); msg != "" {
		httpx.WriteError(w, http.StatusUnauthorized, httpx.CodeUnauthorized, msg)
		return
	}
	if id := deliveryID(r.Header); id != "" && h.replays.replayed(id) {
		httpx.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "ignored", "note": "delivery " + id + " was already received"})
		return
	}
	if isPing(r.Header) {
		httpx.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "ignored", "note": "ping event; nothing to fetch"})
		return
	}
	var payload struct {
		Ref string `json:"ref"`
	}
	_ = json.Unmarshal(body, &payload) // a payload without a ref triggers a fetch
	if want := "refs/heads/" + h.opts.Branch; h.opts.Branch != "" && payload.Ref != "" && payload.Ref != want {
		httpx.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "ignored", "note": "push to " + payload.Ref + ", not " + want})
		return
	}
	if h.opts.Trigger != nil {
		h.opts.Trigger()
	}
	httpx.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "accepted", "note": "fetch scheduled"})
}

// verify returns "" when the delivery is authentic, else why not.
func (h *webhook) verify(hdr http.Header, body []byte) string {
	if len(h.opts.Secret) == 0 {
		return "no webhook secret is configured on this server"
	}
	mac := hmac.New(sha256.New, h.opts.Secret)
	mac.Write(body)
	want := mac.Sum(nil)
	switch {
	case hdr.Get("X-Hub-Signature-256") != "":
		sig, ok := strings.CutPrefix(hdr.Get("X-Hub-Signature-256"), "sha256=")
		if !ok {
			return "X-Hub-Signature-256 must be sha256=<hex>"
		}
		return checkHex(sig, want, "X-Hub-Signature-256")
	case hdr.Get("X-Gitea-Signature") != "":
		return checkHex(hdr.Get("X-Gitea-Signature"), want, "X-Gitea-Signature")
	case hdr.Get("X-Gogs-Signature") != "":
		return checkHex(hdr.Get("X-Gogs-Signature"), want, "X-Gogs-Signature")
	case hdr.Get("X-Gitlab-Token") != "":
		// Compare digests so that the comparison does not leak the length.
		got := sha256.Sum256([]byte(hdr.Get("X-Gitlab-Token")))
		exp := sha256.Sum256(h.opts.Secret)
		if subtle.ConstantTimeCompare(got[:], exp[:]) != 1 {
			return "X-Gitlab-Token does not match"
		}
		return ""
	default:
		return "missing signature (X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token)"
	}
}

// checkHex compares a hex signature with the expected MAC.
func checkHex(sig string, want []byte, header string) string {
	got, err := hex.DecodeString(strings.TrimSpace(sig))
	if err != nil || !hmac.Equal(got, want) {
		return header + " does not match the payload"
	}
	return ""
}

// isPing reports a forge's test delivery.
func isPing(hdr http.Header) bool {
	return hdr.Get("X-GitHub-Event") == "ping" || hdr.Get("X-Gitea-Event") == "ping"
}
