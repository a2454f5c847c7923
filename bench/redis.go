package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// changesChannel is the store's pub/sub channel under the default prefix
// (docs/sync.md): one {"env","version"} message per publish.
const changesChannel = "flagpole:changes"

// publishLog records when each publish of one environment was announced on
// Redis, as a subscriber in the bench process sees it.
type publishLog struct {
	mu    sync.Mutex
	times []time.Time
	stop  func()
}

// watchPublishes subscribes to the changes channel of the Redis at addr
// and logs the announcements for env.
func watchPublishes(ctx context.Context, addr, env string) (*publishLog, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	ps := rdb.Subscribe(ctx, changesChannel)
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		_ = rdb.Close()
		return nil, fmt.Errorf("subscribing to %s on %s: %w", changesChannel, addr, err)
	}
	l := &publishLog{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg := range ps.Channel() {
			at := time.Now()
			var m struct {
				Env string `json:"env"`
			}
			if json.Unmarshal([]byte(msg.Payload), &m) == nil && m.Env == env {
				l.mu.Lock()
				l.times = append(l.times, at)
				l.mu.Unlock()
			}
		}
	}()
	l.stop = func() {
		_ = ps.Close()
		<-done
		_ = rdb.Close()
	}
	return l, nil
}

// split returns, for each change that started at starts[i] and was seen
// by the SDKs lat[i] later, the time until the first announcement within
// that span; changes without one are left out.
func (l *publishLog) split(starts []time.Time, lat []time.Duration) (toPublish, toSDK []time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range lat {
		end := starts[i].Add(lat[i])
		for _, t := range l.times {
			if !t.Before(starts[i]) && !t.After(end) {
				toPublish = append(toPublish, t.Sub(starts[i]))
				toSDK = append(toSDK, end.Sub(t))
				break
			}
		}
	}
	return toPublish, toSDK
}
