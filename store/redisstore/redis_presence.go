package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flagpole/flagpole/store"
)

var _ store.Presence = (*Redis)(nil)

// Bearer records live in two kinds of keys:
//
//	<prefix>bearer:<id>  JSON store.BearerInfo, with a TTL (PX)
//	<prefix>bearers      sorted set: bearer id → when its record expires
//	                     (Unix milliseconds by Redis's clock)
//
// The record's TTL is what makes a crashed bearer disappear; the sorted set
// is the index Bearers reads, so that listing never scans the keyspace. Its
// members whose score has passed are removed at every put and every list,
// so it holds one member per live bearer, and the set itself expires with
// the last record. Times come from Redis (TIME), not from the bearers, so
// that a bearer with a skewed or fake clock cannot keep a record alive or
// expire another's. Under Cluster the prefix carries a hash tag, so both
// keys of a script are in one slot.
func (r *Redis) bearerKey(id string) string { return r.prefix + "bearer:" + id }
func (r *Redis) bearersKey() string         { return r.prefix + "bearers" }

// putBearerScript writes a record and indexes it: KEYS record key, index
// key; ARGV record JSON, ttl (ms), id.
var putBearerScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1`)

// removeBearerScript deletes a record and its index entry: KEYS record
// key, index key; ARGV id.
var removeBearerScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`)

// listBearersScript drops expired index entries and returns the ids of the
// most recently written records: KEYS index key; ARGV how many.
var listBearersScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)`)

// PutBearer implements store.Presence: SET PX and ZADD in one script.
func (r *Redis) PutBearer(ctx context.Context, b *store.BearerInfo, ttl time.Duration) error {
	if err := b.Check(); err != nil {
		return err
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("redis put bearer %s: ttl %s is under a millisecond", b.ID, ttl)
	}
	body, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("redis put bearer %s: encoding: %w", b.ID, err)
	}
	if len(body) > store.MaxBearerRecordBytes {
		return fmt.Errorf("%w: %d bytes of JSON (at most %d)", store.ErrBearerRecord, len(body), store.MaxBearerRecordBytes)
	}
	keys := []string{r.bearerKey(b.ID), r.bearersKey()}
	if err := putBearerScript.Run(ctx, r.client, keys, body, ttl.Milliseconds(), b.ID).Err(); err != nil {
		return fmt.Errorf("redis put bearer %s (key %s): %w", b.ID, keys[0], err)
	}
	return nil
}

// RemoveBearer implements store.Presence.
func (r *Redis) RemoveBearer(ctx context.Context, id string) error {
	keys := []string{r.bearerKey(id), r.bearersKey()}
	if err := removeBearerScript.Run(ctx, r.client, keys, id).Err(); err != nil {
		return fmt.Errorf("redis remove bearer %s (key %s): %w", id, keys[0], err)
	}
	return nil
}

// Bearers implements store.Presence: the index's newest store.MaxBearers
// ids, then their records in one MGET. An id whose record has gone (removed
// or expired since) is skipped, as is a record over
// store.MaxBearerRecordBytes or one that does not decode.
func (r *Redis) Bearers(ctx context.Context) ([]store.BearerInfo, error) {
	ids, err := listBearersScript.Run(ctx, r.client, []string{r.bearersKey()}, store.MaxBearers).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redis list bearers (key %s): %w", r.bearersKey(), err)
	}
	if len(ids) == 0 {
		return []store.BearerInfo{}, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = r.bearerKey(id)
	}
	vals, err := r.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis read bearers (%d keys from %s): %w", len(keys), keys[0], err)
	}
	list := make([]store.BearerInfo, 0, len(vals))
	for i, v := range vals {
		s, ok := v.(string)
		if !ok || len(s) > store.MaxBearerRecordBytes {
			continue
		}
		var b store.BearerInfo
		if err := json.Unmarshal([]byte(s), &b); err != nil {
			r.log.Warn("skipping a bearer record that does not decode", "key", keys[i], "error", err)
			continue
		}
		list = append(list, b)
	}
	store.SortBearers(list)
	return list, nil
}
