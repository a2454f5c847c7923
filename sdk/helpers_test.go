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
)

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
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

// boolFlag returns a boolean flag serving def to everyone but users, who
// get "on".
func boolFlag(key string, def bool, users ...string) *ruleset.Flag {
	d := "off"
	if def {
		d = "on"
	}
	f := &ruleset.Flag{
		Key: key, Type: ruleset.TypeBoolean, Enabled: true, Off: "off", Default: d,
		Variants: []ruleset.Variant{{Name: "on", Value: json.RawMessage("true")}, {Name: "off", Value: json.RawMessage("false")}},
	}
	if len(users) > 0 {
		f.Rules = []ruleset.Rule{{Name: "users", Users: users, Serve: "on"}}
	}
	return f
}

// stringFlag returns a string flag serving value to everyone.
func stringFlag(key, value string) *ruleset.Flag {
	v, _ := json.Marshal(value)
	return &ruleset.Flag{
		Key: key, Type: ruleset.TypeString, Enabled: true, Off: "only", Default: "only",
		Variants: []ruleset.Variant{{Name: "only", Value: v}},
	}
}

// doc returns a production document of the given flags.
func doc(version string, flags ...*ruleset.Flag) *ruleset.Document {
	d := &ruleset.Document{Version: version, Environment: "production", Flags: map[string]*ruleset.Flag{}}
	for _, f := range flags {
		d.Flags[f.Key] = f
	}
	return d
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
