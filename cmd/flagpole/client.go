package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/flagpole/flagpole/internal/redact"
)

// adminTokenEnv is the admin credential that `serve` and `sync` accept and
// that the CLI sends with --server.
const adminTokenEnv = "FLAGPOLE_ADMIN_TOKEN"

// clientTimeout bounds each request of the CLI to a server.
const clientTimeout = 30 * time.Second

// maxAnswer is the largest answer the CLI reads from a server.
const maxAnswer = 16 << 20

// apiClient calls a flagpole server's HTTP API for the CLI.
type apiClient struct {
	base  string // scheme://host[:port][/prefix], no trailing slash
	token string // "" sends no Authorization header
	http  *http.Client
}

// newAPIClient checks server (a URL, or host:port for http) and returns a
// client that sends token.
func newAPIClient(server, token string) (*apiClient, error) {
	s := strings.TrimRight(server, "/")
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server (or FLAGPOLE_SERVER) must be an http(s) URL such as http://127.0.0.1:8080, not %q", redact.URL(server))
	}
	return &apiClient{base: s, token: token, http: &http.Client{Timeout: clientTimeout}}, nil
}

// String is the server's URL without credentials.
func (c *apiClient) String() string { return redact.URL(c.base) }

// readToken returns the admin token from file (when given: its first line,
// trimmed) or else from FLAGPOLE_ADMIN_TOKEN; "" when neither has one.
func readToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(adminTokenEnv)), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the admin token: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return "", fmt.Errorf("reading the admin token: %s is empty", file)
	}
	return line, nil
}

// apiError is an error answer of the server: {"error":{"code","message"}},
// plus the leader's address on 503 not_leader.
type apiError struct {
	Status  int
	Code    string
	Message string
	Leader  string
}

func (e *apiError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code != "" {
		return fmt.Sprintf("%d %s: %s", e.Status, e.Code, msg)
	}
	return fmt.Sprintf("%d: %s", e.Status, msg)
}

// do sends method path with body (JSON-encoded when not nil) and returns
// the answer's body on 2xx, an *apiError otherwise.
func (c *apiClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the method and URL are said already
		}
		return nil, fmt.Errorf("cannot reach %s: %s", c, c.scrub(err.Error()))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s %s: %s", method, path, c.scrub(err.Error()))
	}
	if resp.StatusCode/100 == 2 {
		return b, nil
	}
	return nil, decodeAPIError(resp.StatusCode, b)
}

// decodeAPIError reads an error answer; a body that is not the JSON error
// envelope (a proxy's page) is summarised by its first line.
func decodeAPIError(status int, b []byte) *apiError {
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Leader  string `json:"leader"`
		} `json:"error"`
		Leader string `json:"leader"`
	}
	e := &apiError{Status: status}
	if json.Unmarshal(b, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message, e.Leader = env.Error.Code, env.Error.Message, env.Error.Leader
		if e.Leader == "" {
			e.Leader = env.Leader
		}
		return e
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	e.Message = line
	return e
}

// scrub removes the token and the server URL's credentials from msg.
func (c *apiClient) scrub(msg string) string {
	msg = redact.Text(msg, c.base)
	if len(c.token) >= 4 {
		msg = strings.ReplaceAll(msg, c.token, redact.Mask)
	}
	return msg
}

// explain turns an error of a call to the server into what to do about it.
func (c *apiClient) explain(err error) string {
	var ae *apiError
	if !errors.As(err, &ae) {
		return err.Error()
	}
	switch {
	case ae.Code == "not_leader" || (ae.Status == http.StatusServiceUnavailable && ae.Leader != ""):
		if ae.Leader != "" {
			return fmt.Sprintf("%s is not the leader; the leader is %s: run again with --server %s (or FLAGPOLE_SERVER=%s)",
				c, ae.Leader, ae.Leader, ae.Leader)
		}
		return fmt.Sprintf("%s is not the leader and did not say which server is (%s)", c, ae.Message)
	case ae.Status == http.StatusUnauthorized && c.token == "":
		return fmt.Sprintf("%s wants an admin token (%s): set %s or pass --token-file", c, ae, adminTokenEnv)
	case ae.Status == http.StatusUnauthorized:
		return fmt.Sprintf("%s refused the admin token (%s): set %s or --token-file to an admin key of flagpole.yaml", c, ae, adminTokenEnv)
	case ae.Status == http.StatusForbidden:
		return fmt.Sprintf("%s: the admin token is not allowed to do this (%s): it needs an admin key for the environment", c, ae)
	}
	return fmt.Sprintf("%s answered %s", c, ae)
}
