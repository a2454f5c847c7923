package sdk

import (
	"errors"
	"github.com/jonboulle/clockwork"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

func TestStreamPutThenPatch(t *testing.T) {
	f := newFleet(t)
	f.Publish(doc("v1", boolFlag("checkout-v2", false, "audrey"), stringFlag("banner-text", "hello")))
	b := f.Start("127.0.0.1:0")
	c, err := newClient(t, b.URL(), f.ServerKey, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if c.State() != StateReady || c.Version() != "v1" {
		t.Fatalf("after New: state %s version %q, want READY v1", c.State(), c.Version())
	}
	select {
	case <-c.Ready():
	default:
		t.Fatal("Ready() not closed after New returned with a rule set")
	}
	if !c.Bool("checkout-v2", Context{"key": "audrey"}, false) || c.Bool("checkout-v2", Context{"key": "bob"}, true) {
		t.Fatal("v1 evaluations wrong")
	}
	changes := collect(t, c)

	f.Publish(doc("v2", boolFlag("checkout-v2", true), stringFlag("banner-text", "hello")))
	waitFor(t, "v2", func() bool { return c.Version() == "v2" })
	if !c.Bool("checkout-v2", Context{"key": "bob"}, false) {
		t.Error("v2 not applied: bob still gets false")
	}
	waitFor(t, "the change notification", func() bool { return len(changes()) == 1 })
	want := Change{Version: "v2", Flags: []string{"checkout-v2"}}
	if got := changes()[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("change = %+v, want %+v", got, want)
	}
	if c.State() != StateReady {
		t.Errorf("state %s, want READY", c.State())
	}
}

func TestPatchThatDoesNotApplyIsRefetched(t *testing.T) {
	f := newFleet(t)
	f.Publish(doc("v1", boolFlag("checkout-v2", false)))
	b := f.Start("127.0.0.1:0")
	p := newLossyProxy(t, b.URL(), 1) // loses the first patch on its way
	c, err := newClient(t, p.url(), f.ServerKey, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	changes := collect(t, c)
	f.Publish(doc("v2", boolFlag("checkout-v2", true)))
	waitFor(t, "the proxy to drop the v1→v2 patch", func() bool { return p.dropped() == 1 })
	if c.Version() != "v1" {
		t.Fatalf("version %q after the lost patch, want v1", c.Version())
	}
	f.Publish(doc("v3", boolFlag("checkout-v2", true), stringFlag("banner-text", "new")))
	waitFor(t, "v3", func() bool { return c.Version() == "v3" })
	if got := p.fetches(); got < 1 {
		t.Errorf("GET /v1/flags called %d times, want a refetch", got)
	}
	if !c.Bool("checkout-v2", nil, false) || c.String("banner-text", nil, "") != "new" {
		t.Error("v3 evaluations wrong after the refetch")
	}
	waitFor(t, "a change to v3", func() bool {
		ch := changes()
		return len(ch) > 0 && ch[len(ch)-1].Version == "v3"
	})
	want := []string{"banner-text", "checkout-v2"}
	if got := changes()[len(changes())-1].Flags; !reflect.DeepEqual(got, want) {
		t.Errorf("changed flags %v, want %v (v1→v3 as one change)", got, want)
	}
	// The client keeps streaming patches after the refetch.
	f.Publish(doc("v4", boolFlag("checkout-v2", false), stringFlag("banner-text", "new")))
	waitFor(t, "v4", func() bool { return c.Version() == "v4" })
}

func TestBearerKilledAndRestarted(t *testing.T) {
	f := newFleet(t)
	f.Publish(doc("v1", boolFlag("checkout-v2", true)))
	b := f.Start("127.0.0.1:0")
	c, err := newClient(t, b.URL(), f.ServerKey, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var mu sync.Mutex
	var states []StateChange
	defer c.WatchState(func(s StateChange) { mu.Lock(); states = append(states, s); mu.Unlock() })()

	b.Stop()
	waitFor(t, "STALE", func() bool { return c.State() == StateStale })
	for range 20 {
		if !c.Bool("checkout-v2", nil, false) || c.Version() != "v1" {
			t.Fatal("the last known rule set is not served while the bearer is down")
		}
	}
	f.Publish(doc("v2", boolFlag("checkout-v2", false)))
	f.Start(b.Addr)
	waitFor(t, "v2 from the restarted bearer", func() bool { return c.Version() == "v2" })
	waitFor(t, "READY", func() bool { return c.State() == StateReady })
	if c.Bool("checkout-v2", nil, true) {
		t.Error("v2 not served after the restart")
	}
	// Watchers are called from their own goroutine, so the READY callback
	// may arrive after State() already says READY: wait for it.
	waitFor(t, "the READY callback", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(states) > 0 && states[len(states)-1].To == StateReady
	})
	mu.Lock()
	defer mu.Unlock()
	stale := slices.IndexFunc(states, func(s StateChange) bool { return s.To == StateStale })
	if stale < 0 || states[stale].Err == nil || states[len(states)-1].To != StateReady {
		t.Errorf("state changes %+v, want STALE (with its error) … READY", states)
	}
}

func TestResumeWithoutPut(t *testing.T) {
	f := newFleet(t)
	f.Publish(doc("v1", boolFlag("checkout-v2", true)))
	b := f.Start("127.0.0.1:0")
	c, err := newClient(t, b.URL(), f.ServerKey, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	changes := collect(t, c)
	b.Stop()
	waitFor(t, "STALE", func() bool { return c.State() == StateStale })
	f.Start(b.Addr)
	waitFor(t, "READY", func() bool { return c.State() == StateReady })
	f.Publish(doc("v2", boolFlag("checkout-v2", false)))
	waitFor(t, "v2", func() bool { return c.Version() == "v2" })
	// Resuming at v1 brought no put, so the only change is v2's patch.
	waitFor(t, "one change", func() bool { return len(changes()) >= 1 })
	if got := changes(); len(got) != 1 || got[0].Version != "v2" {
		t.Errorf("changes %+v, want only v2", got)
	}
}

func TestKeyRejected(t *testing.T) {
	f := newFleet(t)
	f.Publish(doc("v1", boolFlag("checkout-v2", true)))
	b := f.Start("127.0.0.1:0")
	tests := []struct {
		name, key, status string
	}{
		{"unknown key", "fp_not_a_key_0123456789", "401"},
		{"client key", f.ClientKey, "403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newClient(t, b.URL(), tt.key, nil)
			if !errors.Is(err, ErrKeyRejected) {
				t.Fatalf("New error = %v, want ErrKeyRejected", err)
			}
			if !strings.Contains(err.Error(), tt.status) || strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q should name status %s and never the key", err, tt.status)
			}
		})
	}
}

func TestInitTimeoutWithoutBearer(t *testing.T) {
	f := newFleet(t)
	b := f.Start("127.0.0.1:0")
	b.Stop() // a port nobody listens on
	clk := clockwork.NewFakeClock()
	type result struct {
		c   *Client
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := newClient(t, b.URL(), f.ServerKey, func(o *Options) { o.InitTimeout, o.Clock = time.Hour, clk })
		res <- result{c, err}
	}()
	// New waits on its InitTimeout timer (and the client on its reconnect
	// timer): neither fires until the clock moves.
	if err := clk.BlockUntilContext(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-res:
		t.Fatalf("New returned before InitTimeout: %v", r.err)
	default:
	}
	clk.Advance(time.Hour)
	r := <-res
	c, err := r.c, r.err
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	d := c.BoolDetail("checkout-v2", Context{"key": "u"}, true)
	if !d.Value || d.Reason != ruleset.ReasonError || d.ErrorCode != ruleset.ErrorGeneral {
		t.Errorf("detail %+v, want the default with ERROR/GENERAL", d)
	}
	if s := c.State(); s != StateError && s != StateNotReady {
		t.Errorf("state %s, want ERROR or NOT_READY", s)
	}
	// It keeps trying: a bearer appearing later is picked up.
	f.Publish(doc("v1", boolFlag("checkout-v2", false)))
	f.Start(b.Addr)
	waitFor(t, "the late bearer's rule set", func() bool { clk.Advance(DefaultReconnectMax); return c.Version() == "v1" })
	<-c.Ready()
	if c.Bool("checkout-v2", nil, true) {
		t.Error("late rule set not served")
	}
}

func TestBearerWithoutRuleSetYet(t *testing.T) {
	f := newFleet(t)
	b := f.Start("127.0.0.1:0") // nothing published: 503
	c, err := newClient(t, b.URL(), f.ServerKey, func(o *Options) { o.InitTimeout = -1 })
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if c.Version() != "" {
		t.Fatalf("version %q before any publish", c.Version())
	}
	f.Publish(doc("v1", boolFlag("checkout-v2", true)))
	waitFor(t, "v1", func() bool { return c.Version() == "v1" })
}

func TestKeyRevokedWhileStreaming(t *testing.T) {
	f := newFleet(t)
	f.Publish(doc("v1", boolFlag("checkout-v2", true)))
	b := f.Start("127.0.0.1:0")
	c, err := newClient(t, b.URL(), f.ServerKey, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	errs := make(chan error, 16)
	defer c.WatchState(func(s StateChange) {
		if s.To == StateError {
			errs <- s.Err
		}
	})()
	f.RevokeServerKey = true
	f.Publish(doc("v2", boolFlag("checkout-v2", false)))
	select {
	case err := <-errs:
		if !errors.Is(err, ErrKeyRejected) {
			t.Errorf("ERROR because of %v, want ErrKeyRejected", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no ERROR state after the key was revoked")
	}
	// The revoked key must not have received v2; v1 keeps serving.
	if c.Version() != "v1" || !c.Bool("checkout-v2", nil, false) {
		t.Errorf("version %q: want the last rule set seen with a valid key (v1)", c.Version())
	}
}
