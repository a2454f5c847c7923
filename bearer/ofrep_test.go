package bearer

import (
	"strings"
	"testing"
)

// ofrepResult is an OFREP evaluation success or failure.
type ofrepResult struct {
	Key          string         `json:"key"`
	Value        any            `json:"value"`
	Reason       string         `json:"reason"`
	Variant      string         `json:"variant"`
	Metadata     map[string]any `json:"metadata"`
	ErrorCode    string         `json:"errorCode"`
	ErrorDetails string         `json:"errorDetails"`
}

func TestOFREPFlag(t *testing.T) {
	f := newFixture(t, Options{MaxContextBytes: 512, MaxBodyBytes: 4096}, testDoc("production", "v1"))
	tests := []struct {
		name, flag, key, body string
		want                  int
		wantVariant, wantCode string
		wantReason            string
	}{
		{"targetingKey is our key", "banner", clientKey, ctxBody(`{"targetingKey":"audrey"}`), 200, "on", "", "TARGETING_MATCH"},
		{"key attribute wins over targetingKey", "banner", clientKey, ctxBody(`{"targetingKey":"x","key":"rob"}`), 200, "on", "", "TARGETING_MATCH"},
		{"structured attributes are ignored", "banner", clientKey, ctxBody(`{"targetingKey":"audrey","geo":{"lat":1},"tags":["a"]}`), 200, "on", "", "TARGETING_MATCH"},
		{"no body", "color", clientKey, "", 200, "red", "", "STATIC"},
		{"server key sees server flags", "checkout-v2", serverKey, ctxBody(`{"state":"WA"}`), 200, "on", "", "TARGETING_MATCH"},
		{"unknown flag", "nope", serverKey, ctxBody(`{}`), 404, "", "FLAG_NOT_FOUND", ""},
		{"client key and server flag", "checkout-v2", clientKey, ctxBody(`{}`), 404, "", "FLAG_NOT_FOUND", ""},
		{"malformed body", "banner", clientKey, `{"context":`, 400, "", "PARSE_ERROR", ""},
		{"context not an object", "banner", clientKey, `{"context":"x"}`, 400, "", "INVALID_CONTEXT", ""},
		{"context too large", "banner", clientKey, ctxBody(`{"targetingKey":"` + strings.Repeat("a", 600) + `"}`), 400, "", "INVALID_CONTEXT", ""},
		{"body too large", "banner", clientKey, ctxBody(`{}`) + strings.Repeat(" ", 5000), 400, "", "GENERAL", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := f.do("POST", "/ofrep/v1/evaluate/flags/"+tt.flag, tt.key, tt.body, "Content-Type", "application/json")
			if status != tt.want {
				t.Fatalf("status %d, want %d: %s", status, tt.want, body)
			}
			r := decode[ofrepResult](t, body)
			if tt.want == 200 && r.Key != tt.flag {
				t.Errorf("key %q", r.Key)
			}
			if r.Variant != tt.wantVariant || r.ErrorCode != tt.wantCode || r.Reason != tt.wantReason {
				t.Errorf("got %s", body)
			}
			if tt.want == 200 && (r.Value == nil || r.Metadata["version"] != "v1") {
				t.Errorf("value or metadata missing: %s", body)
			}
			if tt.want != 200 && r.ErrorDetails == "" {
				t.Errorf("no errorDetails: %s", body)
			}
		})
	}
}

func TestOFREPBulk(t *testing.T) {
	f := newFixture(t, Options{}, testDoc("production", "v1"))
	type bulk struct {
		Flags []ofrepResult `json:"flags"`
	}
	status, hdr, body := f.do("POST", "/ofrep/v1/evaluate/flags", clientKey, ctxBody(`{"targetingKey":"audrey"}`))
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	got := decode[bulk](t, body)
	if len(got.Flags) != 2 || got.Flags[0].Key != "banner" || got.Flags[0].Value != true || got.Flags[1].Key != "color" {
		t.Errorf("client bulk %s", body)
	}
	etag := hdr.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || len(etag) < 4 {
		t.Fatalf("ETag %q", etag)
	}
	tests := []struct {
		name, key, ctx, inm string
		want                int
	}{
		{"same context and ETag", clientKey, `{"targetingKey":"audrey"}`, etag, 304},
		{"other result", clientKey, `{"targetingKey":"bob"}`, etag, 200},
		{"server key sees more", serverKey, `{"targetingKey":"audrey"}`, etag, 200},
		{"no If-None-Match", clientKey, `{"targetingKey":"audrey"}`, "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdrs []string
			if tt.inm != "" {
				hdrs = []string{"If-None-Match", tt.inm}
			}
			status, h, body := f.do("POST", "/ofrep/v1/evaluate/flags", tt.key, ctxBody(tt.ctx), hdrs...)
			if status != tt.want {
				t.Errorf("status %d, want %d: %s", status, tt.want, body)
			}
			if h.Get("ETag") == "" {
				t.Error("no ETag")
			}
		})
	}
	t.Run("oversized context is a bad request", func(t *testing.T) {
		status, _, body := f.do("POST", "/ofrep/v1/evaluate/flags", clientKey, ctxBody(`{"targetingKey":"`+strings.Repeat("a", 70<<10)+`"}`))
		r := decode[ofrepResult](t, body)
		if status != 400 || r.ErrorCode != "INVALID_CONTEXT" || r.Key != "" || r.ErrorDetails == "" {
			t.Errorf("status %d: %s", status, body)
		}
	})
	t.Run("changed flags change the ETag", func(t *testing.T) {
		f.publish(withDefault(testDoc("production", "v2"), "v2", "color", "blue"))
		f.waitVersion("production", "v2")
		status, h, _ := f.do("POST", "/ofrep/v1/evaluate/flags", clientKey, ctxBody(`{"targetingKey":"audrey"}`), "If-None-Match", etag)
		if status != 200 || h.Get("ETag") == etag {
			t.Errorf("status %d, ETag %q (was %q)", status, h.Get("ETag"), etag)
		}
	})
}
