package bearer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/internal/keyring"
	"github.com/flagpole/flagpole/store"
)

// OFREP event stream tokens.
//
// EventSource, which browsers use for SSE, cannot send headers, so the URL
// that the bulk evaluation advertises must carry a credential. It carries
// a token rather than the SDK key: the token names one environment and
// one key (by its SHA-256, which is no secret: it is in the repository),
// expires, and is signed with HMAC-SHA256 under Options.EventTokenSecret.
// It grants one thing: a stream of change notifications of that
// environment, counted against that key's stream limits. It never grants
// an evaluation or a rule set, and it stops working as soon as its key is
// removed.
//
// Tokens are minted per window of EventTokenWindow: every token minted in
// one window expires at the end of the next one, so the bulk response of
// a context, and its ETag, stay the same within a window (polling keeps
// getting 304), and a token is valid between one and two windows.

// Token layout (before base64url): version byte, expiry (Unix seconds,
// 8 bytes big-endian), the key's SHA-256 (32 bytes), the environment name,
// then the first tokenMACBytes of the HMAC of everything before it.
const (
	tokenVersion   = 1
	tokenHeader    = 1 + 8 + sha256.Size
	tokenMACBytes  = 16
	maxTokenChars  = 512 // longer token parameters are refused unread
	tokenMACDomain = "flagpole ofrep event stream token\x00"
)

// minEventTokenSecret is the shortest EventTokenSecret New accepts.
const minEventTokenSecret = 32

// Reasons a token is refused.
var (
	errTokenInvalid = errors.New("event stream token is malformed or its signature does not match (tokens are signed per bearer unless every bearer has the same EventTokenSecret)")
	errTokenExpired = errors.New("event stream token has expired: POST /ofrep/v1/evaluate/flags for a new URL")
)

// eventTokenSecret returns opts' secret, or a random one with generated
// set when it has none.
func eventTokenSecret(secret []byte) (key []byte, generated bool, err error) {
	if len(secret) == 0 {
		key = make([]byte, minEventTokenSecret)
		if _, err := rand.Read(key); err != nil {
			return nil, false, fmt.Errorf("generating the event stream token key: %w", err)
		}
		return key, true, nil
	}
	if len(secret) < minEventTokenSecret {
		return nil, false, fmt.Errorf("EventTokenSecret (FLAGPOLE_EVENT_TOKEN_SECRET of flagpole serve and bearer) is %d bytes; it must have at least %d", len(secret), minEventTokenSecret)
	}
	return append([]byte(nil), secret...), false, nil
}

// tokenExpiry returns when a token minted at now expires: at the end of
// the window after now's.
func tokenExpiry(now time.Time, window time.Duration) time.Time {
	return now.Truncate(window).Add(2 * window)
}

// mintEventToken returns the token of key keyHash in env, valid until exp.
func (s *Server) mintEventToken(env string, keyHash keyring.Hash, exp time.Time) string {
	b := make([]byte, tokenHeader, tokenHeader+len(env)+tokenMACBytes)
	b[0] = tokenVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(exp.Unix()))
	copy(b[9:tokenHeader], keyHash[:])
	b = append(b, env...)
	b = append(b, s.tokenMAC(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenMAC returns the truncated HMAC of a token's payload.
func (s *Server) tokenMAC(payload []byte) []byte {
	m := hmac.New(sha256.New, s.eventKey)
	m.Write([]byte(tokenMACDomain))
	m.Write(payload)
	return m.Sum(nil)[:tokenMACBytes]
}

// parseEventToken checks a token's signature and expiry and returns its
// environment and key.
func (s *Server) parseEventToken(tok string) (env string, keyHash keyring.Hash, err error) {
	// The decoder skips CR and LF, and only Strict refuses non-zero
	// trailing bits: without both checks one minted token would have many
	// accepted spellings.
	if len(tok) > maxTokenChars || strings.ContainsAny(tok, "\r\n") {
		return "", keyHash, errTokenInvalid
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(b) < tokenHeader+tokenMACBytes || b[0] != tokenVersion {
		return "", keyHash, errTokenInvalid
	}
	payload, mac := b[:len(b)-tokenMACBytes], b[len(b)-tokenMACBytes:]
	if !hmac.Equal(mac, s.tokenMAC(payload)) {
		return "", keyHash, errTokenInvalid
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(payload[1:9])), 0)
	if !s.opts.Clock.Now().Before(exp) {
		return "", keyHash, errTokenExpired
	}
	copy(keyHash[:], payload[9:tokenHeader])
	return string(payload[tokenHeader:]), keyHash, nil
}

// eventStreamAccess authenticates a request for the OFREP event stream:
// by the token query parameter when there is one, otherwise by an SDK key
// in a header (for SSE clients that can send headers). Client and server
// keys may follow the stream.
func (s *Server) eventStreamAccess(r *http.Request) (*access, *authFailure) {
	tok := r.URL.Query().Get("token")
	if tok == "" {
		return s.authenticate(r, "", store.KeyClient, store.KeyServer)
	}
	env, keyHash, err := s.parseEventToken(tok)
	if err != nil {
		return nil, &authFailure{http.StatusUnauthorized, httpx.CodeUnauthorized, err.Error()}
	}
	h := s.hub(env)
	if h == nil {
		return nil, &authFailure{http.StatusUnauthorized, httpx.CodeUnauthorized, "the environment of this event stream token is no longer served"}
	}
	st := h.cur.Load()
	e, ok := st.keys.Match(keyHash)
	if !ok || (e.Kind != store.KeyClient && e.Kind != store.KeyServer) {
		return nil, &authFailure{http.StatusUnauthorized, httpx.CodeUnauthorized, "the SDK key of this event stream token is no longer valid"}
	}
	return &access{hub: h, state: st, kind: e.Kind, keyHash: keyHash}, nil
}
