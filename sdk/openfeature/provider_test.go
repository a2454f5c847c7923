package openfeature_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/internal/sdktest"
	flagpoleof "github.com/flagpole/flagpole/sdk/openfeature"
)

// allTypes is a rule set with a flag of every type.
func allTypes(version string, checkout bool) *ruleset.Document {
	return sdktest.Doc(version,
		sdktest.BoolFlag("checkout-v2", checkout, "audrey"),
		sdktest.ValueFlag("banner-text", ruleset.TypeString, `"Welcome"`),
		sdktest.ValueFlag("discount-rate", ruleset.TypeNumber, `0.25`),
		sdktest.ValueFlag("max-items", ruleset.TypeNumber, `40`),
		sdktest.ValueFlag("theme", ruleset.TypeJSON, `{"color":"blue"}`),
	)
}

// setup runs a bearer with allTypes, a client and a provider registered on
// a fresh OpenFeature API.
func setup(t *testing.T) (*sdktest.Fleet, *sdktest.Bearer, *sdk.Client, *of.EvaluationAPI, *of.Client) {
	t.Helper()
	f := sdktest.NewFleet(t)
	f.Publish(allTypes("v1", false))
	b := f.Start("127.0.0.1:0")
	c := newClient(t, b.URL(), f.ServerKey, 10*time.Second)
	api := isolated.NewAPI()
	t.Cleanup(func() { _ = api.Shutdown(context.Background()) })
	if err := api.SetProviderAndWait(context.Background(), flagpoleof.NewProvider(c)); err != nil {
		t.Fatalf("SetProviderAndWait: %v", err)
	}
	return f, b, c, api, api.NewClient()
}

func newClient(t *testing.T, url, key string, wait time.Duration) *sdk.Client {
	t.Helper()
	c, err := sdk.New(context.Background(), sdk.Options{
		URL: url, Key: key, InitTimeout: wait, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("sdk.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestEvaluationThroughOpenFeature(t *testing.T) {
	_, _, _, _, client := setup(t)
	ctx := context.Background()
	audrey := of.NewEvaluationContext("audrey", map[string]any{"plan": "pro"})
	anyone := of.NewEvaluationContext("bob", nil)
	type result struct {
		value   any
		variant string
		reason  of.Reason
		code    of.ErrorCode
	}
	tests := []struct {
		name string
		eval func() (result, error)
		want result
	}{
		{"boolean targeted by targetingKey", func() (result, error) {
			d, err := client.BooleanValueDetails(ctx, "checkout-v2", false, audrey)
			return result{d.Value, d.Variant, d.Reason, d.ErrorCode}, err
		}, result{true, "on", of.TargetingMatchReason, ""}},
		{"boolean default", func() (result, error) {
			d, err := client.BooleanValueDetails(ctx, "checkout-v2", true, anyone)
			return result{d.Value, d.Variant, d.Reason, d.ErrorCode}, err
		}, result{false, "off", of.DefaultReason, ""}},
		{"string", func() (result, error) {
			d, err := client.StringValueDetails(ctx, "banner-text", "x", anyone)
			return result{d.Value, d.Variant, d.Reason, d.ErrorCode}, err
		}, result{"Welcome", "only", of.StaticReason, ""}},
		{"float", func() (result, error) {
			d, err := client.FloatValueDetails(ctx, "discount-rate", 0, anyone)
			return result{d.Value, d.Variant, d.Reason, d.ErrorCode}, err
		}, result{0.25, "only", of.StaticReason, ""}},
		{"int", func() (result, error) {
			d, err := client.IntValueDetails(ctx, "max-items", 0, anyone)
			return result{d.Value, d.Variant, d.Reason, d.ErrorCode}, err
		}, result{int64(40), "only", of.StaticReason, ""}},
		{"object", func() (result, error) {
			d, err := client.ObjectValueDetails(ctx, "theme", nil, anyone)
			return result{d.Value.(map[string]any)["color"], d.Variant, d.Reason, d.ErrorCode}, err
		}, result{"blue", "only", of.StaticReason, ""}},
		{"flag not found", func() (result, error) {
			d, err := client.BooleanValueDetails(ctx, "no-such-flag", true, anyone)
			return result{d.Value, d.Variant, d.Reason, d.ErrorCode}, err
		}, result{true, "", of.ErrorReason, of.FlagNotFoundCode}},
		{"type mismatch", func() (result, error) {
			d, err := client.StringValueDetails(ctx, "checkout-v2", "fallback", anyone)
			return result{d.Value, d.Variant, d.Reason, d.ErrorCode}, err
		}, result{"fallback", "", of.ErrorReason, of.TypeMismatchCode}},
		{"int of a fraction", func() (result, error) {
			d, err := client.IntValueDetails(ctx, "discount-rate", 3, anyone)
			return result{d.Value, d.Variant, d.Reason, d.ErrorCode}, err
		}, result{int64(3), "", of.ErrorReason, of.TypeMismatchCode}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.eval()
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if (err != nil) != (tt.want.code != "") {
				t.Errorf("error %v with code %q", err, tt.want.code)
			}
		})
	}
}

// events records provider events of one type.
type events struct {
	mu  sync.Mutex
	got []of.EventDetails
}

func (e *events) handler() of.EventCallback {
	fn := func(d of.EventDetails) { e.mu.Lock(); e.got = append(e.got, d); e.mu.Unlock() }
	return &fn
}

func (e *events) list() []of.EventDetails {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.got)
}

func TestProviderEvents(t *testing.T) {
	f, b, _, api, client := setup(t)
	var changed, stale, ready events
	api.AddHandler(of.ProviderConfigChange, changed.handler())
	api.AddHandler(of.ProviderStale, stale.handler())
	api.AddHandler(of.ProviderReady, ready.handler())
	readyBefore := len(ready.list()) // registration replays READY

	f.Publish(allTypes("v2", true))
	sdktest.WaitFor(t, "CONFIGURATION_CHANGED", func() bool { return len(changed.list()) == 1 })
	if got := changed.list()[0]; !slices.Equal(got.FlagChanges, []string{"checkout-v2"}) || got.ProviderName != "flagpole" {
		t.Errorf("event %+v, want flag changes [checkout-v2] from flagpole", got)
	}
	if on, _ := client.BooleanValue(context.Background(), "checkout-v2", false, of.NewEvaluationContext("bob", nil)); !on {
		t.Error("v2 not served through OpenFeature")
	}

	b.Stop()
	sdktest.WaitFor(t, "PROVIDER_STALE", func() bool { return len(stale.list()) == 1 })
	sdktest.WaitFor(t, "STALE status", func() bool { return client.State() == of.StaleState })
	if on, _ := client.BooleanValue(context.Background(), "checkout-v2", false, of.NewEvaluationContext("bob", nil)); !on {
		t.Error("the last known rule set is not served while the bearer is down")
	}
	f.Start(b.Addr)
	sdktest.WaitFor(t, "PROVIDER_READY after the restart", func() bool { return len(ready.list()) > readyBefore })
	sdktest.WaitFor(t, "READY status", func() bool { return client.State() == of.ReadyState })
}

func TestProviderInitWithoutRuleSet(t *testing.T) {
	f := sdktest.NewFleet(t)
	b := f.Start("127.0.0.1:0")
	b.Stop()
	c := newClient(t, b.URL(), f.ServerKey, -1)
	api := isolated.NewAPI()
	t.Cleanup(func() { _ = api.Shutdown(context.Background()) })
	var errored, ready events
	api.AddHandler(of.ProviderError, errored.handler())
	api.AddHandler(of.ProviderReady, ready.handler())
	if err := api.SetProviderAndWait(context.Background(), flagpoleof.NewProvider(c)); err == nil {
		t.Fatal("SetProviderAndWait succeeded with no rule set")
	}
	client := api.NewClient()
	if s := client.State(); s != of.ErrorState {
		t.Errorf("status %s, want ERROR", s)
	}
	d, err := client.BooleanValueDetails(context.Background(), "checkout-v2", true, of.EvaluationContext{})
	if err == nil || !d.Value || d.ErrorCode != of.ProviderNotReadyCode {
		t.Errorf("details %+v (err %v), want the default with PROVIDER_NOT_READY", d, err)
	}
	f.Publish(allTypes("v1", true))
	f.Start(b.Addr)
	sdktest.WaitFor(t, "PROVIDER_READY", func() bool { return len(ready.list()) > 0 })
	sdktest.WaitFor(t, "READY status", func() bool { return client.State() == of.ReadyState })
	if on, _ := client.BooleanValue(context.Background(), "checkout-v2", false, of.EvaluationContext{}); !on {
		t.Error("rule set not served after READY")
	}
	if len(errored.list()) == 0 {
		t.Error("no PROVIDER_ERROR event for the failed init")
	}
}

// recordingHook records the flags it saw in each stage.
type recordingHook struct {
	of.UnimplementedHook
	mu     sync.Mutex
	stages []string
}

func (h *recordingHook) After(_ context.Context, hc of.HookContext, d of.InterfaceEvaluationDetails, _ of.HookHints) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stages = append(h.stages, "after:"+hc.FlagKey()+":"+string(d.Reason))
	return nil
}

func (h *recordingHook) Error(_ context.Context, hc of.HookContext, _ error, _ of.HookHints) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stages = append(h.stages, "error:"+hc.FlagKey())
}

func TestProviderHooksAndGlobalAPI(t *testing.T) {
	f := sdktest.NewFleet(t)
	f.Publish(allTypes("v1", false))
	b := f.Start("127.0.0.1:0")
	c := newClient(t, b.URL(), f.ServerKey, 10*time.Second)
	hook := &recordingHook{}
	p := flagpoleof.NewProvider(c, hook)
	if err := of.SetProviderAndWait(p); err != nil {
		t.Fatalf("SetProviderAndWait: %v", err)
	}
	t.Cleanup(of.Shutdown)
	if got := of.ProviderMetadata().Name; got != "flagpole" {
		t.Errorf("provider name %q", got)
	}
	client := of.NewClient("checkout")
	ctx := context.Background()
	if on, err := client.BooleanValue(ctx, "checkout-v2", false, of.NewEvaluationContext("audrey", nil)); !on || err != nil {
		t.Errorf("checkout-v2 for audrey = %v, %v", on, err)
	}
	_, _ = client.BooleanValue(ctx, "missing", false, of.EvaluationContext{})
	hook.mu.Lock()
	defer hook.mu.Unlock()
	want := []string{"after:checkout-v2:TARGETING_MATCH", "error:missing"}
	if !slices.Equal(hook.stages, want) {
		t.Errorf("hook stages %v, want %v", hook.stages, want)
	}
}
