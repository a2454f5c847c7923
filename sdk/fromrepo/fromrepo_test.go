package fromrepo_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/fromrepo"
)

func TestBootstrapFromRepository(t *testing.T) {
	tests := []struct {
		env     string
		want    bool // checkout-v2 for a user outside the allow list
		variant string
	}{
		{"production", false, "off"},
		{"staging", true, "on"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			doc, err := fromrepo.Document("../../flags.example", tt.env)
			if err != nil {
				t.Fatalf("Document: %v", err)
			}
			c, err := sdk.New(context.Background(), sdk.Options{
				Offline: true, BootstrapDocument: doc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer c.Close()
			d := c.BoolDetail("checkout-v2", sdk.Context{"key": "not-listed-user-7"}, !tt.want)
			if d.Value != tt.want || d.ErrorCode != 0 || d.Variant != tt.variant {
				t.Errorf("checkout-v2 = %+v, want %v (%s)", d, tt.want, tt.variant)
			}
			if !c.Bool("checkout-v2", sdk.Context{"key": "audrey"}, false) {
				t.Error("audrey is on the allow list in every environment")
			}
			if c.Version() == "" || c.Document().Environment != tt.env {
				t.Errorf("version %q environment %q", c.Version(), c.Document().Environment)
			}
		})
	}
}

func TestDocumentErrors(t *testing.T) {
	tests := []struct {
		name, dir, env, want string
	}{
		{"environment required", "../../flags.example", "", "has environments [production staging]: name one"},
		{"unknown environment", "../../flags.example", "qa", `no environment "qa"`},
		{"not a repository", "testdata/missing", "", "loading bootstrap repository testdata/missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fromrepo.Document(tt.dir, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
