package admin

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// Reader accepts viewer and admin keys (for their environments) and the
// admin token, and nothing else.
func TestReader(t *testing.T) {
	st := store.NewMemory()
	for _, env := range []string{"production", "staging"} {
		doc := &ruleset.Document{Environment: env, Version: "v1", Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{})}
		snap := &store.Snapshot{Environment: env, Version: "v1", Document: doc, Keys: []store.Key{
			{Name: "ops", Kind: store.KeyAdmin, SHA256: hash("admin-key")},
			{Name: "svc", Environment: env, Kind: store.KeyServer, SHA256: hash("sdk-key-" + env)},
		}}
		if env == "staging" {
			snap.Keys = append(snap.Keys, store.Key{Name: "qa", Environments: []string{"staging"}, Kind: store.KeyViewer, SHA256: hash("viewer-key")})
		}
		if err := st.Publish(context.Background(), snap); err != nil {
			t.Fatal(err)
		}
	}
	a, err := New(Options{Store: st, AdminToken: "the-token"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, auth string
		ok         bool
		production bool
	}{
		{"no key", "", false, false},
		{"not a bearer header", "Basic x", false, false},
		{"unknown key", "Bearer nope", false, false},
		{"SDK key", "Bearer sdk-key-production", false, false},
		{"viewer of staging", "Bearer viewer-key", true, false},
		{"admin key", "Bearer admin-key", true, true},
		{"admin token", "Bearer the-token", true, true},
	} {
		r := httptest.NewRequest("GET", "/v1/status", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		may, ok := a.Reader(r)
		if ok != tc.ok || (ok && (!may("staging") || may("production") != tc.production)) {
			t.Errorf("%s: ok %v (want %v)", tc.name, ok, tc.ok)
		}
	}
}
