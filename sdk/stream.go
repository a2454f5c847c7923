package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/flagpole/flagpole/internal/backoff"
	"github.com/flagpole/flagpole/internal/httpx"
	"github.com/flagpole/flagpole/internal/redact"
	"github.com/flagpole/flagpole/ruleset"
)

// reconnectPolicy is the schedule of reconnects after failures: exponential
// from ReconnectMin, capped at ReconnectMax, with full jitter so that the
// SDKs of a fleet that lost the bearer together spread their reconnects.
func reconnectPolicy(o Options) backoff.Policy {
	return backoff.Policy{Min: o.ReconnectMin, Max: o.ReconnectMax, Full: true}
}

// run keeps a stream open until ctx ends: it reconnects with backoff after
// every failure and refetches the rule set when a patch does not apply.
func (c *Client) run(ctx context.Context) {
	defer close(c.done)
	bo := &backoff.Counter{Policy: reconnectPolicy(c.opts)}
	resume := true
	for {
		err := c.stream(ctx, resume, bo)
		if ctx.Err() != nil {
			return
		}
		resume = true
		switch {
		case errors.Is(err, errResync):
			c.log.Warn("flagpole: refetching the rule set", "err", err)
			if ferr := c.refetch(ctx); ferr != nil {
				c.log.Warn("flagpole: refetch failed; reconnecting for a full rule set", "err", ferr)
				resume = false
			}
		case errors.Is(err, ErrKeyRejected):
			c.setState(StateError, err)
			select {
			case c.initErr <- err:
			default:
			}
		case c.snap.Load() != nil:
			c.setState(StateStale, err)
		default:
			c.setState(StateError, err)
		}
		delay := bo.Next()
		c.log.Debug("flagpole: reconnecting", "in", delay, "after", err)
		t := c.clock.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.Chan():
		}
	}
}

// stream runs one GET /v1/stream until it fails or ctx ends. resume sends
// the version held as Last-Event-ID, so that a current client gets no put.
func (c *Client) stream(ctx context.Context, resume bool, bo *backoff.Counter) error {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	endpoint := redact.URL(c.opts.URL + "/v1/stream")
	resp, resumed, err := c.connect(sctx, cancel, resume)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	bo.Reset()
	if resumed {
		// The bearer sends a put first if our version is not current.
		c.setState(StateReady, nil)
	}
	var last atomic.Int64
	last.Store(c.clock.Now().UnixNano())
	watchdog := make(chan struct{})
	go func() {
		defer close(watchdog)
		c.watchdog(sctx, &last, cancel)
	}()
	defer func() { cancel(nil); <-watchdog }()
	rd := newSSEReader(resp.Body, maxDocumentBytes, func() { last.Store(c.clock.Now().UnixNano()) })
	for {
		ev, err := rd.Next()
		if err != nil {
			if err == io.EOF {
				err = errors.New("closed by the bearer")
			}
			return fmt.Errorf("reading GET %s: %w", endpoint, causeOf(sctx, err))
		}
		if err := c.handle(ev); err != nil {
			return err
		}
	}
}

// connect opens the stream and checks the answer; resumed says whether it
// sent a Last-Event-ID. cancel is the stream's, used for the header timeout.
func (c *Client) connect(ctx context.Context, cancel context.CancelCauseFunc, resume bool) (*http.Response, bool, error) {
	endpoint := c.opts.URL + "/v1/stream"
	what := "GET " + redact.URL(endpoint)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, false, fmt.Errorf("building %s: %w", what, err)
	}
	c.authorize(req)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	held := c.snap.Load()
	resumed := resume && held != nil && held.doc.Version != ""
	if resumed {
		req.Header.Set("Last-Event-ID", held.doc.Version)
	}
	headers := c.clock.AfterFunc(c.opts.RequestTimeout, func() {
		cancel(fmt.Errorf("no response headers within %s", c.opts.RequestTimeout))
	})
	resp, err := c.opts.HTTPClient.Do(req)
	headers.Stop()
	if err != nil {
		return nil, false, fmt.Errorf("connecting to %s: %w", what, causeOf(ctx, err))
	}
	if err := checkResponse(resp, what); err != nil {
		resp.Body.Close()
		return nil, false, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		return nil, false, fmt.Errorf("%s: content type %q, want text/event-stream", what, mt)
	}
	return resp, resumed, nil
}

// handle applies one stream event.
func (c *Client) handle(ev sseEvent) error {
	switch ev.Type {
	case "put":
		var doc ruleset.Document
		if err := json.Unmarshal(ev.Data, &doc); err != nil {
			return fmt.Errorf("decoding put event %q: %w", ev.ID, err)
		}
		if err := c.install(&doc, nil); err != nil {
			return fmt.Errorf("put event %q: %w", ev.ID, err)
		}
		c.setState(StateReady, nil)
	case "patch":
		var p ruleset.Patch
		if err := json.Unmarshal(ev.Data, &p); err != nil {
			return fmt.Errorf("decoding patch event %q: %w: %w", ev.ID, err, errResync)
		}
		held := c.snap.Load()
		if held == nil || held.doc.Version != p.Base {
			have := ""
			if held != nil {
				have = held.doc.Version
			}
			return fmt.Errorf("patch %q→%q, rule set held is %q: %w", p.Base, p.Version, have, errResync)
		}
		doc, err := held.doc.Apply(&p)
		if err != nil {
			return fmt.Errorf("applying patch %q→%q: %w: %w", p.Base, p.Version, err, errResync)
		}
		if err := c.install(doc, &p); err != nil {
			return fmt.Errorf("patch %q→%q: %w: %w", p.Base, p.Version, err, errResync)
		}
		c.setState(StateReady, nil)
	default:
		c.log.Debug("flagpole: ignoring stream event", "event", ev.Type, "id", ev.ID)
	}
	return nil
}

// watchdog cancels the stream when nothing, not even a ping, arrived for
// longer than StaleAfter.
func (c *Client) watchdog(ctx context.Context, last *atomic.Int64, cancel context.CancelCauseFunc) {
	t := c.clock.NewTicker(max(c.opts.StaleAfter/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.Chan():
			silent := c.clock.Now().Sub(time.Unix(0, last.Load()))
			if silent > c.opts.StaleAfter {
				cancel(fmt.Errorf("%w: nothing received for %s", ErrStreamSilent, silent.Round(time.Millisecond)))
				return
			}
		}
	}
}

// refetch replaces the rule set held with GET /v1/flags.
func (c *Client) refetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	endpoint := c.opts.URL + "/v1/flags"
	what := "GET " + redact.URL(endpoint)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return fmt.Errorf("building %s: %w", what, err)
	}
	c.authorize(req)
	req.Header.Set("Accept", "application/json")
	if held := c.snap.Load(); held != nil && held.doc.Version != "" {
		req.Header.Set("If-None-Match", `"`+held.doc.Version+`"`)
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return nil
	}
	if err := checkResponse(resp, what); err != nil {
		return err
	}
	var doc ruleset.Document
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxDocumentBytes))
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("decoding %s: %w", what, err)
	}
	if err := c.install(&doc, nil); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// authorize adds the SDK key; it is never logged or put in an error.
func (c *Client) authorize(req *http.Request) {
	req.Header.Set("Authorization", "Bearer "+c.opts.Key)
	req.Header.Set("User-Agent", "flagpole-go-sdk")
}

// checkResponse turns a non-200 answer into an error naming the request and
// the bearer's error message ({"error":{"code","message"}}).
func checkResponse(resp *http.Response, what string) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var body httpx.ErrorBody
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	msg := body.Error.Message
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	err := fmt.Errorf("%s: %d %s", what, resp.StatusCode, msg)
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%w: %w", ErrKeyRejected, err)
	}
	return err
}

// causeOf prefers the reason ctx was cancelled (silence, header timeout)
// over the I/O error it produced.
func causeOf(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}
