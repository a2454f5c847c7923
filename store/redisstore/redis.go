package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/flagpole/flagpole/internal/redact"
	"github.com/flagpole/flagpole/store"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configures a Redis store. The zero value is usable.
type Options struct {
	// Prefix starts every key and the pub/sub channel. Default "flagpole:".
	// With a Cluster URL a prefix without a valid hash tag (a non-empty
	// "{…}") is wrapped in one ("{flagpole}:") so that a publish touches a
	// single slot.
	Prefix string
	// LockTTL is how long a leader lock lives without renewal; it is renewed
	// every LockTTL/3. Default store.DefaultLockTTL (10 s).
	LockTTL time.Duration
	// LockRetry is how often a standby tries to take the lock. Default
	// LockTTL/10.
	LockRetry time.Duration
	// WatchBuffer is how many changes a watcher may fall behind before it is
	// sent a Resync instead. Default 64.
	WatchBuffer int
	// HealthInterval is how long a watch waits for a message before it pings
	// Redis to find a silently dead connection and, with Sentinel, how often
	// it checks (INFO server, run_id) that the master has not changed.
	// Default 2 s.
	HealthInterval time.Duration
	// Logger receives reconnects and lock events. Default: discard.
	Logger *slog.Logger
	// SnapshotDelay is how long the announced patches must stay quiet
	// before the whole snapshot is written (redis_defer.go), so that a
	// burst of publishes costs one write, after the burst. The write waits
	// at most 10×SnapshotDelay from the first patch it covers, and no
	// longer once an environment's snapshot is half the stored patch list
	// (32 patches) behind. Default 2 s.
	SnapshotDelay time.Duration
}

// Redis is a store.Store (and store.Locker) on Redis: single node, Sentinel or Cluster
// through go-redis's UniversalClient.
//
// Key layout, with the default prefix:
//
//	flagpole:snap:<env>   zstd JSON store.Snapshot of environment env, at most
//	                      storedPatches behind the listed version (redis_defer.go)
//	flagpole:patches:<env> list: the patches from that snapshot to the listed version
//	flagpole:envs         hash: environment → its current version
//	flagpole:status       JSON store.SyncStatus
//	flagpole:lock:<name>  leader lock token (SET NX PX)
//	flagpole:changes      pub/sub channel, messages {"env":…,"version":…}
//	flagpole:m:<env>:<s>  hash: outcome counts of second s (redis_metrics.go)
//	flagpole:bearer:<id>  JSON store.BearerInfo with a TTL (redis_presence.go)
//	flagpole:bearers      sorted set: bearer id → expiry (redis_presence.go)
type Redis struct {
	client  redis.UniversalClient
	topo    topology
	opts    Options
	prefix  string
	channel string
	log     *slog.Logger

	pmu       sync.Mutex
	published map[string]*store.Snapshot // last published by this process
	patches   map[string][]*snapPatch    // announced, for SnapshotSince
	pending   map[string]*store.Snapshot // published, snapshot not yet written
	behind    map[string]int             // patches announced since snap:<env> was written
	written   map[string]written         // what this process last wrote to snap:<env>
	latest    map[string]*store.Snapshot // last returned by SnapshotSince, shared
	// sending holds what a publish of this process is storing, until it
	// knows the outcome: Redis announces it to every watcher, this
	// process's own included, before the script's reply arrives, and a
	// watcher reading the snapshot then is served what is being sent.
	// Its hash and size are those of the snapshot key's new bytes, zero
	// for a patch (which leaves the key alone).
	sending map[string]written
	// onSent, when set (tests), runs between a publish's script and the
	// bookkeeping of its outcome.
	onSent func(env string)

	// wmu serializes writes of snapshot keys: the deferred writer's and a
	// full publish's, so that an older deferred snapshot never lands after
	// a newer full one. It guards encoded too.
	wmu sync.Mutex
	// encoded holds, by environment, each flag's JSON as last written
	// (encodeSnapshot): about the size of the snapshot's JSON.
	encoded              map[string]*flagJSON
	writerOnce, stopOnce sync.Once
	kick, stop           chan struct{}
	writerDone           chan struct{}
}

var (
	_ store.Store  = (*Redis)(nil)
	_ store.Locker = (*Redis)(nil)
)

// publishScript stores a snapshot whole, empties the patch list (the
// snapshot is current), records its environment's version and announces
// it atomically: KEYS snapshot key, envs key, patches key; ARGV snapshot
// JSON, env, channel, change JSON, version.
var publishScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[5])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`)

// removeScript deletes an environment's snapshot, patches and version and
// announces the removal atomically: KEYS snapshot key, envs key, patches
// key; ARGV env, channel, change JSON.
var removeScript = redis.NewScript(`
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`)

// New connects to Redis at url and checks that it answers. URL forms:
//
//	redis://[user:pass@]host:port[/db][?dial_timeout=3s&…]
//	rediss://…                                        (TLS)
//	unix://[user:pass@]/path/to/redis.sock[?db=N]
//	redis+sentinel://[user:pass@]h1:p1,h2:p2/master[/db][?sentinel_password=…]
//	redis+cluster://[user:pass@]h1:p1,h2:p2[?…]
//
// rediss+sentinel and rediss+cluster use TLS. Query parameters are go-redis's
// (see redis.ParseURL). Errors never contain the password.
func New(ctx context.Context, url string, opts Options) (*Redis, error) {
	client, topo, err := newRedisClient(url)
	if err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = "flagpole:"
	}
	if topo == topoCluster && !hasHashTag(opts.Prefix) {
		opts.Prefix = "{" + strings.TrimSuffix(opts.Prefix, ":") + "}:"
	}
	if opts.LockTTL <= 0 {
		opts.LockTTL = store.DefaultLockTTL
	}
	if opts.LockRetry <= 0 {
		opts.LockRetry = opts.LockTTL / 10
	}
	if opts.WatchBuffer <= 0 {
		opts.WatchBuffer = defaultWatchBuffer
	}
	if opts.HealthInterval <= 0 {
		opts.HealthInterval = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.SnapshotDelay <= 0 {
		opts.SnapshotDelay = defaultSnapshotDelay
	}
	r := &Redis{client: client, topo: topo, opts: opts, prefix: opts.Prefix, channel: opts.Prefix + "changes", log: opts.Logger}
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("connecting to redis %s: %s", redact.URL(url), redact.Text(err.Error(), url))
	}
	return r, nil
}

// hasHashTag reports whether Redis Cluster hashes keys starting with prefix
// by a hash tag in it: a '{' followed, later in prefix, by a '}' with at least
// one byte between them (the first such pair counts, as in Redis).
func hasHashTag(prefix string) bool {
	open := strings.IndexByte(prefix, '{')
	if open < 0 {
		return false
	}
	close := strings.IndexByte(prefix[open+1:], '}')
	return close > 0
}

// Client returns the underlying go-redis client, for other users of the same
// Redis (override fast path, metric buckets) that share its connections.
func (r *Redis) Client() redis.UniversalClient { return r.client }

// Prefix returns the key prefix in use.
func (r *Redis) Prefix() string { return r.prefix }

func (r *Redis) snapKey(env string) string { return r.prefix + "snap:" + env }
func (r *Redis) envsKey() string           { return r.prefix + "envs" }
func (r *Redis) statusKey() string         { return r.prefix + "status" }

// changeMsg is the pub/sub payload of a publish.
type changeMsg struct {
	Env     string `json:"env"`
	Version string `json:"version"`
	Removed bool   `json:"removed,omitempty"`
	// Patch is the change from the version this process published before
	// (a snapPatch), when small enough to announce.
	Patch json.RawMessage `json:"patch,omitempty"`
}

// Publish implements store.Store. When this process published the
// environment's previous version and the change is small enough to
// announce, only the patch is written now and the snapshot later
// (redis_defer.go); otherwise SET, HSET and PUBLISH in one Lua script.
func (r *Redis) Publish(ctx context.Context, s *store.Snapshot) error {
	if s.Environment == "" {
		return errors.New("redis publish: snapshot has no environment")
	}
	r.pmu.Lock()
	prev := r.published[s.Environment]
	r.pmu.Unlock()
	var patch json.RawMessage
	if prev != nil && prev.Version != s.Version {
		// The same version again is a republish (the store lost it): whole.
		patch = patchFrom(prev, s)
	}
	if patch != nil {
		ok, err := r.publishPatch(ctx, prev, s, patch)
		if ok || err != nil {
			return err
		}
		patch = nil // the store lists another version: write whole
	}
	return r.publishWhole(ctx, s, patch)
}

// publishWhole writes s whole, replacing any deferred write of its
// environment.
func (r *Redis) publishWhole(ctx context.Context, s *store.Snapshot, patch json.RawMessage) error {
	r.wmu.Lock()
	body, err := encodeSnapshot(s, r.encodeCache(s.Environment))
	r.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("redis publish %s: encoding snapshot: %w", s.Environment, err)
	}
	msg, err := json.Marshal(changeMsg{Env: s.Environment, Version: s.Version, Patch: patch})
	if err != nil {
		return fmt.Errorf("redis publish %s: encoding change: %w", s.Environment, err)
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	keys := []string{r.snapKey(s.Environment), r.envsKey(), r.patchesKey(s.Environment)}
	r.send(s, body)
	err = publishScript.Run(ctx, r.client, keys, body, s.Environment, r.channel, msg, s.Version).Err()
	if r.onSent != nil {
		r.onSent(s.Environment)
	}
	r.pmu.Lock()
	defer r.pmu.Unlock()
	delete(r.sending, s.Environment)
	if err != nil {
		return fmt.Errorf("redis publish %s version %s: %w", s.Environment, s.Version, err)
	}
	if r.published == nil {
		r.published = map[string]*store.Snapshot{}
	}
	r.published[s.Environment] = s
	delete(r.pending, s.Environment)
	delete(r.behind, s.Environment)
	r.noteWritten(s.Environment, s, body)
	return nil
}

// encodeCache returns env's flag JSON cache (see encodeSnapshot). The
// caller holds r.wmu.
func (r *Redis) encodeCache(env string) *flagJSON {
	if r.encoded == nil {
		r.encoded = map[string]*flagJSON{}
	}
	c := r.encoded[env]
	if c == nil {
		c = &flagJSON{}
		r.encoded[env] = c
	}
	return c
}

// Remove implements store.Store: DEL, HDEL and PUBLISH in one Lua script.
func (r *Redis) Remove(ctx context.Context, env string) error {
	if env == "" {
		return errors.New("redis remove: no environment")
	}
	msg, err := json.Marshal(changeMsg{Env: env, Removed: true})
	if err != nil {
		return fmt.Errorf("redis remove %s: encoding change: %w", env, err)
	}
	r.wmu.Lock()
	keys := []string{r.snapKey(env), r.envsKey(), r.patchesKey(env)}
	err = removeScript.Run(ctx, r.client, keys, env, r.channel, msg).Err()
	if err == nil {
		r.pmu.Lock()
		delete(r.pending, env)
		delete(r.behind, env)
		delete(r.published, env)
		delete(r.written, env)
		r.pmu.Unlock()
		delete(r.encoded, env)
	}
	r.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("redis remove %s: %w", env, err)
	}
	// The environment's override layer goes too, so that a later
	// environment of the same name starts without it.
	if err := r.client.Del(ctx, r.layerKey(env)).Err(); err != nil {
		return fmt.Errorf("redis remove %s: override layer: %w", env, err)
	}
	return nil
}

// Environments implements store.Store.
func (r *Redis) Environments(ctx context.Context) ([]string, error) {
	envs, err := r.client.HKeys(ctx, r.envsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("redis list environments (key %s): %w", r.envsKey(), err)
	}
	slices.Sort(envs)
	return envs, nil
}

// Versions implements store.Store.
func (r *Redis) Versions(ctx context.Context) (map[string]string, error) {
	v, err := r.client.HGetAll(ctx, r.envsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("redis read versions (key %s): %w", r.envsKey(), err)
	}
	return v, nil
}

// PutStatus implements store.Store.
func (r *Redis) PutStatus(ctx context.Context, st *store.SyncStatus) error {
	body, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("redis put status: encoding: %w", err)
	}
	if err := r.client.Set(ctx, r.statusKey(), body, 0).Err(); err != nil {
		return fmt.Errorf("redis put status (key %s): %w", r.statusKey(), err)
	}
	return nil
}

// Status implements store.Store. It returns store.ErrNotFound before the first PutStatus
// (or after Redis lost its data).
func (r *Redis) Status(ctx context.Context) (*store.SyncStatus, error) {
	body, err := r.client.Get(ctx, r.statusKey()).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redis get status (key %s): %w", r.statusKey(), err)
	}
	var st store.SyncStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("redis status (key %s): decoding: %w", r.statusKey(), err)
	}
	return &st, nil
}

// Close implements store.Store. Snapshots whose write was deferred are
// written first (the patch list covers them if that fails).
func (r *Redis) Close() error {
	r.closeWriter()
	return r.client.Close()
}

// isTimeout reports whether err is a read timeout rather than a failure.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
