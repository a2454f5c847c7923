// Package sdktest runs real bearers on loopback for the tests of the SDK
// and its OpenFeature provider: a memory store with generated SDK keys,
// bearers that can be stopped and restarted on the same address, and small
// rule-set builders.
package sdktest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/flagpole/flagpole/bearer"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// Fleet is a memory store with one server and one client key per
// environment, served by the bearers that Start runs.
type Fleet struct {
	t         testing.TB
	Store     *store.Memory
	ServerKey string
	ClientKey string
	// RevokeServerKey leaves ServerKey out of the snapshots published from
	// now on, as a commit removing it from flagpole.yaml would.
	RevokeServerKey bool
}

// NewFleet returns a Fleet with fresh random keys.
func NewFleet(t testing.TB) *Fleet {
	return &Fleet{t: t, Store: store.NewMemory(), ServerKey: randomKey(t), ClientKey: randomKey(t)}
}

func randomKey(t testing.TB) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "fp_test_" + hex.EncodeToString(b)
}

func hashKey(k string) string {
	s := sha256.Sum256([]byte(k))
	return hex.EncodeToString(s[:])
}

// Publish makes d the current snapshot of its environment.
func (f *Fleet) Publish(d *ruleset.Document) {
	f.t.Helper()
	keys := []store.Key{{Name: "test-client", Environment: d.Environment, Kind: store.KeyClient, SHA256: hashKey(f.ClientKey)}}
	if !f.RevokeServerKey {
		keys = append(keys, store.Key{Name: "test-server", Environment: d.Environment, Kind: store.KeyServer, SHA256: hashKey(f.ServerKey)})
	}
	err := f.Store.Publish(context.Background(), &store.Snapshot{
		Environment: d.Environment, Version: d.Version, Document: d, Published: time.Now(), Keys: keys,
	})
	if err != nil {
		f.t.Fatalf("publishing %s: %v", d.Version, err)
	}
}

// Bearer is one running bearer: a bearer.Server and its http.Server on a
// loopback listener.
type Bearer struct {
	Addr    string
	http    *http.Server
	cancel  context.CancelFunc
	stopped chan struct{}
}

// Start runs a bearer on addr ("127.0.0.1:0" for any port) with a 1 s ping,
// adding the outcome counts SDKs report to Store;
// it is stopped at the end of the test unless the test stopped it.
func (f *Fleet) Start(addr string) *Bearer {
	f.t.Helper()
	srv, err := bearer.New(bearer.Options{Store: f.Store, Metrics: f.Store, PingInterval: time.Second})
	if err != nil {
		f.t.Fatalf("bearer.New: %v", err)
	}
	ln, err := listen(addr)
	if err != nil {
		f.t.Fatalf("listening on %s: %v", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bearer{Addr: ln.Addr().String(), http: &http.Server{Handler: srv.Handler()}, cancel: cancel, stopped: make(chan struct{})}
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = srv.Run(ctx) }()
	go func() {
		defer close(b.stopped)
		if err := b.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.t.Errorf("bearer on %s: %v", b.Addr, err)
		}
		<-runDone
	}()
	f.t.Cleanup(b.Stop)
	return b
}

// listen retries for a while: a just-closed listener may hold the port.
func listen(addr string) (net.Listener, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the bearer: open streams are cut and the port is released.
// Stopping twice is harmless.
func (b *Bearer) Stop() {
	b.cancel()
	_ = b.http.Close()
	<-b.stopped
}

// URL is the bearer's base URL.
func (b *Bearer) URL() string { return "http://" + b.Addr }

// WaitReady waits until the bearer answers /readyz with 200: it has loaded
// the published rule set. A client on a fake clock needs it, since its
// first connection failing (503 before the load) would leave it waiting
// on a reconnect timer that never fires.
func (b *Bearer) WaitReady(t testing.TB) {
	t.Helper()
	WaitFor(t, "the bearer on "+b.Addr+" to be ready", func() bool {
		resp, err := http.Get(b.URL() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// WaitFor polls cond until it holds, failing the test after 10 s.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BoolFlag returns a boolean flag serving def to everyone but users, who
// get "on".
func BoolFlag(key string, def bool, users ...string) *ruleset.Flag {
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

// ValueFlag returns a flag of type typ serving value (JSON) to everyone.
func ValueFlag(key string, typ ruleset.FlagType, value string) *ruleset.Flag {
	return &ruleset.Flag{
		Key: key, Type: typ, Enabled: true, Off: "only", Default: "only",
		Variants: []ruleset.Variant{{Name: "only", Value: json.RawMessage(value)}},
	}
}

// Doc returns a production document of the given flags.
func Doc(version string, flags ...*ruleset.Flag) *ruleset.Document {
	b := ruleset.NewFlagMapBuilder(len(flags))
	for _, f := range flags {
		b.Set(f.Key, f)
	}
	return &ruleset.Document{Version: version, Environment: "production", Flags: b.FlagMap()}
}
