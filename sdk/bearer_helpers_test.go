package sdk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/flagpole/flagpole/bearer"
	"github.com/flagpole/flagpole/internal/store"
	"github.com/flagpole/flagpole/ruleset"
)

// fleet is a memory store with SDK keys, served by real bearers on
// loopback that tests can stop and restart.
type fleet struct {
	t         *testing.T
	store     *store.Memory
	serverKey string
	clientKey string
}

func newFleet(t *testing.T) *fleet {
	return &fleet{t: t, store: store.NewMemory(), serverKey: randomKey(t), clientKey: randomKey(t)}
}

func randomKey(t *testing.T) string {
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

// publish makes d the current production snapshot.
func (f *fleet) publish(d *ruleset.Document) {
	f.t.Helper()
	err := f.store.Publish(context.Background(), &store.Snapshot{
		Environment: d.Environment, Version: d.Version, Document: d, Published: time.Now(),
		Keys: []store.Key{
			{Name: "test-server", Environment: d.Environment, Kind: store.KeyServer, SHA256: hashKey(f.serverKey)},
			{Name: "test-client", Environment: d.Environment, Kind: store.KeyClient, SHA256: hashKey(f.clientKey)},
		},
	})
	if err != nil {
		f.t.Fatalf("publishing %s: %v", d.Version, err)
	}
}

// runningBearer is one bearer process-alike: a bearer.Server and its
// http.Server on a loopback listener.
type runningBearer struct {
	addr    string
	http    *http.Server
	cancel  context.CancelFunc
	stopped chan struct{}
}

// start runs a bearer on addr ("127.0.0.1:0" for any port); it is stopped
// at the end of the test if the test has not stopped it.
func (f *fleet) start(addr string) *runningBearer {
	f.t.Helper()
	srv, err := bearer.New(bearer.Options{Store: f.store, PingInterval: time.Second})
	if err != nil {
		f.t.Fatalf("bearer.New: %v", err)
	}
	var ln net.Listener
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the old listener may still be closing
	}
	if err != nil {
		f.t.Fatalf("listening on %s: %v", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &runningBearer{addr: ln.Addr().String(), http: &http.Server{Handler: srv.Handler()}, cancel: cancel, stopped: make(chan struct{})}
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = srv.Run(ctx) }()
	go func() {
		defer close(b.stopped)
		if err := b.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.t.Errorf("bearer on %s: %v", b.addr, err)
		}
		<-runDone
	}()
	f.t.Cleanup(b.stop)
	return b
}

// stop kills the bearer: open streams are cut, the port is released.
func (b *runningBearer) stop() {
	b.cancel()
	_ = b.http.Close()
	<-b.stopped
}

func (b *runningBearer) url() string { return "http://" + b.addr }

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
