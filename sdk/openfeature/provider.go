// Package openfeature is an OpenFeature provider
// (github.com/open-feature/go-sdk) backed by a Flagpole sdk.Client: flags
// are evaluated locally on the rule set the client streams from a bearer.
//
//	client, err := sdk.New(ctx, sdk.Options{URL: url, Key: key})
//	...
//	err = openfeature.SetProviderAndWait(flagpoleof.NewProvider(client))
//	of := openfeature.NewClient("checkout")
//	on, _ := of.BooleanValue(ctx, "checkout-v2", false, openfeature.NewEvaluationContext(userID, nil))
//
// The OpenFeature targeting key becomes Flagpole's "key" attribute; the
// other attributes are passed as they are (time.Time values as RFC 3339
// strings). Reasons keep their names (STATIC, DEFAULT, TARGETING_MATCH,
// SPLIT, DISABLED, OVERRIDE, PREREQUISITE_FAILED, ERROR); flag metadata
// holds the flag's metadata plus "version" (the rule set's) and "rule"
// (the matching rule's name, when it has one). Error codes map to OpenFeature's
// FLAG_NOT_FOUND, TYPE_MISMATCH, PARSE_ERROR and GENERAL, with
// PROVIDER_NOT_READY before the client has any rule set. The provider emits
// PROVIDER_READY, PROVIDER_CONFIGURATION_CHANGED (with the changed flag
// keys), PROVIDER_STALE and PROVIDER_ERROR as the client's state changes.
package openfeature

import (
	"context"
	"fmt"
	"sync"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/sdk"
)

// Name is the provider's name in OpenFeature metadata.
const Name = "flagpole"

// eventBuffer is how many events may wait for the OpenFeature SDK to take
// them; beyond it the client's notifications wait (never the stream).
const eventBuffer = 64

// Provider is an OpenFeature FeatureProvider, StateHandler and EventHandler
// over an sdk.Client. The client is not owned: close it yourself after the
// provider is shut down.
type Provider struct {
	client *sdk.Client
	hooks  []of.Hook
	events chan of.Event

	mu    sync.Mutex
	stop  chan struct{} // closed by Shutdown; nil when not initialised
	unsub []func()
}

// Tracking events that the provider reports to the breaker, and the
// attribute of the details that names the flag.
const (
	SuccessEvent  = "flagpole.success"
	FailureEvent  = "flagpole.failure"
	FlagAttribute = "flag"
)

var (
	_ of.Tracker         = (*Provider)(nil)
	_ of.FeatureProvider = (*Provider)(nil)
	_ of.StateHandler    = (*Provider)(nil)
	_ of.EventHandler    = (*Provider)(nil)
)

// NewProvider returns a provider that evaluates with client and runs hooks
// (provider hooks, after the API's, client's and invocation's) on every
// evaluation.
func NewProvider(client *sdk.Client, hooks ...of.Hook) *Provider {
	return &Provider{client: client, hooks: hooks, events: make(chan of.Event, eventBuffer)}
}

// Metadata names the provider "flagpole".
func (p *Provider) Metadata() of.Metadata { return of.Metadata{Name: Name} }

// Hooks returns the hooks given to NewProvider.
func (p *Provider) Hooks() []of.Hook { return p.hooks }

// EventChannel delivers the provider's events to the OpenFeature SDK.
func (p *Provider) EventChannel() <-chan of.Event { return p.events }

// Init starts forwarding the client's changes as events. It succeeds when
// the client serves a rule set (from the bearer, or a bootstrap while the
// bearer is unreachable); otherwise it fails, the provider is in ERROR
// state, and PROVIDER_READY follows once the client gets a rule set.
func (p *Provider) Init(of.EvaluationContext) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop == nil {
		stop := make(chan struct{})
		p.stop = stop
		p.unsub = []func(){
			p.client.Subscribe(func(c sdk.Change) { p.emit(stop, changeEvent(c)) }),
			p.client.WatchState(func(s sdk.StateChange) {
				if ev, ok := stateEvent(s); ok {
					p.emit(stop, ev)
				}
			}),
		}
	}
	if p.client.Version() == "" {
		return &of.ProviderInitError{
			ErrorCode: of.ProviderNotReadyCode,
			Message:   fmt.Sprintf("flagpole: no rule set yet (client %s)", p.client.State()),
		}
	}
	return nil
}

// Shutdown stops forwarding events. It does not close the client.
func (p *Provider) Shutdown() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop == nil {
		return
	}
	close(p.stop)
	for _, u := range p.unsub {
		u()
	}
	p.stop, p.unsub = nil, nil
}

// emit hands ev to the OpenFeature SDK unless the provider is shut down.
func (p *Provider) emit(stop <-chan struct{}, ev of.Event) {
	select {
	case p.events <- ev:
	case <-stop:
	}
}

func changeEvent(c sdk.Change) of.Event {
	return of.Event{ProviderName: Name, EventType: of.ProviderConfigChange, ProviderEventDetails: of.ProviderEventDetails{
		Message:       "rule set " + c.Version,
		FlagChanges:   c.Flags,
		EventMetadata: map[string]any{"version": c.Version},
	}}
}

func stateEvent(s sdk.StateChange) (of.Event, bool) {
	ev := of.Event{ProviderName: Name}
	switch s.To {
	case sdk.StateReady:
		ev.EventType, ev.Message = of.ProviderReady, "rule set current"
	case sdk.StateStale:
		ev.EventType, ev.Message = of.ProviderStale, "serving the last known rule set"
	case sdk.StateError:
		ev.EventType, ev.Message, ev.ErrorCode = of.ProviderError, "flagpole client error", of.GeneralCode
	default:
		return ev, false
	}
	if s.Err != nil {
		ev.Message += ": " + s.Err.Error()
	}
	return ev, true
}

// Track records SuccessEvent and FailureEvent for the flag named by the
// details' FlagAttribute (see the package documentation); it ignores other
// events, and events without a flag. It never blocks.
func (p *Provider) Track(_ context.Context, event string, _ of.EvaluationContext, details of.TrackingEventDetails) {
	flag, _ := details.Attribute(FlagAttribute).(string)
	if flag == "" {
		return
	}
	switch event {
	case SuccessEvent:
		p.client.Success(flag)
	case FailureEvent:
		p.client.Failure(flag)
	}
}

// BooleanEvaluation evaluates a boolean flag.
func (p *Provider) BooleanEvaluation(_ context.Context, flag string, def bool, fc of.FlattenedContext) of.BoolResolutionDetail {
	return resolve(p.client.BoolDetail(flag, toContext(fc), def))
}

// StringEvaluation evaluates a string flag.
func (p *Provider) StringEvaluation(_ context.Context, flag string, def string, fc of.FlattenedContext) of.StringResolutionDetail {
	return resolve(p.client.StringDetail(flag, toContext(fc), def))
}

// FloatEvaluation evaluates a number flag.
func (p *Provider) FloatEvaluation(_ context.Context, flag string, def float64, fc of.FlattenedContext) of.FloatResolutionDetail {
	return resolve(p.client.FloatDetail(flag, toContext(fc), def))
}

// IntEvaluation evaluates a number flag whose value is a whole number.
func (p *Provider) IntEvaluation(_ context.Context, flag string, def int64, fc of.FlattenedContext) of.IntResolutionDetail {
	return resolve(p.client.IntDetail(flag, toContext(fc), def))
}

// ObjectEvaluation evaluates a json flag; the value is shared, never to be
// modified.
func (p *Provider) ObjectEvaluation(_ context.Context, flag string, def any, fc of.FlattenedContext) of.InterfaceResolutionDetail {
	return resolve(p.client.JSONDetail(flag, toContext(fc), def))
}

// resolve turns a Flagpole evaluation into an OpenFeature resolution.
func resolve[T any](d sdk.Detail[T]) of.GenericResolutionDetail[T] {
	r := of.GenericResolutionDetail[T]{Value: d.Value, ProviderResolutionDetail: of.ProviderResolutionDetail{
		Reason: of.Reason(d.Reason.String()), Variant: d.Variant,
	}}
	if d.Version != "" {
		r.FlagMetadata = make(of.FlagMetadata, len(d.Metadata)+2)
		for k, v := range d.Metadata {
			r.FlagMetadata[k] = v
		}
		r.FlagMetadata["version"] = d.Version
		if d.RuleName != "" {
			r.FlagMetadata["rule"] = d.RuleName
		}
	}
	if d.Reason == ruleset.ReasonError {
		r.ResolutionError = resolutionError(d.ErrorCode, d.ErrorMessage, d.Version == "")
	}
	return r
}

func resolutionError(code ruleset.ErrorCode, msg string, noRuleSet bool) of.ResolutionError {
	switch {
	case noRuleSet && code == ruleset.ErrorGeneral:
		return of.NewProviderNotReadyResolutionError(msg)
	case code == ruleset.ErrorFlagNotFound:
		return of.NewFlagNotFoundResolutionError(msg)
	case code == ruleset.ErrorTypeMismatch:
		return of.NewTypeMismatchResolutionError(msg)
	case code == ruleset.ErrorParseError:
		return of.NewParseErrorResolutionError(msg)
	}
	return of.NewGeneralResolutionError(msg)
}

// toContext maps an OpenFeature context to a Flagpole one: targetingKey
// becomes "key", time.Time values become RFC 3339 strings (except "now",
// which Flagpole takes as a time).
func toContext(fc of.FlattenedContext) sdk.Context {
	if len(fc) == 0 {
		return nil
	}
	c := make(sdk.Context, len(fc))
	for k, v := range fc {
		if t, ok := v.(time.Time); ok && k != "now" {
			v = t.Format(time.RFC3339Nano)
		}
		c[k] = v
	}
	if tk, ok := fc[of.TargetingKey].(string); ok && tk != "" {
		c["key"] = tk
	}
	delete(c, of.TargetingKey)
	return c
}
