package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flagpole/flagpole/internal/backoff"
	"github.com/flagpole/flagpole/store"
)

// Watch implements store.Store. It subscribes to the changes channel and returns
// once Redis has confirmed the subscription, so that every publish after
// Watch returns is seen.
//
// go-redis reconnects and resubscribes by itself after a connection loss;
// each confirmation after the first means changes may have been missed
// while disconnected, so the watcher gets store.Change{Resync: true}. A watcher
// that falls behind by more than WatchBuffer changes also gets a Resync in
// place of the changes it missed: Watch never blocks on a slow consumer.
//
// With Sentinel, a failover leaves the subscription on the old master, which
// stays up and hears nothing until the sentinel demotes it (up to 10 s
// later). So every HealthInterval the watcher asks the master for its run_id;
// when it changes, the watcher subscribes anew (reaching the new master) and
// sends a Resync.
func (r *Redis) Watch(ctx context.Context) (<-chan store.Change, error) {
	w := &watcher{r: r, out: make(chan store.Change, r.opts.WatchBuffer)}
	// The master is asked before subscribing: a failover in between then
	// costs one needless resubscription rather than a missed one.
	w.master = r.masterID(ctx)
	ps, err := r.subscribe(ctx)
	if err != nil {
		return nil, err
	}
	w.ps = ps
	stop := context.AfterFunc(ctx, w.close)
	go func() {
		defer close(w.out)
		defer stop()
		defer w.close()
		w.loop(ctx)
	}()
	return w.out, nil
}

// subscribe subscribes to the changes channel and waits for Redis to
// confirm.
func (r *Redis) subscribe(ctx context.Context) (*redis.PubSub, error) {
	ps := r.client.Subscribe(ctx, r.channel)
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, fmt.Errorf("redis subscribe %s: %w", r.channel, err)
	}
	return ps, nil
}

// masterID returns the run_id of the Sentinel master the client's commands
// now reach, or "" when that is unknown or the topology is not Sentinel.
func (r *Redis) masterID(ctx context.Context) string {
	if r.topo != topoSentinel {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.HealthInterval)
	defer cancel()
	info, err := r.client.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	for line := range strings.Lines(info) {
		if id, ok := strings.CutPrefix(line, "run_id:"); ok {
			return strings.TrimSpace(id)
		}
	}
	return ""
}

// watcher is one Watch: its subscription, replaced after a Sentinel
// failover, and the run_id of the master it was made on.
type watcher struct {
	r      *Redis
	out    chan store.Change
	master string

	mu sync.Mutex
	ps *redis.PubSub
}

func (w *watcher) current() *redis.PubSub {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ps
}

func (w *watcher) close() { _ = w.current().Close() }

// loop receives until ctx is done.
func (w *watcher) loop(ctx context.Context) {
	r := w.r
	bo := backoff.Counter{Policy: watchRetry}
	checked := time.Now()
	for ctx.Err() == nil {
		if r.topo == topoSentinel && time.Since(checked) >= r.opts.HealthInterval {
			w.followMaster(ctx)
			checked = time.Now()
		}
		ps := w.current()
		msg, err := ps.ReceiveTimeout(ctx, r.opts.HealthInterval)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if isTimeout(err) {
				// Quiet channel: a PING finds a dead connection, which makes
				// the next receive reconnect and resubscribe.
				_ = ps.Ping(ctx)
				continue
			}
			delay := bo.Next()
			if bo.Failures() == 1 {
				r.log.Warn("redis watch: connection lost; reconnecting", "channel", r.channel, "err", err)
			}
			sleepCtx(ctx, delay)
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			// The first confirmation was consumed by Watch: any other one
			// follows a reconnect, which may have reached a new master.
			if m.Kind == "subscribe" {
				r.log.Info("redis watch: resubscribed; asking for a full reload", "channel", r.channel, "after_failures", bo.Failures())
				if id := r.masterID(ctx); id != "" {
					w.master = id
				}
				send(w.out, store.Change{Resync: true})
			}
			bo.Reset()
		case *redis.Message:
			bo.Reset()
			var c changeMsg
			if err := json.Unmarshal([]byte(m.Payload), &c); err != nil || c.Env == "" {
				r.log.Warn("redis watch: bad change message; asking for a full reload", "channel", r.channel, "payload_len", len(m.Payload))
				send(w.out, store.Change{Resync: true})
				continue
			}
			if len(c.Patch) > 0 {
				r.notePatch(c.Env, c.Version, c.Patch) // before the change is seen
			}
			send(w.out, store.Change{Environment: c.Env, Version: c.Version, Removed: c.Removed})
		case *redis.Pong:
			bo.Reset()
		}
	}
}

// followMaster resubscribes, and sends a Resync, when the Sentinel master
// is no longer the one the subscription was made on.
func (w *watcher) followMaster(ctx context.Context) {
	id := w.r.masterID(ctx)
	if id == "" || id == w.master {
		return
	}
	if w.master == "" {
		w.master = id
		return
	}
	ps, err := w.r.subscribe(ctx)
	if err != nil {
		w.r.log.Warn("redis watch: master changed; resubscribing failed, will retry", "channel", w.r.channel, "err", err)
		return
	}
	w.r.log.Info("redis watch: sentinel master changed; resubscribed, asking for a full reload", "channel", w.r.channel)
	w.mu.Lock()
	old := w.ps
	w.ps = ps
	w.mu.Unlock()
	_ = old.Close()
	w.master = id
	send(w.out, store.Change{Resync: true})
}

// send delivers c without blocking: when out is full, the oldest change is
// dropped and a Resync queued in its place.
func send(out chan store.Change, c store.Change) {
	select {
	case out <- c:
		return
	default:
	}
	select {
	case <-out:
	default:
	}
	select {
	case out <- store.Change{Resync: true}:
	default:
	}
}

// watchRetry paces reconnects after consecutive failures: 50 ms doubling to
// 1 s, each delay at least half its ceiling.
var watchRetry = backoff.Policy{Min: 50 * time.Millisecond, Max: time.Second}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
