package sdk

import (
	"testing"
	"time"
)

func TestBootstrapFromRepository(t *testing.T) {
	tests := []struct {
		env     string
		want    bool // checkout-v2 for a user outside the allow list
		variant string
	}{
		{"production", false, "off"},
		{"staging", true, "on"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			c, err := newClient(t, "", "", func(o *Options) {
				o.Offline, o.Bootstrap, o.Environment = true, "../flags.example", tt.env
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			d := c.BoolDetail("checkout-v2", Context{"key": "not-listed-user-7"}, !tt.want)
			if d.Value != tt.want || d.ErrorCode != 0 {
				t.Errorf("checkout-v2 = %+v, want %v", d, tt.want)
			}
			if !c.Bool("checkout-v2", Context{"key": "audrey"}, false) {
				t.Error("audrey is on the allow list in every environment")
			}
			if c.Version() == "" || c.Document().Environment != tt.env {
				t.Errorf("version %q environment %q", c.Version(), c.Document().Environment)
			}
		})
	}
	t.Run("environment required", func(t *testing.T) {
		_, err := newClient(t, "", "", func(o *Options) { o.Offline, o.Bootstrap = true, "../flags.example" })
		if err == nil {
			t.Fatal("New succeeded on a repository with two environments and no Environment")
		}
	})
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
