package bearer

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/ruleset"
)

func TestAuth(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"), testDoc("staging", "s1"))
	ofrepBody := ctxBody(`{"targetingKey":"u"}`)
	tests := []struct {
		name         string
		method, path string
		key, body    string
		hdr          []string
		want         int
		wantCode     string
	}{
		{"flags without key", "GET", "/v1/flags", "", "", nil, 401, httpx.CodeUnauthorized},
		{"flags with unknown key", "GET", "/v1/flags", "nope", "", nil, 401, httpx.CodeUnauthorized},
		{"flags with basic auth", "GET", "/v1/flags", "", "", []string{"Authorization", "Basic " + serverKey}, 401, httpx.CodeUnauthorized},
		{"flags with client key", "GET", "/v1/flags", clientKey, "", nil, 403, httpx.CodeForbidden},
		{"flags with server key", "GET", "/v1/flags", serverKey, "", nil, 200, ""},
		{"flags with staging key", "GET", "/v1/flags", stagingKey, "", nil, 200, ""},
		{"stream with client key", "GET", "/v1/stream", clientKey, "", nil, 403, httpx.CodeForbidden},
		{"stream without key", "GET", "/v1/stream", "", "", nil, 401, httpx.CodeUnauthorized},
		{"evaluate without key", "POST", "/v1/evaluate", "", "{}", nil, 401, httpx.CodeUnauthorized},
		{"evaluate with unknown key", "POST", "/v1/evaluate", serverKey + "x", "{}", nil, 401, httpx.CodeUnauthorized},
		{"evaluate with client key", "POST", "/v1/evaluate", clientKey, "{}", nil, 200, ""},
		{"evaluate with server key", "POST", "/v1/evaluate", serverKey, "{}", nil, 200, ""},
		{"evaluate with X-API-Key", "POST", "/v1/evaluate", "", "{}", []string{"X-API-Key", clientKey}, 200, ""},
		{"ofrep without key", "POST", "/ofrep/v1/evaluate/flags/banner", "", ofrepBody, nil, 401, ""},
		{"ofrep bulk with unknown key", "POST", "/ofrep/v1/evaluate/flags", "bad", ofrepBody, nil, 401, ""},
		{"ofrep with client key", "POST", "/ofrep/v1/evaluate/flags/banner", clientKey, ofrepBody, nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := f.do(tt.method, tt.path, tt.key, tt.body, tt.hdr...)
			if status != tt.want {
				t.Fatalf("status %d, want %d: %s", status, tt.want, body)
			}
			if tt.wantCode != "" {
				if e := decode[httpx.ErrorBody](t, body); e.Error.Code != tt.wantCode || e.Error.Message == "" {
					t.Errorf("error %+v, want code %s and a message", e.Error, tt.wantCode)
				}
			}
			for _, k := range []string{serverKey, clientKey, stagingKey} {
				if strings.Contains(string(body), k) {
					t.Errorf("response contains an SDK key: %s", body)
				}
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"))
	tests := []struct {
		name, key, ctx string
		want           map[string]string // flag → variant/reason
	}{
		{"client key sees client flags only", clientKey, `{"key":"audrey"}`,
			map[string]string{"banner": "on/TARGETING_MATCH", "color": "red/STATIC"}},
		{"server key sees every flag", serverKey, `{"key":"bob","state":"CA"}`,
			map[string]string{"banner": "off/DEFAULT", "checkout-v2": "on/TARGETING_MATCH", "color": "red/STATIC"}},
		{"no context", serverKey, `null`,
			map[string]string{"banner": "off/DEFAULT", "checkout-v2": "off/DEFAULT", "color": "red/STATIC"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := f.do("POST", "/v1/evaluate", tt.key, ctxBody(tt.ctx))
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			got := decode[evalResponse](t, body)
			if got.Version != "v1" {
				t.Errorf("version %q, want v1", got.Version)
			}
			if len(got.Flags) != len(tt.want) {
				t.Errorf("flags %s, want %v", body, tt.want)
			}
			for k, want := range tt.want {
				r, ok := got.Flags[k]
				if !ok || r.Variant+"/"+r.Reason != want {
					t.Errorf("flag %s: %+v, want %s", k, r, want)
				}
			}
		})
	}
	t.Run("values", func(t *testing.T) {
		_, _, body := f.do("POST", "/v1/evaluate", clientKey, ctxBody(`{"key":"rob"}`))
		got := decode[evalResponse](t, body)
		if got.Flags["banner"].Value != true || got.Flags["color"].Value != "#f00" {
			t.Errorf("values %s", body)
		}
	})
}

func TestEvaluateBadInput(t *testing.T) {
	f := newFixture(t, Options{MaxBodyBytes: 4096, MaxContextBytes: 1024}, testDoc("production", "v1"))
	tests := []struct {
		name, body string
		want       int
		wantIn     string // in the error message
	}{
		{"not JSON", `{"context":`, 400, "JSON"},
		{"context not an object", `{"context":[1,2]}`, 400, "object"},
		{"array attribute", `{"context":{"key":"a","tags":["x"]}}`, 400, "tags"},
		{"duplicate attribute", `{"context":{"key":"a","key":"b"}}`, 400, "key"},
		{"context too large", ctxBody(`{"key":"` + strings.Repeat("a", 2000) + `"}`), 413, "1024"},
		{"body too large", ctxBody(`{"key":"a"}`) + strings.Repeat(" ", 5000), 413, "4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := f.do("POST", "/v1/evaluate", serverKey, tt.body)
			if status != tt.want {
				t.Fatalf("status %d, want %d: %s", status, tt.want, body)
			}
			e := decode[httpx.ErrorBody](t, body)
			if !strings.Contains(e.Error.Message, tt.wantIn) {
				t.Errorf("message %q does not name %q", e.Error.Message, tt.wantIn)
			}
		})
	}
}

func TestFlagsETag(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"))
	status, hdr, body := f.do("GET", "/v1/flags", serverKey, "")
	if status != 200 || hdr.Get("ETag") != `"v1"` {
		t.Fatalf("status %d, ETag %q", status, hdr.Get("ETag"))
	}
	doc := decode[ruleset.Document](t, body)
	if doc.Version != "v1" || doc.Flags.Len() != 3 || doc.Flags.Get("checkout-v2") == nil {
		t.Errorf("document %s", body)
	}
	if strings.Contains(string(body), hashKey(serverKey)) {
		t.Error("document contains a key hash")
	}
	tests := []struct {
		name, inm string
		want      int
	}{
		{"current version", `"v1"`, 304},
		{"weak and listed", `"v0", W/"v1"`, 304},
		{"star", `*`, 304},
		{"old version", `"v0"`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, _, _ := f.do("GET", "/v1/flags", serverKey, "", "If-None-Match", tt.inm); status != tt.want {
				t.Errorf("status %d, want %d", status, tt.want)
			}
		})
	}
	t.Run("after a publish", func(t *testing.T) {
		f.publish(testDoc("production", "v2"))
		f.waitVersion("production", "v2")
		status, hdr, _ := f.do("GET", "/v1/flags", serverKey, "", "If-None-Match", `"v1"`)
		if status != 200 || hdr.Get("ETag") != `"v2"` {
			t.Errorf("status %d, ETag %q", status, hdr.Get("ETag"))
		}
	})
}

func TestNotReady(t *testing.T) {
	f := newFixture(t, Options{})
	for _, p := range []struct{ method, path string }{{"GET", "/readyz"}, {"POST", "/v1/evaluate"}, {"GET", "/v1/flags"}} {
		t.Run(p.path, func(t *testing.T) {
			status, _, body := f.do(p.method, p.path, serverKey, "{}")
			if status != 503 || decode[httpx.ErrorBody](t, body).Error.Code != httpx.CodeNotReady {
				t.Errorf("status %d: %s", status, body)
			}
		})
	}
	if status, _, _ := f.do("GET", "/healthz", "", ""); status != 200 {
		t.Errorf("healthz %d", status)
	}
	f.publish(testDoc("production", "v1"))
	f.waitVersion("production", "v1")
	if status, _, body := f.do("GET", "/readyz", "", ""); status != 200 {
		t.Errorf("readyz after load: %d %s", status, body)
	}
}

func TestCORS(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"))
	for _, path := range []string{"/v1/evaluate", "/v1/stream/evaluated", "/ofrep/v1/evaluate/flags/banner", "/ofrep/v1/evaluate/flags"} {
		t.Run(path, func(t *testing.T) {
			status, hdr, _ := f.do("OPTIONS", path, "", "", "Origin", "https://example.com",
				"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
			if status != 204 || hdr.Get("Access-Control-Allow-Origin") != "*" ||
				!strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "Authorization") {
				t.Errorf("preflight %d %v", status, hdr)
			}
		})
	}
	_, hdr, _ := f.do("POST", "/v1/evaluate", clientKey, "{}", "Origin", "https://example.com")
	if hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("no CORS header on evaluate: %v", hdr)
	}
	if _, hdr, _ := f.do("GET", "/v1/flags", serverKey, "", "Origin", "https://example.com"); hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Error("server endpoint allows cross-origin calls")
	}
}

func TestMethodAndPath(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"))
	if status, _, _ := f.do("GET", "/v1/evaluate", clientKey, ""); status != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/evaluate: %d", status)
	}
	if status, _, body := f.do("GET", "/v2/nothing", "", ""); status != 404 || decode[httpx.ErrorBody](t, body).Error.Code != httpx.CodeNotFound {
		t.Errorf("unknown path: %d %s", status, body)
	}
}

// TestContextNowIgnored checks that a caller cannot choose the evaluation
// time: a kill-switch override stays in force whatever "now" it sends.
func TestContextNowIgnored(t *testing.T) {
	doc := testDoc("production", "v1")
	doc.Flags.Get("banner").Rules = nil
	doc.Flags.Get("banner").Default = "on"
	expires := time.Now().Add(time.Hour)
	doc.Overrides = map[string]*ruleset.Override{"banner": {
		Flag: "banner", Environment: "production", Serve: "off", By: "on-call", At: time.Now(), Expires: &expires,
	}}
	f := newFixture(t, Options{}, doc)
	for _, ctx := range []string{`{"key":"a"}`, `{"key":"a","now":"2999-01-01T00:00:00Z"}`} {
		_, _, body := f.do("POST", "/v1/evaluate", clientKey, ctxBody(ctx))
		got := decode[evalResponse](t, body)
		if r := got.Flags["banner"]; r.Variant != "off" || r.Reason != "OVERRIDE" {
			t.Errorf("context %s: banner %+v, want off/OVERRIDE", ctx, r)
		}
	}
}
