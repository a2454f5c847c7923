package sdk

import (
	"strings"
	"testing"
	"time"
)

func TestBootstrapDocument(t *testing.T) {
	d := doc("mem-1", boolFlag("checkout-v2", true))
	c, err := newClient(t, "", "", func(o *Options) { o.Offline, o.BootstrapDocument = true, d })
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if !c.Bool("checkout-v2", Context{"key": "rob"}, false) || c.Version() != "mem-1" {
		t.Error("bootstrap document not served")
	}
	d.Environment = "production"
	tests := []struct {
		name string
		set  func(*Options)
		want string
	}{
		{"both", func(o *Options) { o.Bootstrap, o.BootstrapDocument = "testdata/snapshot.json", d }, "not both"},
		{"other environment", func(o *Options) { o.BootstrapDocument, o.Environment = d, "staging" }, `not "staging"`},
		{"directory", func(o *Options) { o.Bootstrap = "../flags.example" }, "sdk/fromrepo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newClient(t, "", "", func(o *Options) { o.Offline = true; tt.set(o) })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestBootstrapServedWhileBearerIsDown(t *testing.T) {
	f := newFleet(t)
	b := f.Start("127.0.0.1:0")
	b.Stop()
	c, err := newClient(t, b.URL(), f.ServerKey, func(o *Options) {
		o.Bootstrap, o.InitTimeout = "testdata/snapshot.json", 200*time.Millisecond
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if s := c.State(); s != StateStale {
		t.Errorf("state %s, want STALE while serving the bootstrap", s)
	}
	if !c.Bool("checkout-v2", Context{"key": "rob"}, false) || c.Version() != "snap-1" {
		t.Error("bootstrap not served")
	}
	// Once the bearer is up, its rule set replaces the bootstrap.
	f.Publish(doc("v7", boolFlag("checkout-v2", false)))
	f.Start(b.Addr)
	waitFor(t, "the bearer's rule set", func() bool { return c.Version() == "v7" })
	if c.Bool("checkout-v2", Context{"key": "rob"}, true) || c.State() != StateReady {
		t.Error("the bearer's rule set does not replace the bootstrap")
	}
}
