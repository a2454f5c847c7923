package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/sdk/internal/sdktest"
)

// Short names for the shared harness.
var (
	newFleet = sdktest.NewFleet
	waitFor  = func(t *testing.T, what string, cond func() bool) { t.Helper(); sdktest.WaitFor(t, what, cond) }
	boolFlag = sdktest.BoolFlag
	doc      = sdktest.Doc
)

// stringFlag returns a string flag serving value to everyone.
func stringFlag(key, value string) *ruleset.Flag {
	v, _ := json.Marshal(value)
	return sdktest.ValueFlag(key, ruleset.TypeString, string(v))
}

// testLogger discards logs unless the test fails, then shows them.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	var mu sync.Mutex
	var buf bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			t.Logf("client logs:\n%s", buf.String())
			mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// collect subscribes to c and returns a function giving the changes seen.
func collect(t *testing.T, c *Client) func() []Change {
	t.Helper()
	var mu sync.Mutex
	var got []Change
	unsub := c.Subscribe(func(ch Change) {
		mu.Lock()
		got = append(got, ch)
		mu.Unlock()
	})
	t.Cleanup(unsub)
	return func() []Change {
		mu.Lock()
		defer mu.Unlock()
		return append([]Change(nil), got...)
	}
}

// newOffline starts an offline client on the snapshot file.
func newOffline(t *testing.T, path string) *Client {
	t.Helper()
	c, err := New(context.Background(), Options{Offline: true, Bootstrap: path, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New offline: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newClient starts an SDK client against url with test-friendly timings.
func newClient(t *testing.T, url, key string, tweak func(*Options)) (*Client, error) {
	t.Helper()
	o := Options{
		URL: url, Key: key, Logger: testLogger(t), InitTimeout: 10 * time.Second,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&o)
	}
	c, err := New(context.Background(), o)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}
