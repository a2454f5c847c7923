package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a signed json-format notification.
const (
	HeaderSignature = "X-Flagpole-Signature-256"
	HeaderTimestamp = "X-Flagpole-Timestamp"
	HeaderEvent     = "X-Flagpole-Event"
)

// MaxSkew is how far a notification's timestamp may be from the
// receiver's clock, either way, before Verify rejects it as a replay.
const MaxSkew = 5 * time.Minute

// Errors of Verify.
var (
	ErrBadSignature = errors.New("notification signature missing or wrong")
	ErrStale        = errors.New("notification timestamp too old or too far ahead")
)

// Sign returns the value of X-Flagpole-Signature-256 for body sent at
// timestamp (Unix seconds, as in X-Flagpole-Timestamp): "sha256=" and the
// hex HMAC-SHA256, keyed by secret, of timestamp + "." + body.
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a received json-format notification: the signature of
// header over body with secret (compared in constant time), and a
// timestamp within MaxSkew of now. A receiver should also remember the
// signatures it accepted in the last MaxSkew to refuse an exact replay.
func Verify(secret string, header http.Header, body []byte, now time.Time) error {
	ts := header.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad %s %q", ErrBadSignature, HeaderTimestamp, ts)
	}
	got, ok := strings.CutPrefix(header.Get(HeaderSignature), "sha256=")
	gotMAC, err := hex.DecodeString(got)
	if !ok || err != nil {
		return ErrBadSignature
	}
	want, _ := hex.DecodeString(strings.TrimPrefix(Sign(secret, ts, body), "sha256="))
	if !hmac.Equal(gotMAC, want) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > MaxSkew || d < -MaxSkew {
		return fmt.Errorf("%w: sent %s ago", ErrStale, d.Round(time.Second))
	}
	return nil
}
