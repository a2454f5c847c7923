package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/fromrepo"
	flagpoleof "github.com/flagpole/flagpole/sdk/openfeature"
)

// TestCheckout runs the service on the example repository, offline, with
// the SDK and with OpenFeature.
func TestCheckout(t *testing.T) {
	doc, err := fromrepo.Document("../../flags.example", "production")
	if err != nil {
		t.Fatalf("loading the example repository: %v", err)
	}
	client, err := sdk.New(context.Background(), sdk.Options{
		Offline: true, BootstrapDocument: doc,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("sdk.New: %v", err)
	}
	defer client.Close()
	api := isolated.NewAPI()
	defer func() { _ = api.Shutdown(context.Background()) }()
	if err := api.SetProviderAndWait(context.Background(), flagpoleof.NewProvider(client)); err != nil {
		t.Fatalf("SetProviderAndWait: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, mode := range []struct {
		name string
		of   *of.Client
	}{{"sdk", nil}, {"openfeature", api.NewClient()}} {
		srv := httptest.NewServer((&service{flags: client, of: mode.of, log: log}).routes())
		defer srv.Close()
		tests := []struct {
			query, flow, reason string
			status              int
		}{
			{"user=audrey", "v2", "TARGETING_MATCH", 200},
			{"user=someone&plan=free", "", "", 200}, // rollout: either flow, but a SPLIT
			{"", "", "", 400},
		}
		for _, tt := range tests {
			t.Run(mode.name+"/"+tt.query, func(t *testing.T) {
				resp, err := http.Get(srv.URL + "/checkout?" + tt.query)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
				}
				if tt.status != 200 {
					return
				}
				var page checkoutPage
				if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
					t.Fatal(err)
				}
				if tt.flow != "" && (page.Flow != tt.flow || page.Reason != tt.reason) {
					t.Errorf("flow %q reason %q, want %q %q", page.Flow, page.Reason, tt.flow, tt.reason)
				}
				if tt.flow == "" && page.Reason != "SPLIT" {
					t.Errorf("reason %q, want SPLIT from the gradual rollout", page.Reason)
				}
				if page.FlagsVersion == "" || page.MaxCartItems == 0 || page.SearchRanking == "" {
					t.Errorf("page %+v lacks flag values", page)
				}
			})
		}
	}
}
