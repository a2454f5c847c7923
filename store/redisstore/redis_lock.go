package redisstore

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/flagpole/flagpole/store"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// renewScript extends the lock only if it still holds our token.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

// releaseScript deletes the lock only if it still holds our token.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Acquire implements store.Locker with SET key token NX PX ttl. A standby retries
// every LockRetry (with jitter) until it wins or ctx is done; Redis errors
// while waiting are logged and retried.
func (r *Redis) Acquire(ctx context.Context, name string) (store.Lock, error) {
	key := r.prefix + "lock:" + name
	var raw [16]byte
	if _, err := cryptorand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("lock %s: making a token: %w", key, err)
	}
	token := hex.EncodeToString(raw[:])
	logged := false
	for {
		start := time.Now()
		ok, err := r.client.SetNX(ctx, key, token, r.opts.LockTTL).Result()
		if err == nil && ok {
			l := &redisLock{r: r, key: key, token: token, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
			go l.renew(start)
			r.log.Info("lock acquired", "key", key, "ttl", r.opts.LockTTL)
			return l, nil
		}
		if err != nil && ctx.Err() == nil && !logged {
			r.log.Warn("lock: redis unavailable while waiting; retrying", "key", key, "err", err)
			logged = true
		}
		jitter := time.Duration(rand.Int64N(int64(r.opts.LockRetry)/5 + 1))
		sleepCtx(ctx, r.opts.LockRetry+jitter)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// redisLock is a held Redis lock with its renewal goroutine.
type redisLock struct {
	r     *Redis
	key   string
	token string

	lostOnce    sync.Once
	releaseOnce sync.Once
	lost        chan struct{}
	stop        chan struct{} // closed by Release
	done        chan struct{} // closed when renew returns
}

// Lost implements store.Lock.
func (l *redisLock) Lost() <-chan struct{} { return l.lost }

func (l *redisLock) markLost() { l.lostOnce.Do(func() { close(l.lost) }) }

// renew extends the lock every TTL/3. The lock is declared lost when Redis
// says another holder has it, or when no renewal succeeded for 2/3 of the
// TTL: the key may expire before the next attempt, so the leader stops
// before a standby can take over.
func (l *redisLock) renew(lastOK time.Time) {
	defer close(l.done)
	ttl := l.r.opts.LockTTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), ttl/3)
		n, err := renewScript.Run(ctx, l.r.client, []string{l.key}, l.token, ttl.Milliseconds()).Int()
		cancel()
		switch {
		case err == nil && n == 1:
			lastOK = start
		case err == nil:
			l.r.log.Warn("lock lost: held by another process or expired", "key", l.key)
			l.markLost()
			return
		case time.Since(lastOK) >= ttl*2/3:
			l.r.log.Warn("lock lost: could not renew in time", "key", l.key, "err", err)
			l.markLost()
			return
		default:
			l.r.log.Warn("lock renewal failed; retrying", "key", l.key, "err", err)
		}
	}
}

// Release implements store.Lock: it stops renewal and deletes the key if it still
// holds this lock's token.
func (l *redisLock) Release(ctx context.Context) error {
	first := false
	l.releaseOnce.Do(func() { first = true; close(l.stop) })
	if !first {
		return store.ErrLockNotHeld
	}
	<-l.done
	defer l.markLost()
	select {
	case <-l.lost:
		return store.ErrLockNotHeld
	default:
	}
	n, err := releaseScript.Run(ctx, l.r.client, []string{l.key}, l.token).Int()
	if err != nil {
		return fmt.Errorf("releasing lock %s: %w", l.key, err)
	}
	if n == 0 {
		return fmt.Errorf("releasing lock %s: %w", l.key, store.ErrLockNotHeld)
	}
	l.r.log.Info("lock released", "key", l.key)
	return nil
}
