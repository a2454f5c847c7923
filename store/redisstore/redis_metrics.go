package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flagpole/flagpole/store"
)

var _ store.Metrics = (*Redis)(nil)

// Outcome counts live in one hash per environment and second,
// <prefix>m:<env>:<unix second>, with three fields per flag:
//
//	s:<flag>   successes
//	f:<flag>   failures
//	w:<flag>   slow calls
//
// Each hash expires store.MetricsRetention after it was last written
// (EXPIRE, by Redis's own clock), so Redis holds at most an hour of
// buckets whatever the bearers send, and a bearer whose clock is off (or
// a test's fake clock) cannot write buckets that expire at once. Under Cluster the prefix carries a hash tag, so every
// bucket of every environment is in one slot: a window's read is one
// pipeline to one node.
func (r *Redis) bucketKey(env string, sec int64) string {
	return r.prefix + "m:" + env + ":" + strconv.FormatInt(sec, 10)
}

// addCountsScript adds a batch into one bucket and sets its expiry, in one
// round trip and atomically: KEYS bucket key; ARGV time to live (seconds),
// then flag, success, failure, slow for each flag.
var addCountsScript = redis.NewScript(`
for i = 2, #ARGV, 4 do
  local flag = ARGV[i]
  if ARGV[i+1] ~= '0' then redis.call('HINCRBY', KEYS[1], 's:' .. flag, ARGV[i+1]) end
  if ARGV[i+2] ~= '0' then redis.call('HINCRBY', KEYS[1], 'f:' .. flag, ARGV[i+2]) end
  if ARGV[i+3] ~= '0' then redis.call('HINCRBY', KEYS[1], 'w:' .. flag, ARGV[i+3]) end
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return 1`)

// AddCounts implements store.Metrics: one script call, so one round trip
// per batch, and a batch is added whole or not at all.
func (r *Redis) AddCounts(ctx context.Context, env string, at time.Time, counts map[string]store.Counts) error {
	if len(counts) == 0 {
		return nil
	}
	sec := at.Unix()
	args := make([]any, 0, 1+4*len(counts))
	args = append(args, int64(store.MetricsRetention/time.Second)+1)
	for flag, c := range counts {
		args = append(args, flag, c.Success, c.Failure, c.Slow)
	}
	key := r.bucketKey(env, sec)
	if err := addCountsScript.Run(ctx, r.client, []string{key}, args...).Err(); err != nil {
		return fmt.Errorf("redis add counts %s (key %s): %w", env, key, err)
	}
	return nil
}

// WindowCounts implements store.Metrics: HGETALL of every bucket of the
// window in one pipeline (at most store.MetricsRetention of them; older
// ones have expired).
func (r *Redis) WindowCounts(ctx context.Context, env string, now time.Time, window time.Duration) (map[string]store.Counts, error) {
	if window > store.MetricsRetention {
		window = store.MetricsRetention
	}
	n := int64((window + store.MetricsBucket - 1) / store.MetricsBucket)
	if n < 1 {
		n = 1
	}
	last := now.Unix()
	cmds := make([]*redis.MapStringStringCmd, 0, n)
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for sec := last - n + 1; sec <= last; sec++ {
			cmds = append(cmds, p.HGetAll(ctx, r.bucketKey(env, sec)))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis read counts %s (%d buckets to %s): %w", env, n, r.bucketKey(env, last), err)
	}
	out := map[string]store.Counts{}
	for _, cmd := range cmds {
		for field, v := range cmd.Val() {
			kind, flag, ok := strings.Cut(field, ":")
			x, err := strconv.ParseInt(v, 10, 64)
			if !ok || err != nil {
				return nil, fmt.Errorf("redis read counts %s: key %s: field %q = %q is not a count", env, cmd.Args()[1], field, v)
			}
			c := out[flag]
			switch kind {
			case "s":
				c.Success += x
			case "f":
				c.Failure += x
			case "w":
				c.Slow += x
			default:
				return nil, fmt.Errorf("redis read counts %s: key %s: unknown field %q", env, cmd.Args()[1], field)
			}
			out[flag] = c
		}
	}
	return out, nil
}
