package admin

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

func hash(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }

// newAPI serves an API over a memory store holding one environment with a
// boolean flag, an admin key, an SDK key and a trigger.
func newAPI(t *testing.T, opts Options) (*httptest.Server, *store.Memory) {
	t.Helper()
	st := store.NewMemory()
	doc := &ruleset.Document{Environment: "production", Version: "v1",
		Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{"kill": {Key: "kill", Off: "off"}})}
	snap := &store.Snapshot{Environment: "production", Version: "v1", Document: doc,
		Keys: []store.Key{
			{Name: "ops", Kind: store.KeyAdmin, SHA256: hash("admin-key")},
			{Name: "svc", Environment: "production", Kind: store.KeyServer, SHA256: hash("sdk-key")},
		},
		Triggers: []store.Trigger{{Name: "alert", Flag: "kill", Environment: "production", Action: store.TriggerOff, SHA256: hash("trg")}},
	}
	if err := st.Publish(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	opts.Store = st
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	m := httpx.NewMux()
	a.Handle(m)
	a.HandleTriggers(m)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return srv, st
}

func send(t *testing.T, method, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// TestTriggerPayloads: each tool's firing payload sets the override with
// its words as the reason; its resolved payload clears it.
func TestTriggerPayloads(t *testing.T) {
	tests := []struct {
		tool, firing, resolved, reason string
	}{
		{"alertmanager", `{"status":"firing","commonAnnotations":{"summary":"5xx high"}}`, `{"status":"resolved"}`, "5xx high (firing)"},
		{"grafana", `{"title":"[Alerting] 5xx","message":"m","state":"alerting"}`, `{"title":"[OK] 5xx","state":"ok"}`, "[Alerting] 5xx"},
		{"grafana unified", `{"title":"5xx","status":"firing"}`, `{"title":"5xx","status":"resolved"}`, "5xx (firing)"},
		{"datadog", `{"title":"5xx on checkout","alert_transition":"Triggered"}`, `{"title":"5xx","alert_transition":"Recovered"}`, "5xx on checkout"},
		{"pagerduty", `{"event":{"event_type":"incident.triggered","data":{"title":"checkout down"}}}`, `{"event":{"event_type":"incident.resolved"}}`, "checkout down"},
		{"no body", ``, `{"status":"resolved"}`, "alert trigger alert"},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			srv, st := newAPI(t, Options{})
			code, m := send(t, "POST", srv.URL+"/v1/triggers/trg", "", tt.firing)
			if code != 200 || m["action"] != "off" || m["serve"] != "off" {
				t.Fatalf("firing: %d %v", code, m)
			}
			l, _ := st.Layer(context.Background(), "production")
			e := l.Entries["kill"]
			if e.Override == nil || e.Override.Reason != tt.reason || e.By != "trigger:alert" {
				t.Errorf("entry %+v (override %+v); want reason %q by trigger:alert", e, e.Override, tt.reason)
			}
			code, m = send(t, "POST", srv.URL+"/v1/triggers/trg", "", tt.resolved)
			if code != 200 || m["action"] != "clear" {
				t.Fatalf("resolved: %d %v", code, m)
			}
			l, _ = st.Layer(context.Background(), "production")
			if e := l.Entries["kill"]; e.Override != nil {
				t.Errorf("resolved left %+v", e.Override)
			}
		})
	}
}

// TestAdminRefusals covers the answers that need no repository.
func TestAdminRefusals(t *testing.T) {
	standby := func(context.Context) (bool, string) { return false, "10.0.0.7:8081" }
	srv, _ := newAPI(t, Options{AdminToken: "tok", Leader: standby})
	put := srv.URL + "/v1/admin/overrides/production/kill"
	tests := []struct {
		name, method, url, key, body string
		code                         int
		errCode                      string
	}{
		{"wrong trigger", "POST", srv.URL + "/v1/triggers/nope", "", "", 404, "not_found"},
		{"empty trigger", "POST", srv.URL + "/v1/triggers/%20", "", "", 404, "not_found"},
		{"no key", "GET", srv.URL + "/v1/admin/overrides", "", "", 401, "unauthorized"},
		{"SDK key", "GET", srv.URL + "/v1/admin/overrides", "sdk-key", "", 403, "forbidden"},
		{"admin key reads on a standby", "GET", srv.URL + "/v1/admin/overrides", "admin-key", "", 200, ""},
		{"token writes on a standby", "PUT", put, "tok", `{"off":true,"reason":"r"}`, 503, CodeNotLeader},
		{"admin key deletes on a standby", "DELETE", put, "admin-key", "", 503, CodeNotLeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, m := send(t, tt.method, tt.url, tt.key, tt.body)
			e, _ := m["error"].(map[string]any)
			if code != tt.code || (tt.errCode != "" && e["code"] != tt.errCode) {
				t.Errorf("%d %v; want %d %s", code, m, tt.code, tt.errCode)
			}
			if tt.errCode == CodeNotLeader && e["leader"] != "10.0.0.7:8081" {
				t.Errorf("leader = %v", e["leader"])
			}
		})
	}
}

// TestAtIncreases: two overrides in the same millisecond get distinct at.
func TestAtIncreases(t *testing.T) {
	a, _ := New(Options{Store: store.NewMemory()})
	prev := a.now()
	for range 100 {
		at := a.now()
		if !at.After(prev) {
			t.Fatalf("at %s after %s", at, prev)
		}
		prev = at
	}
}
