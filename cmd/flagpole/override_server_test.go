package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tokens of the fake admin API.
const (
	testAdminToken  = "fp_adm_test_5b1c0f2e9d"
	testViewerToken = "fp_view_test_77aa01"
)

// adminRequest is one request the fake admin API received.
type adminRequest struct {
	method, path, query, auth string
	body                      map[string]any
}

// fakeAdmin implements the admin API contract that the CLI codes against
// being built for the server: bearer auth, JSON errors, overrides of known flags
// and variants, 404 when clearing what is not in force.
type fakeAdmin struct {
	*httptest.Server
	mu        sync.Mutex
	requests  []adminRequest
	overrides map[string]overrideEntry // env/flag
	counter   int
	leader    string // when set: every request gets 503 not_leader naming it
}

var fakeFlags = map[string][]string{"checkout-v2": {"on", "off"}, "homepage-hero": {"control", "bold", "off"}}

func newFakeAdmin(t *testing.T) *fakeAdmin {
	f := &fakeAdmin{overrides: map[string]overrideEntry{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func writeErr(w http.ResponseWriter, status int, code, msg string, extra ...string) {
	e := map[string]string{"code": code, "message": msg}
	for i := 0; i+1 < len(extra); i += 2 {
		e[extra[i]] = extra[i+1]
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAdmin) last() adminRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

func (f *fakeAdmin) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	req := adminRequest{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery, auth: r.Header.Get("Authorization")}
	if r.Body != nil {
		_ = json.NewDecoder(r.Body).Decode(&req.body)
	}
	f.requests = append(f.requests, req)
	if f.leader != "" {
		writeErr(w, http.StatusServiceUnavailable, "not_leader", "this server is a standby; overrides go through the leader", "leader", f.leader)
		return
	}
	switch req.auth {
	case "Bearer " + testAdminToken:
	case "Bearer " + testViewerToken:
		writeErr(w, http.StatusForbidden, "forbidden", "a viewer key cannot change overrides")
		return
	default:
		writeErr(w, http.StatusUnauthorized, "unauthorized", "missing or unknown key")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/admin/overrides")
	switch {
	case !ok:
		writeErr(w, http.StatusNotFound, "not_found", "unknown path")
	case rest == "" && r.Method == http.MethodGet:
		list := []overrideEntry{}
		for _, o := range f.overrides {
			if env := r.URL.Query().Get("env"); env == "" || env == o.Environment {
				list = append(list, o)
			}
		}
		writeJSON(w, map[string]any{"overrides": list})
	case strings.Count(rest, "/") == 2:
		env, flag, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
		f.change(w, r.Method, env, flag, req.body)
	default:
		writeErr(w, http.StatusNotFound, "not_found", "unknown path")
	}
}

func (f *fakeAdmin) change(w http.ResponseWriter, method, env, flag string, body map[string]any) {
	if env != "production" && env != "staging" {
		writeErr(w, http.StatusNotFound, "not_found", fmt.Sprintf("unknown environment %q", env))
		return
	}
	variants, ok := fakeFlags[flag]
	if !ok {
		writeErr(w, http.StatusNotFound, "not_found", fmt.Sprintf("unknown flag %q in %s", flag, env))
		return
	}
	key := env + "/" + flag
	str := func(k string) string { s, _ := body[k].(string); return s }
	switch method {
	case http.MethodPut:
		serve := str("serve")
		if off, _ := body["off"].(bool); off {
			serve = "off"
		}
		if str("reason") == "" {
			writeErr(w, http.StatusBadRequest, "bad_request", "reason: required")
			return
		}
		found := false
		for _, v := range variants {
			found = found || v == serve
		}
		if !found {
			writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("serve: unknown variant %q of %s (variants: %s)", serve, flag, strings.Join(variants, ", ")))
			return
		}
		at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
		o := overrideEntry{Environment: env, Flag: flag, Serve: serve, Reason: str("reason"), By: str("by"),
			At: at.Format(time.RFC3339), Expires: str("expires"), Source: "layer", Writeback: "pending"}
		if d, err := time.ParseDuration(str("for")); err == nil {
			o.Expires = at.Add(d).Format(time.RFC3339)
		}
		f.overrides[key] = o
		f.counter++
		writeJSON(w, map[string]any{"override": o, "version": fmt.Sprintf("530526d2e559-%d", f.counter)})
	case http.MethodDelete:
		if _, ok := f.overrides[key]; !ok {
			writeErr(w, http.StatusNotFound, "not_found", fmt.Sprintf("no override of %s in %s", flag, env))
			return
		}
		delete(f.overrides, key)
		f.counter++
		writeJSON(w, map[string]any{"cleared": true, "version": fmt.Sprintf("530526d2e559-%d", f.counter)})
	default:
		writeErr(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed")
	}
}

func TestOverrideServerSetListClear(t *testing.T) {
	f := newFakeAdmin(t)
	env := map[string]string{"FLAGPOLE_SERVER": f.URL, adminTokenEnv: testAdminToken, "USER": "alice"}

	r := runCLI(t, env, "override", "set", "checkout-v2", "--env", "production", "--off", "--for", "2h", "--reason", "5xx spike")
	if r.code != exitOK {
		t.Fatalf("set: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	req := f.last()
	if req.method != http.MethodPut || req.path != "/v1/admin/overrides/production/checkout-v2" || req.auth != "Bearer "+testAdminToken {
		t.Errorf("request %s %s auth %q", req.method, req.path, req.auth)
	}
	wantBody := map[string]any{"off": true, "reason": "5xx spike", "by": "alice", "for": "2h0m0s"}
	if fmt.Sprint(req.body) != fmt.Sprint(wantBody) {
		t.Errorf("body %v, want %v", req.body, wantBody)
	}
	want := `checkout-v2 in production now serves "off" until 2026-11-21T12:00:00Z (version 530526d2e559-1); write-back: pending, the leader commits overrides/production/checkout-v2.yaml`
	if strings.TrimSpace(r.stdout) != want {
		t.Errorf("output:\n%s\nwant:\n%s", r.stdout, want)
	}

	r = runCLI(t, env, "override", "set", "homepage-hero", "--env", "staging", "--serve", "bold", "--by", "bob",
		"--until", "2099-01-01T00:00:00Z", "--reason", "demo")
	if r.code != exitOK {
		t.Fatalf("set --serve: exit %d\n%s", r.code, r.stderr)
	}
	wantBody = map[string]any{"serve": "bold", "reason": "demo", "by": "bob", "expires": "2099-01-01T00:00:00Z"}
	if got := f.last().body; fmt.Sprint(got) != fmt.Sprint(wantBody) {
		t.Errorf("body %v, want %v", got, wantBody)
	}

	r = runCLI(t, env, "override", "list", "--env", "production")
	if req := f.last(); r.code != exitOK || req.method != http.MethodGet || req.path != "/v1/admin/overrides" || req.query != "env=production" {
		t.Fatalf("list: exit %d, request %+v\n%s", r.code, req, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ENVIRONMENT") ||
		!strings.Contains(lines[1], "checkout-v2") || !strings.Contains(lines[1], "layer") || !strings.Contains(lines[1], "pending") {
		t.Errorf("list output:\n%s", r.stdout)
	}
	r = runCLI(t, env, "override", "list", "--format", "json")
	var ans struct{ Overrides []overrideEntry }
	if err := json.Unmarshal([]byte(r.stdout), &ans); err != nil || len(ans.Overrides) != 2 {
		t.Errorf("list json: %v\n%s", err, r.stdout)
	}

	r = runCLI(t, env, "override", "clear", "checkout-v2", "--env", "production", "--reason", "fixed")
	if r.code != exitOK {
		t.Fatalf("clear: exit %d\n%s", r.code, r.stderr)
	}
	req = f.last()
	if req.method != http.MethodDelete || req.path != "/v1/admin/overrides/production/checkout-v2" ||
		fmt.Sprint(req.body) != fmt.Sprint(map[string]any{"reason": "fixed", "by": "alice"}) {
		t.Errorf("clear request %+v", req)
	}
	want = "checkout-v2 in production is evaluated by its rules again (version 530526d2e559-3); write-back: the leader removes overrides/production/checkout-v2.yaml"
	if strings.TrimSpace(r.stdout) != want {
		t.Errorf("clear output:\n%s\nwant:\n%s", r.stdout, want)
	}
}

func TestOverrideServerErrors(t *testing.T) {
	f := newFakeAdmin(t)
	standby := newFakeAdmin(t)
	standby.leader = "http://10.0.0.7:8080"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(testViewerToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	set := func(server string, extra ...string) []string {
		return append([]string{"override", "set", "checkout-v2", "--server", server, "--env", "production", "--reason", "r"}, extra...)
	}
	tests := []struct {
		name  string
		token string
		args  []string
		want  string
	}{
		{"no token", "", set(f.URL, "--off"), "wants an admin token (401 unauthorized: missing or unknown key): set FLAGPOLE_ADMIN_TOKEN"},
		{"wrong token", "fp_adm_wrong_token", set(f.URL, "--off"), "refused the admin token"},
		{"viewer token from file", "", set(f.URL, "--off", "--token-file", tokenFile), "not allowed to do this (403 forbidden: a viewer key cannot change overrides)"},
		{"unknown variant", testAdminToken, set(f.URL, "--serve", "maybe"), `checkout-v2 in production: ` + f.URL + ` answered 400 bad_request: serve: unknown variant "maybe" of checkout-v2 (variants: on, off)`},
		{"unknown flag", testAdminToken, []string{"override", "set", "nope", "--server", f.URL, "--env", "production", "--off", "--reason", "r"}, `404 not_found: unknown flag "nope" in production`},
		{"clear none", testAdminToken, []string{"override", "clear", "checkout-v2", "--server", f.URL, "--env", "staging"}, "no override of checkout-v2 is in force in staging"},
		{"not leader", testAdminToken, set(standby.URL, "--off"), "is not the leader; the leader is http://10.0.0.7:8080: run again with --server http://10.0.0.7:8080"},
		{"unreachable", testAdminToken, set("http://127.0.0.1:1", "--off"), "cannot reach http://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, map[string]string{adminTokenEnv: tt.token}, tt.args...)
			if r.code != exitFailure || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d (want 1), stderr lacks %q:\n%s", r.code, tt.want, r.stderr)
			}
			for _, secret := range []string{testAdminToken, testViewerToken, "fp_adm_wrong_token"} {
				if strings.Contains(r.stdout+r.stderr, secret) {
					t.Errorf("output shows a token:\n%s%s", r.stdout, r.stderr)
				}
			}
		})
	}
}

// TestOverrideServerFlagBeatsEnv checks that --repo on the command line
// wins over FLAGPOLE_SERVER (and the other way round).
func TestOverrideServerFlagBeatsEnv(t *testing.T) {
	f := newFakeAdmin(t)
	r := runCLI(t, map[string]string{"FLAGPOLE_REPO": "/nonexistent", adminTokenEnv: testAdminToken},
		"override", "list", "--server", f.URL)
	if r.code != exitOK {
		t.Errorf("--server with FLAGPOLE_REPO set: exit %d\n%s", r.code, r.stderr)
	}
	r = runCLI(t, map[string]string{"FLAGPOLE_REPO": "/nonexistent", "FLAGPOLE_SERVER": f.URL}, "override", "list")
	if r.code != exitUsage || !strings.Contains(r.stderr, "both FLAGPOLE_SERVER and FLAGPOLE_REPO are set") {
		t.Errorf("both variables: exit %d\n%s", r.code, r.stderr)
	}
}
