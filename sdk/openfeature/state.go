package openfeature

import (
	"context"
	"errors"
	"fmt"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk"
)

// The provider's states, as the OpenFeature SDK tracks them from Init's
// result and the provider's events (docs/sdk.md draws the machine):
//
//	NOT_READY  before Init returns.
//	READY      the client serves a rule set (Init succeeded, or
//	           PROVIDER_READY / PROVIDER_CONFIGURATION_CHANGED).
//	STALE      the stream is down or silent; the last rule set is served
//	           (PROVIDER_STALE). READY again when the stream is back.
//	ERROR      no rule set yet when Init gave up waiting, or the bearer
//	           refused the key after the client had a rule set from it
//	           (PROVIDER_ERROR, GENERAL); READY when that is over.
//	FATAL      the bearer refused the key (401 or 403) before the client
//	           ever had a rule set from it (Init's error or PROVIDER_ERROR,
//	           code PROVIDER_FATAL). The OpenFeature SDK answers every
//	           evaluation with its default and PROVIDER_FATAL. The client
//	           keeps retrying, so a key that becomes valid (added to
//	           flagpole.yaml) brings PROVIDER_READY.

// New starts an sdk.Client for opts and returns a provider that owns it
// (Shutdown closes it). Unlike sdk.New it does not wait for the first rule
// set nor fail when the bearer refuses the key: Init waits, up to
// opts.InitTimeout (5 s by default), and reports a refused key as the
// FATAL state with a message saying what to check. It fails only on what
// sdk.New refuses at once (bad options, an unreadable bootstrap).
func New(ctx context.Context, opts sdk.Options, hooks ...of.Hook) (*Provider, error) {
	wait := opts.InitTimeout
	if wait == 0 {
		wait = sdk.DefaultInitTimeout
	}
	opts.InitTimeout = -1
	c, err := sdk.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	p := NewProvider(c, hooks...)
	p.owned, p.wait = true, max(wait, 0)
	return p, nil
}

// Init is InitWithContext without a deadline of the caller's.
func (p *Provider) Init(ec of.EvaluationContext) error {
	return p.InitWithContext(context.Background(), ec)
}

// InitWithContext starts forwarding the client's changes as events and
// reports the provider's first state: nil (READY) when the client serves a
// rule set (from the bearer, or a bootstrap while the bearer is
// unreachable); PROVIDER_FATAL when the bearer refused the key; otherwise
// PROVIDER_NOT_READY (the SDK's ERROR state), and PROVIDER_READY follows
// once the client gets a rule set. A provider from New first waits for one
// of these, up to its InitTimeout or ctx's end.
func (p *Provider) InitWithContext(ctx context.Context, _ of.EvaluationContext) error {
	p.mu.Lock()
	if p.stop == nil {
		stop := make(chan struct{})
		p.stop = stop
		p.unsub = []func(){
			p.client.Subscribe(func(c sdk.Change) { p.emit(stop, changeEvent(c)) }),
			p.client.WatchState(func(s sdk.StateChange) {
				if ev, ok := p.stateEvent(s); ok {
					p.emit(stop, ev)
				}
				select {
				case p.moved <- struct{}{}:
				default:
				}
			}),
		}
	}
	p.mu.Unlock()
	if p.wait > 0 {
		ctx, cancel := context.WithTimeout(ctx, p.wait)
		defer cancel()
		for !p.settled() {
			select {
			case <-p.moved:
			case <-ctx.Done():
				return p.initError()
			}
		}
	}
	return p.initError()
}

// settled reports whether Init has its answer: a rule set, or a refused key.
func (p *Provider) settled() bool {
	return p.client.Version() != "" || p.fatal(p.client.Err())
}

// initError is Init's answer for the client's current state.
func (p *Provider) initError() error {
	if err := p.client.Err(); p.fatal(err) {
		return &of.ProviderInitError{ErrorCode: of.ProviderFatalCode, Message: keyRejectedMessage(err)}
	}
	if p.client.Version() == "" {
		return &of.ProviderInitError{
			ErrorCode: of.ProviderNotReadyCode,
			Message:   fmt.Sprintf("flagpole: no rule set yet (client %s)", p.client.State()),
		}
	}
	return nil
}

// fatal reports whether err, behind the client's state, makes the provider
// FATAL: the key refused before the client had any rule set from the
// bearer.
func (p *Provider) fatal(err error) bool {
	if !errors.Is(err, sdk.ErrKeyRejected) {
		return false
	}
	select {
	case <-p.client.Ready():
		return false
	default:
		return true
	}
}

// keyRejectedMessage says what to check when the bearer refuses the key;
// err names the request and the status, never the key.
func keyRejectedMessage(err error) string {
	return fmt.Sprintf("flagpole: the bearer refused the SDK key (%v); check that the key is a server key of the environment in flagpole.yaml (keys:), "+
		"that it was not removed or rotated, and that sdk.Options.URL is that environment's bearer; the client keeps retrying and the provider becomes READY once the key is accepted", err)
}

// Shutdown is ShutdownWithContext without a deadline of the caller's.
func (p *Provider) Shutdown() { _ = p.ShutdownWithContext(context.Background()) }

// ShutdownWithContext stops forwarding events; a provider from New also
// closes its client. It does not close a client given to NewProvider.
func (p *Provider) ShutdownWithContext(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		for _, u := range p.unsub {
			u()
		}
		p.stop, p.unsub = nil, nil
	}
	if p.owned {
		return p.client.Close()
	}
	return nil
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

// stateEvent is the event of a client state change, if it has one.
func (p *Provider) stateEvent(s sdk.StateChange) (of.Event, bool) {
	ev := of.Event{ProviderName: Name}
	switch {
	case s.To == sdk.StateReady:
		ev.EventType, ev.Message = of.ProviderReady, "rule set current"
	case s.To == sdk.StateStale:
		ev.EventType, ev.Message = of.ProviderStale, "serving the last known rule set"
	case s.To == sdk.StateError && errors.Is(s.Err, sdk.ErrKeyRejected):
		ev.EventType, ev.Message, ev.ErrorCode = of.ProviderError, keyRejectedMessage(s.Err), of.GeneralCode
		if p.fatal(s.Err) {
			ev.ErrorCode = of.ProviderFatalCode
		}
		return ev, true
	case s.To == sdk.StateError:
		ev.EventType, ev.Message, ev.ErrorCode = of.ProviderError, "flagpole client error", of.GeneralCode
	default:
		return ev, false
	}
	if s.Err != nil {
		ev.Message += ": " + s.Err.Error()
	}
	return ev, true
}
