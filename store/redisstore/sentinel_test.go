package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// failoverWait bounds how long the store may take to work again after a
// failover: go-redis learns of the new master from the sentinel's
// +switch-master message or on its next dial.
const failoverWait = 20 * time.Second

// resyncWait bounds how long a watcher takes to notice a failover: many
// health intervals, but less than the sentinel takes to demote the old
// master.
const resyncWait = 6 * time.Second

func TestSentinelFailover(t *testing.T) {
	s := redistest.StartSentinel(t)
	opts := redisstore.Options{LockTTL: 3 * time.Second, HealthInterval: 200 * time.Millisecond}
	pub := newRedisURL(t, s.URL(), opts)
	sub := newRedisURL(t, s.URL(), opts)
	ch, err := sub.Watch(t.Context())
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	checkBasics(t, pub, sub, ch)
	lock, err := pub.Acquire(t.Context(), "syncer")
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	t.Cleanup(func() { lock.Release(context.Background()) })

	start := time.Now()
	newMaster := s.Failover()
	t.Logf("sentinel switched to %s in %s", newMaster, time.Since(start))

	// Publishing works again once go-redis follows the sentinel. Until its
	// +switch-master message arrives a publish may still go to the old
	// master, which takes writes until the sentinel demotes it; those are
	// lost then, so publish until the new master has it.
	direct := redis.NewClient(&redis.Options{Addr: newMaster})
	defer direct.Close()
	ctx, cancel := context.WithTimeout(t.Context(), failoverWait)
	defer cancel()
	for {
		err := pub.Publish(ctx, snap("production", "v3"))
		if err == nil {
			if v, _ := direct.HGet(ctx, "flagpole:envs", "production").Result(); v == "v3" {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("Publish after failover did not reach the new master %s: %v", newMaster, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("publish works %s after the failover began", time.Since(start))
	// The reader follows the sentinel too, but on its own connection: until
	// its +switch-master message arrives it may still read the old master,
	// which has not seen v3.
	for {
		got, err := sub.Snapshot(ctx, "production")
		if err == nil && got.Version == "v3" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Snapshot after failover = %+v, %v; want v3", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, err := pub.Client().Exists(ctx, "flagpole:snap:staging", "flagpole:status").Result(); err != nil || n != 2 {
		t.Fatalf("replicated keys on the new master = %d, %v; want 2", n, err)
	}

	// The watcher may have been on the old master: it must be told to
	// reload, and then see later changes. The sentinel demotes the old
	// master (dropping its subscribers) only at its next INFO poll, about
	// 10 s on; the watcher must not wait for that.
	waitResync(t, ch, resyncWait)
	t.Logf("watcher resynced %s after the failover began", time.Since(start))
	if err := pub.Publish(t.Context(), snap("production", "v4")); err != nil {
		t.Fatalf("Publish after resync: %v", err)
	}
	if c := recv(t, ch); c != (store.Change{Environment: "production", Version: "v4"}) {
		t.Fatalf("change after resync = %+v, want production v4", c)
	}

	// The lock key was replicated; the holder keeps renewing it on the new
	// master, so a standby still cannot take it.
	ctx2, cancel2 := context.WithTimeout(t.Context(), time.Second)
	defer cancel2()
	if _, err := sub.Acquire(ctx2, "syncer"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("standby acquired the lock after failover: err = %v", err)
	}
	select {
	case <-lock.Lost():
		t.Fatal("holder lost its lock in a failover that replicated it")
	default:
	}
	if err := lock.Release(t.Context()); err != nil {
		t.Fatalf("Release after failover: %v", err)
	}
}

// waitResync reads ch until a Resync arrives, failing after d.
func waitResync(t *testing.T, ch <-chan store.Change, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatal("watch channel closed")
			}
			if c.Resync {
				return
			}
		case <-deadline:
			t.Fatalf("no Resync within %s", d)
		}
	}
}

func TestSentinelMasterCrash(t *testing.T) {
	s := redistest.StartSentinel(t)
	opts := redisstore.Options{HealthInterval: 200 * time.Millisecond}
	pub := newRedisURL(t, s.URL(), opts)
	sub := newRedisURL(t, s.URL(), opts)
	ch, err := sub.Watch(t.Context())
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if err := pub.Publish(t.Context(), snap("production", "v1")); err != nil {
		t.Fatal(err)
	}
	if c := recv(t, ch); c.Version != "v1" {
		t.Fatalf("change = %+v, want v1", c)
	}

	start := time.Now()
	newMaster := s.CrashMaster()
	t.Logf("sentinel promoted %s %s after the crash", newMaster, time.Since(start))
	ctx, cancel := context.WithTimeout(t.Context(), failoverWait)
	defer cancel()
	for {
		err := pub.Publish(ctx, snap("production", "v2"))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Publish after the master crashed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("publish works %s after the crash", time.Since(start))
	if got, err := sub.Snapshot(ctx, "production"); err != nil || got.Version != "v2" {
		t.Fatalf("Snapshot after the crash = %+v, %v; want v2", got, err)
	}
	// The watcher's connection died with the master: it reconnects through
	// the sentinel, is told to reload, and hears later changes.
	waitResync(t, ch, failoverWait)
	t.Logf("watcher resynced %s after the crash", time.Since(start))
	if err := pub.Publish(t.Context(), snap("production", "v3")); err != nil {
		t.Fatalf("Publish after resync: %v", err)
	}
	waitChange(t, ch, store.Change{Environment: "production", Version: "v3"})
}

// waitChange reads ch until want arrives, skipping other changes (a
// publish may race with a resubscription), failing after eventually.
func waitChange(t *testing.T, ch <-chan store.Change, want store.Change) {
	t.Helper()
	deadline := time.After(eventually)
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatal("watch channel closed")
			}
			if c == want {
				return
			}
		case <-deadline:
			t.Fatalf("no change %+v within %s", want, eventually)
		}
	}
}
