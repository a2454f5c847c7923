package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
)

// lockers returns one Locker per implementation, each with two handles that
// act like two processes.
func lockers(t *testing.T) map[string][2]store.Locker {
	mem := store.NewMemoryLocker()
	srv := redistest.Start(t)
	cluster := redistest.StartCluster(t, 3)
	sentinel := redistest.StartSentinel(t)
	opts := redisstore.Options{LockTTL: 600 * time.Millisecond}
	return map[string][2]store.Locker{
		"memory":         {mem, mem},
		"redis":          {newRedis(t, srv, opts), newRedis(t, srv, opts)},
		"redis cluster":  {newRedisURL(t, cluster.URL(), opts), newRedisURL(t, cluster.URL(), opts)},
		"redis sentinel": {newRedisURL(t, sentinel.URL(), opts), newRedisURL(t, sentinel.URL(), opts)},
	}
}

func TestLockerExclusiveAndHandover(t *testing.T) {
	for name, pair := range lockers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each waits out renewals; the lockers are independent
			a, b := pair[0], pair[1]
			la, err := a.Acquire(t.Context(), "syncer")
			if err != nil {
				t.Fatalf("Acquire a: %v", err)
			}
			// b waits while a holds the lock, well past several renewals.
			ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
			defer cancel()
			if _, err := b.Acquire(ctx, "syncer"); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("b acquired a held lock: err = %v", err)
			}
			select {
			case <-la.Lost():
				t.Fatal("a lost a lock it kept renewing")
			default:
			}
			// Another name is independent.
			lo, err := b.Acquire(t.Context(), "breaker")
			if err != nil {
				t.Fatalf("Acquire other name: %v", err)
			}
			defer lo.Release(context.Background())

			got := make(chan store.Lock, 1)
			go func() {
				l, err := b.Acquire(t.Context(), "syncer")
				if err == nil {
					got <- l
				}
			}()
			if err := la.Release(t.Context()); err != nil {
				t.Fatalf("Release: %v", err)
			}
			select {
			case <-la.Lost():
			default:
				t.Error("Lost not closed after Release")
			}
			if err := la.Release(t.Context()); !errors.Is(err, store.ErrLockNotHeld) {
				t.Errorf("second Release: err = %v, want ErrLockNotHeld", err)
			}
			select {
			case lb := <-got:
				lb.Release(context.Background())
			case <-time.After(eventually):
				t.Fatal("standby did not take over after release")
			}
		})
	}
}

func TestRedisLockTakeoverAfterCrash(t *testing.T) {
	srv := redistest.Start(t)
	ttl := 500 * time.Millisecond
	a := newRedis(t, srv, redisstore.Options{LockTTL: ttl})
	b := newRedis(t, srv, redisstore.Options{LockTTL: ttl})
	la, err := a.Acquire(t.Context(), "syncer")
	if err != nil {
		t.Fatal(err)
	}
	// Someone else overwrites the key (as after a crash and expiry): the
	// holder must notice at its next renewal and stop acting.
	if err := b.Client().Set(t.Context(), "flagpole:lock:syncer", "intruder", ttl).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-la.Lost():
	case <-time.After(eventually):
		t.Fatal("holder did not notice it lost the lock")
	}
	if err := la.Release(t.Context()); !errors.Is(err, store.ErrLockNotHeld) {
		t.Errorf("Release of a lost lock: err = %v, want ErrLockNotHeld", err)
	}
	// The intruder never renews; the key expires and b takes over.
	ctx, cancel := context.WithTimeout(t.Context(), eventually)
	defer cancel()
	lb, err := b.Acquire(ctx, "syncer")
	if err != nil {
		t.Fatalf("standby did not take over an expired lock: %v", err)
	}
	lb.Release(context.Background())
}

func TestRedisLockLostWhenRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	a := newRedis(t, srv, redisstore.Options{LockTTL: 600 * time.Millisecond})
	la, err := a.Acquire(t.Context(), "syncer")
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	select {
	case <-la.Lost():
	case <-time.After(eventually):
		t.Fatal("leader kept acting although it could not renew")
	}
}
