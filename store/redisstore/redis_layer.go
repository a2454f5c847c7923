package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/flagpole/flagpole/store"
)

var _ store.Overrider = (*Redis)(nil)

// The override layer of an environment is one hash, <prefix>layer:<env>:
//
//	seq          the layer counter (HINCRBY)
//	o:<flag>     the entry's JSON (store.LayerEntry without its seq)
//	s:<flag>     the entry's seq
//
// One key per script: every layer update touches a single slot whatever the
// prefix, and a FLUSHALL empties the layer with the rest of the store.
func (r *Redis) layerKey(env string) string { return r.prefix + "layer:" + env }

// setOverrideScript bumps the counter, stores an entry and announces the
// change: KEYS layer key; ARGV flag, entry JSON, channel, change JSON.
var setOverrideScript = redis.NewScript(`
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 'o:' .. ARGV[1], ARGV[2], 's:' .. ARGV[1], seq)
redis.call('PUBLISH', ARGV[3], ARGV[4])
return seq`)

// dropOverrideScript removes an entry if it still has the given seq, bumps
// the counter and announces the change: KEYS layer key; ARGV flag, seq,
// channel, change JSON. It returns 1 when it dropped the entry.
var dropOverrideScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 's:' .. ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], 'o:' .. ARGV[1], 's:' .. ARGV[1])
redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`)

// SetOverride implements store.Overrider: the entry is checked against the
// environment's snapshot, then stored, counted and announced by one Lua
// script, so that every bearer reloads the environment.
func (r *Redis) SetOverride(ctx context.Context, env string, e store.LayerEntry) (uint64, error) {
	snap, err := r.Snapshot(ctx, env)
	if err != nil {
		return 0, fmt.Errorf("redis set override %s/%s: %w", env, e.Flag, err)
	}
	e, err = store.CheckEntry(snap.Document, env, e)
	if err != nil {
		return 0, err
	}
	e.Seq = 0
	body, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("redis set override %s/%s: encoding: %w", env, e.Flag, err)
	}
	msg, err := json.Marshal(changeMsg{Env: env})
	if err != nil {
		return 0, fmt.Errorf("redis set override %s/%s: encoding change: %w", env, e.Flag, err)
	}
	seq, err := setOverrideScript.Run(ctx, r.client, []string{r.layerKey(env)}, e.Flag, body, r.channel, msg).Uint64()
	if err != nil {
		return 0, fmt.Errorf("redis set override %s/%s (key %s): %w", env, e.Flag, r.layerKey(env), err)
	}
	return seq, nil
}

// DropOverride implements store.Overrider.
func (r *Redis) DropOverride(ctx context.Context, env, flag string, seq uint64) error {
	msg, err := json.Marshal(changeMsg{Env: env})
	if err != nil {
		return fmt.Errorf("redis drop override %s/%s: encoding change: %w", env, flag, err)
	}
	err = dropOverrideScript.Run(ctx, r.client, []string{r.layerKey(env)}, flag, strconv.FormatUint(seq, 10), r.channel, msg).Err()
	if err != nil {
		return fmt.Errorf("redis drop override %s/%s seq %d (key %s): %w", env, flag, seq, r.layerKey(env), err)
	}
	return nil
}

// Layer implements store.Overrider: one HGETALL, so entries and counter are
// read together.
func (r *Redis) Layer(ctx context.Context, env string) (store.Layer, error) {
	key := r.layerKey(env)
	h, err := r.client.HGetAll(ctx, key).Result()
	if err != nil {
		return store.Layer{}, fmt.Errorf("redis read override layer %s (key %s): %w", env, key, err)
	}
	l := store.Layer{Entries: map[string]store.LayerEntry{}}
	if s, ok := h["seq"]; ok {
		if l.Seq, err = strconv.ParseUint(s, 10, 64); err != nil {
			return store.Layer{}, fmt.Errorf("redis override layer %s (key %s): counter %q: %w", env, key, s, err)
		}
	}
	for field, body := range h {
		flag, ok := strings.CutPrefix(field, "o:")
		if !ok {
			continue
		}
		var e store.LayerEntry
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			return store.Layer{}, fmt.Errorf("redis override layer %s (key %s): entry %s: %w", env, key, flag, err)
		}
		if e.Seq, err = strconv.ParseUint(h["s:"+flag], 10, 64); err != nil {
			return store.Layer{}, fmt.Errorf("redis override layer %s (key %s): seq of entry %s: %w", env, key, flag, err)
		}
		e.Flag = flag
		l.Entries[flag] = e
	}
	return l, nil
}
