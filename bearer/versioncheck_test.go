package bearer

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flagpole/flagpole/store"
)

// deafStore is a memory store whose Watch drops every change while deaf
// is set, as a lost pub/sub message would.
type deafStore struct {
	*store.Memory
	deaf atomic.Bool
}

func (s *deafStore) Watch(ctx context.Context) (<-chan store.Change, error) {
	in, err := s.Memory.Watch(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan store.Change)
	go func() {
		defer close(out)
		for c := range in {
			if s.deaf.Load() {
				continue
			}
			select {
			case out <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// A change whose notification is lost reaches the bearer at its next
// version check: it does not stay on the old version until the next
// change.
func TestVersionCheckCatchesLostChange(t *testing.T) {
	st := &deafStore{Memory: store.NewMemory()}
	ctx := t.Context()
	if err := st.Publish(ctx, snapshot(testDoc("production", "v1"))); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, VersionCheck: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	served := func(version string) bool {
		h := srv.hub("production")
		return h != nil && h.cur.Load().version == version
	}
	waitUntil(t, "v1 loaded", func() bool { return served("v1") })

	st.deaf.Store(true)
	if err := st.Publish(ctx, snapshot(testDoc("production", "v2"))); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "v2 loaded without its notification", func() bool { return served("v2") })
}
