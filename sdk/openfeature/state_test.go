package openfeature_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/internal/sdktest"
	flagpoleof "github.com/flagpole/flagpole/sdk/openfeature"
)

// newOwned builds a provider with flagpoleof.New on a fresh OpenFeature
// API, with fast reconnects.
func newOwned(t *testing.T, url, key string) (*flagpoleof.Provider, *of.EvaluationAPI) {
	t.Helper()
	p, err := flagpoleof.New(context.Background(), sdk.Options{
		URL: url, Key: key, InitTimeout: 10 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("New: %v (a refused key must not fail construction)", err)
	}
	api := isolated.NewAPI()
	t.Cleanup(func() { _ = api.Shutdown(context.Background()) })
	return p, api
}

// checkKeyMessage checks that msg names the status and what to check,
// and not the key.
func checkKeyMessage(t *testing.T, what, msg, status, key string) {
	t.Helper()
	if !strings.Contains(msg, status) || !strings.Contains(msg, "flagpole.yaml") || strings.Contains(msg, key) {
		t.Errorf("%s message %q: want the status %s and what to check, never the key", what, msg, status)
	}
}

func TestProviderFatalOnRefusedKey(t *testing.T) {
	f := sdktest.NewFleet(t)
	f.Publish(allTypes("v1", true))
	b := f.Start("127.0.0.1:0")
	b.WaitReady(t)
	for _, tt := range []struct{ name, key, status string }{
		{"unknown key", "fp_test_" + strings.Repeat("0", 48), "401"},
		{"client key on the server stream", f.ClientKey, "403"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, api := newOwned(t, b.URL(), tt.key)
			var errored events
			api.AddHandler(of.ProviderError, errored.handler())
			err := api.SetProviderAndWait(context.Background(), p)
			if err == nil {
				t.Fatal("SetProviderAndWait succeeded with a refused key")
			}
			checkKeyMessage(t, "init error", err.Error(), tt.status, tt.key)
			client := api.NewClient()
			if s := client.State(); s != of.FatalState {
				t.Errorf("state %s, want FATAL", s)
			}
			d, err := client.BooleanValueDetails(context.Background(), "checkout-v2", false, of.EvaluationContext{})
			if err == nil || d.Value || d.ErrorCode != of.ProviderFatalCode {
				t.Errorf("details %+v (err %v), want the default with PROVIDER_FATAL", d, err)
			}
			// go-sdk v1.20.0 hands handlers the message, not the error code.
			sdktest.WaitFor(t, "PROVIDER_ERROR", func() bool { return len(errored.list()) > 0 })
			checkKeyMessage(t, "event", errored.list()[0].Message, tt.status, tt.key)
		})
	}
}

// A key added to flagpole.yaml later brings the FATAL provider to READY:
// the client keeps retrying.
func TestProviderFatalRecovers(t *testing.T) {
	f := sdktest.NewFleet(t)
	f.RevokeServerKey = true
	f.Publish(allTypes("v1", true))
	b := f.Start("127.0.0.1:0")
	b.WaitReady(t)
	p, api := newOwned(t, b.URL(), f.ServerKey)
	var ready events
	api.AddHandler(of.ProviderReady, ready.handler())
	if err := api.SetProviderAndWait(context.Background(), p); err == nil {
		t.Fatal("SetProviderAndWait succeeded with a key the bearer does not have")
	}
	client := api.NewClient()
	if s := client.State(); s != of.FatalState {
		t.Fatalf("state %s, want FATAL", s)
	}
	f.RevokeServerKey = false
	f.Publish(allTypes("v2", true))
	// The state changes before the SDK runs the event's handlers: wait for
	// both (checking the events right after the state failed in CI).
	sdktest.WaitFor(t, "READY and a PROVIDER_READY event once the key is accepted", func() bool {
		return client.State() == of.ReadyState && len(ready.list()) > 0
	})
	if on, err := client.BooleanValue(context.Background(), "checkout-v2", false, of.EvaluationContext{}); !on || err != nil {
		t.Errorf("checkout-v2 = %v, %v after recovery", on, err)
	}
}

// A key removed while the provider runs is ERROR, not FATAL: the last rule
// set keeps being served (FATAL would make the OpenFeature SDK answer
// defaults).
func TestProviderKeyRemovedWhileReady(t *testing.T) {
	f := sdktest.NewFleet(t)
	f.Publish(allTypes("v1", true))
	b := f.Start("127.0.0.1:0")
	b.WaitReady(t)
	p, api := newOwned(t, b.URL(), f.ServerKey)
	var errored events
	api.AddHandler(of.ProviderError, errored.handler())
	if err := api.SetProviderAndWait(context.Background(), p); err != nil {
		t.Fatalf("SetProviderAndWait: %v", err)
	}
	client := api.NewClient()
	f.RevokeServerKey = true
	f.Publish(allTypes("v2", false))
	// The state changes before the SDK runs the event's handlers: wait for both.
	sdktest.WaitFor(t, "ERROR after the key's removal", func() bool {
		return client.State() == of.ErrorState && len(errored.list()) > 0
	})
	checkKeyMessage(t, "event", errored.list()[0].Message, "401", f.ServerKey)
	if on, err := client.BooleanValue(context.Background(), "checkout-v2", false, of.EvaluationContext{}); !on || err != nil {
		t.Errorf("checkout-v2 = %v, %v; want v1's true, still served", on, err)
	}
}

// A provider from New waits for the first rule set; one on NewProvider
// does not (its client's sdk.New waited).
func TestProviderNewWaitsForRuleSet(t *testing.T) {
	f := sdktest.NewFleet(t)
	f.Publish(allTypes("v1", true))
	b := f.Start("127.0.0.1:0")
	b.WaitReady(t)
	p, api := newOwned(t, b.URL(), f.ServerKey)
	if err := api.SetProviderAndWait(context.Background(), p); err != nil {
		t.Fatalf("SetProviderAndWait: %v", err)
	}
	if s := api.NewClient().State(); s != of.ReadyState {
		t.Errorf("state %s, want READY", s)
	}
}

// A refusal that comes after Init (the bearer was down then) makes the
// provider FATAL through its event: PROVIDER_ERROR with PROVIDER_FATAL.
func TestProviderFatalByEvent(t *testing.T) {
	f := sdktest.NewFleet(t)
	b := f.Start("127.0.0.1:0")
	b.Stop()
	c := newClient(t, b.URL(), f.ServerKey, -1)
	api := isolated.NewAPI()
	t.Cleanup(func() { _ = api.Shutdown(context.Background()) })
	if err := api.SetProviderAndWait(context.Background(), flagpoleof.NewProvider(c)); err == nil {
		t.Fatal("SetProviderAndWait succeeded with no bearer")
	}
	client := api.NewClient()
	if s := client.State(); s != of.ErrorState {
		t.Fatalf("state %s, want ERROR (no rule set yet)", s)
	}
	f.RevokeServerKey = true
	f.Publish(allTypes("v1", true))
	f.Start(b.Addr).WaitReady(t)
	sdktest.WaitFor(t, "FATAL once the bearer refuses the key", func() bool { return client.State() == of.FatalState })
	if !errors.Is(c.Err(), sdk.ErrKeyRejected) {
		t.Errorf("client error %v, want ErrKeyRejected", c.Err())
	}
}
