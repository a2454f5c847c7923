package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/jonboulle/clockwork"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// silentBearer answers GET /v1/stream with a put and then says nothing,
// like a bearer behind a proxy that lost the connection without closing it.
func silentBearer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var conns atomic.Int32
	put, err := json.Marshal(doc("v1", boolFlag("checkout-v2", true)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conns.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "event: put\nid: v1\ndata: %s\n\n", put)
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv, &conns
}

func TestSilentStreamGoesStaleAndReconnects(t *testing.T) {
	srv, conns := silentBearer(t)
	clk := clockwork.NewFakeClock()
	c, err := newClient(t, srv.URL, "k", func(o *Options) { o.StaleAfter, o.Clock = time.Minute, clk })
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	errs := make(chan error, 16)
	defer c.WatchState(func(s StateChange) {
		if s.To == StateStale {
			select {
			case errs <- s.Err:
			default:
			}
		}
	})()
	if err := clk.BlockUntilContext(t.Context(), 1); err != nil { // the watchdog's ticker
		t.Fatal(err)
	}
	if s := c.State(); s != StateReady {
		t.Fatalf("state %s before any time passed, want READY", s)
	}
	// A minute of silence, seen by the watchdog at its next tick.
	clk.Advance(time.Minute + time.Minute/4)
	select {
	case err := <-errs:
		if !errors.Is(err, ErrStreamSilent) {
			t.Errorf("STALE because of %v, want ErrStreamSilent", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no STALE after 10 s of silence")
	}
	// The reconnect waits for its backoff timer, which only the clock fires.
	waitFor(t, "a reconnect", func() bool { clk.Advance(DefaultReconnectMax); return conns.Load() >= 2 })
	if !c.Bool("checkout-v2", nil, false) {
		t.Error("the last known rule set is not served")
	}
}

func TestSlowSubscriberBlocksNothing(t *testing.T) {
	f := newFleet(t)
	f.Publish(doc("v1", boolFlag("checkout-v2", true)))
	b := f.Start("127.0.0.1:0")
	c, err := newClient(t, b.URL(), f.ServerKey, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	release := make(chan struct{})
	defer close(release)
	c.Subscribe(func(Change) { <-release }) // stuck until the test ends
	fast := collect(t, c)
	for i := 2; i <= 6; i++ {
		f.Publish(doc(fmt.Sprintf("v%d", i), boolFlag("checkout-v2", i%2 == 0)))
		want := fmt.Sprintf("v%d", i)
		waitFor(t, want, func() bool { return c.Version() == want })
	}
	waitFor(t, "5 changes to the fast subscriber", func() bool { return len(fast()) == 5 })
}

func TestCloseStopsEverything(t *testing.T) {
	f := newFleet(t)
	f.Publish(doc("v1", boolFlag("checkout-v2", true)))
	b := f.Start("127.0.0.1:0")
	// Warm up the bearer and the HTTP machinery so that their goroutines
	// are counted in the baseline.
	warm, err := newClient(t, b.URL(), f.ServerKey, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	warm.Close()
	before := settledGoroutines()

	for range 5 {
		c, err := New(context.Background(), Options{URL: b.URL(), Key: f.ServerKey, Logger: testLogger(t)})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		c.Subscribe(func(Change) {})
		c.WatchState(func(StateChange) {})
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if !c.Bool("checkout-v2", nil, false) {
			t.Fatal("a closed client stopped serving its last rule set")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := settledGoroutines()
		if after <= before {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after 5 clients were closed\n%s", before, after, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settledGoroutines counts goroutines after letting exiting ones finish.
func settledGoroutines() int {
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	return runtime.NumGoroutine()
}
