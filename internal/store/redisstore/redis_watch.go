package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/flagpole/flagpole/internal/store"
	"time"

	"github.com/redis/go-redis/v9"
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
func (r *Redis) Watch(ctx context.Context) (<-chan store.Change, error) {
	ps := r.client.Subscribe(ctx, r.channel)
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, fmt.Errorf("redis subscribe %s: %w", r.channel, err)
	}
	out := make(chan store.Change, r.opts.WatchBuffer)
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	go func() {
		defer close(out)
		defer stop()
		r.watchLoop(ctx, ps, out)
	}()
	return out, nil
}

// watchLoop receives until ctx is done.
func (r *Redis) watchLoop(ctx context.Context, ps *redis.PubSub, out chan store.Change) {
	failures := 0
	for ctx.Err() == nil {
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
			failures++
			if failures == 1 {
				r.log.Warn("redis watch: connection lost; reconnecting", "channel", r.channel, "err", err)
			}
			sleepCtx(ctx, backoff(failures))
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			// The first confirmation was consumed by Watch: any other one
			// follows a reconnect.
			if m.Kind == "subscribe" {
				r.log.Info("redis watch: resubscribed; asking for a full reload", "channel", r.channel, "after_failures", failures)
				send(out, store.Change{Resync: true})
			}
			failures = 0
		case *redis.Message:
			failures = 0
			var c changeMsg
			if err := json.Unmarshal([]byte(m.Payload), &c); err != nil || c.Env == "" {
				r.log.Warn("redis watch: bad change message; asking for a full reload", "channel", r.channel, "payload_len", len(m.Payload))
				send(out, store.Change{Resync: true})
				continue
			}
			send(out, store.Change{Environment: c.Env, Version: c.Version})
		case *redis.Pong:
			failures = 0
		}
	}
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

// backoff is the wait after the n-th consecutive failure: 50 ms doubling to
// 1 s.
func backoff(n int) time.Duration {
	d := 50 * time.Millisecond << min(n-1, 5)
	return min(d, time.Second)
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
