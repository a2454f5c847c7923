package bearer

import (
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/store"
)

// TestAdminKeysRefusedOnSDKEndpoints checks that admin and viewer keys,
// which travel in the snapshot for the admin API and the dashboard, are
// known to the bearer (403, wrong kind) but open no SDK endpoint.
func TestAdminKeysRefusedOnSDKEndpoints(t *testing.T) {
	const adminKey, viewerKey, stagingAdmin = "fp_adm_0123456789", "fp_vwr_0123456789", "fp_adm_staging_0123456789"
	f := newFixture(t, Options{})
	doc := testDoc("production", "v1")
	keys := append(testKeys(),
		store.Key{Name: "oncall", Kind: store.KeyAdmin, Environments: []string{"production"}, SHA256: hashKey(adminKey)},
		store.Key{Name: "dash", Kind: store.KeyViewer, SHA256: hashKey(viewerKey)},
		store.Key{Name: "staging-oncall", Kind: store.KeyAdmin, Environments: []string{"staging"}, SHA256: hashKey(stagingAdmin)},
	)
	f.publishSnap(&store.Snapshot{Environment: "production", Version: "v1", Document: doc, Keys: keys, Published: time.Now()})
	f.waitVersion("production", "v1")
	ofrepBody := ctxBody(`{"targetingKey":"u"}`)
	tests := []struct {
		name         string
		method, path string
		key, body    string
		want         int
	}{
		{"flags with admin key", "GET", "/v1/flags", adminKey, "", 403},
		{"flags with viewer key", "GET", "/v1/flags", viewerKey, "", 403},
		{"stream with admin key", "GET", "/v1/stream", adminKey, "", 403},
		{"evaluate with admin key", "POST", "/v1/evaluate", adminKey, "{}", 403},
		{"evaluate with viewer key", "POST", "/v1/evaluate", viewerKey, "{}", 403},
		{"evaluated stream with viewer key", "GET", "/v1/stream/evaluated?context=e30", viewerKey, "", 403},
		{"ofrep with admin key", "POST", "/ofrep/v1/evaluate/flags/banner", adminKey, ofrepBody, 403},
		{"ofrep bulk with viewer key", "POST", "/ofrep/v1/evaluate/flags", viewerKey, ofrepBody, 403},
		// Not a key of any environment the bearer serves: unknown.
		{"flags with another environment's admin key", "GET", "/v1/flags", stagingAdmin, "", 401},
		{"flags with server key", "GET", "/v1/flags", serverKey, "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := f.do(tt.method, tt.path, tt.key, tt.body)
			if status != tt.want {
				t.Fatalf("status %d, want %d: %s", status, tt.want, body)
			}
			if tt.want == 403 && !strings.HasPrefix(tt.path, "/ofrep/") { // OFREP has its own error body
				if e := decode[httpx.ErrorBody](t, body); e.Error.Code != httpx.CodeForbidden {
					t.Errorf("error %+v, want code %s", e.Error, httpx.CodeForbidden)
				}
			}
		})
	}
}
