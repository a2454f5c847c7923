package openfeature_test

import (
	"context"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/sdk/internal/sdktest"
	flagpoleof "github.com/flagpole/flagpole/sdk/openfeature"
)

// A flag's metadata reaches an OpenFeature client as flag metadata, with
// the rule set's version, and rule-less flags report STATIC; a failed
// prerequisite reports PREREQUISITE_FAILED.
func TestFlagMetadataAndNewReasons(t *testing.T) {
	banner := sdktest.ValueFlag("banner-text", ruleset.TypeString, `"Welcome"`)
	banner.Metadata = map[string]any{"jira": "GROW-123", "tier": 2.0, "reviewed": true}
	gated := sdktest.BoolFlag("gated", true)
	gated.Requires = []ruleset.Prerequisite{{Flag: "checkout-v2", Variants: []string{"on"}}}
	f := sdktest.NewFleet(t)
	f.Publish(sdktest.Doc("v1", sdktest.BoolFlag("checkout-v2", false, "audrey"), banner, gated))
	b := f.Start("127.0.0.1:0")
	c := newClient(t, b.URL(), f.ServerKey, 10*time.Second)
	api := isolated.NewAPI()
	t.Cleanup(func() { _ = api.Shutdown(context.Background()) })
	if err := api.SetProviderAndWait(context.Background(), flagpoleof.NewProvider(c)); err != nil {
		t.Fatal(err)
	}
	client := api.NewClient()
	ctx := context.Background()
	d, err := client.StringValueDetails(ctx, "banner-text", "x", of.NewEvaluationContext("bob", nil))
	if err != nil {
		t.Fatal(err)
	}
	md := d.FlagMetadata
	if d.Reason != of.StaticReason || md["jira"] != "GROW-123" || md["tier"] != 2.0 || md["reviewed"] != true || md["version"] != "v1" {
		t.Errorf("banner-text: reason %s, metadata %v", d.Reason, md)
	}
	for key, want := range map[string]of.Reason{"audrey": of.DefaultReason, "bob": "PREREQUISITE_FAILED"} {
		d, err := client.BooleanValueDetails(ctx, "gated", false, of.NewEvaluationContext(key, nil))
		if err != nil || d.Reason != want {
			t.Errorf("gated for %s: %+v %v, want reason %s", key, d, err, want)
		}
	}
}
