package surface

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/flagpole/flagpole/internal/httpx"
)

type fakeAdmin struct{}

func (fakeAdmin) Handle(m *httpx.Mux) {
	m.Handle("GET", "/v1/admin/overrides", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"overrides": []any{}})
	}))
}

func (fakeAdmin) HandleTriggers(m *httpx.Mux) {
	m.Handle("POST", "/v1/triggers/{token}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"token": r.PathValue("token")})
	}))
}

// TestAdminAndStatusExtra: triggers on every role with an Admin, the admin
// API only with AdminAPI, and the status gains StatusExtra's fields.
func TestAdminAndStatusExtra(t *testing.T) {
	extra := func(context.Context) map[string]any {
		return map[string]any{"overrides": map[string]any{}, "writeback": map[string]any{"pending": []any{}}}
	}
	tests := []struct {
		name      string
		o         Options
		adminCode int
	}{
		{"syncer", Options{Syncer: fakeSyncer{}, Admin: fakeAdmin{}, AdminAPI: true, StatusExtra: extra}, 200},
		{"bearer alone", Options{Bearer: fakeBearer{}, Admin: fakeAdmin{}, StatusExtra: extra}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Handler(tt.o)
			if code, body := do(h, "POST", "/v1/triggers/abc"); code != 200 || body != `{"token":"abc"}` {
				t.Errorf("trigger: %d %s", code, body)
			}
			code, body := do(h, "GET", "/v1/admin/overrides")
			if tt.o.AdminAPI && code != 200 {
				t.Errorf("admin API: %d %s", code, body)
			}
			if !tt.o.AdminAPI && code == 200 && body == `{"overrides":[]}` {
				t.Error("the admin API is served without AdminAPI")
			}
			code, body = do(h, "GET", "/v1/status")
			var st map[string]any
			if tt.o.Syncer != nil {
				if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil || st["source"] != "flags" || st["writeback"] == nil || st["overrides"] == nil {
					t.Errorf("status: %d %s", code, body)
				}
			} else if body != "bearer status" {
				// Not a JSON object: passed through unchanged.
				t.Errorf("status: %d %s", code, body)
			}
		})
	}
}

// StatusDetail's fields join the status only when it returns them (it
// checks the caller's key), next to StatusExtra's.
func TestStatusDetail(t *testing.T) {
	h := Handler(Options{Syncer: fakeSyncer{},
		StatusExtra: func(context.Context) map[string]any { return nil },
		StatusDetail: func(r *http.Request) map[string]any {
			if r.Header.Get("Authorization") != "Bearer viewer" {
				return nil
			}
			return map[string]any{"bearers": []any{}}
		}})
	for _, tc := range []struct {
		auth string
		want bool
	}{{"", false}, {"Bearer viewer", true}} {
		r, _ := http.NewRequest("GET", "/v1/status", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var st map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &st); w.Code != 200 || err != nil || st["source"] != "flags" {
			t.Fatalf("%q: %d %s", tc.auth, w.Code, w.Body)
		}
		if _, ok := st["bearers"]; ok != tc.want {
			t.Errorf("%q: bearers present %v, want %v: %s", tc.auth, ok, tc.want, w.Body)
		}
	}
}
