package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
	"weak"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// A publish that has a patch from the version this process published
// before costs Redis what the change costs, not what the rule set costs:
// one script appends the patch to the environment's patch list
// (<prefix>patches:<env>), moves the version in the envs hash and
// announces the patch, atomically. The whole snapshot is encoded,
// compressed and written later, by one background writer that coalesces
// consecutive publishes of an environment into one write of the latest.
//
// The snapshot key therefore may hold an older version than the envs hash
// lists. It always holds ONE version, written by a single SET, and the
// patch list holds every patch from it to the listed version: Snapshot
// reads the three keys in one MULTI (they share a slot) and applies the
// patches, so a cold start reads one consistent snapshot plus a few small
// patches, never a mix. A full write (first publish of a process, a
// republish, a store that moved on) replaces the snapshot and empties the
// list in the same script.

const (
	// storedPatches is how many patches an environment's patch list keeps.
	// The deferred writer lets the snapshot fall at most half as many
	// behind the announced version (settle); when the snapshot falls further
	// behind (writes failing), Snapshot reports the store inconsistent and
	// the syncer's check republishes whole.
	storedPatches = 64
	// defaultSnapshotDelay is how long the writer waits for publishes to
	// stop before encoding (settle), so that a burst of commits costs one
	// write and the encoding does not compete with the bearers applying
	// the patches.
	defaultSnapshotDelay = 2 * time.Second
	// maxSnapshotWaits bounds how many SnapshotDelays a deferred write
	// waits for publishes to stop (settle).
	maxSnapshotWaits = 10
	// snapshotWriteTimeout bounds one deferred write.
	snapshotWriteTimeout = time.Minute
)

func (r *Redis) patchesKey(env string) string { return r.prefix + "patches:" + env }

// patchScript announces a patch when the store lists the version it
// applies to: KEYS envs key, patches key; ARGV env, base version, new
// version, channel, change JSON, patch JSON, patches kept. It returns 0,
// changing nothing, when the store lists another version of env.
var patchScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[6])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[7]), -1)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`)

// writeSnapScript stores a deferred snapshot: KEYS snapshot key, envs key;
// ARGV snapshot, env. It writes nothing when the environment was removed
// meanwhile.
var writeSnapScript = redis.NewScript(`
if not redis.call('HGET', KEYS[2], ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1`)

// written is what this process last stored in an environment's snapshot
// key: the snapshot and a hash of the stored bytes, so that reading back
// a snapshot this process wrote (the syncer's check, every few seconds)
// costs a GET and a hash, not decoding the whole rule set.
type written struct {
	snap *store.Snapshot
	hash uint64
	size int
}

// publishPatch announces s as a patch of prev. ok is false when the
// store no longer lists prev's version (a flush, another publisher): the
// caller then writes s whole.
func (r *Redis) publishPatch(ctx context.Context, prev, s *store.Snapshot, patch json.RawMessage) (ok bool, err error) {
	msg, err := json.Marshal(changeMsg{Env: s.Environment, Version: s.Version, Patch: patch})
	if err != nil {
		return false, fmt.Errorf("redis publish %s: encoding change: %w", s.Environment, err)
	}
	keys := []string{r.envsKey(), r.patchesKey(s.Environment)}
	r.send(s, nil)
	n, err := patchScript.Run(ctx, r.client, keys, s.Environment, prev.Version, s.Version, r.channel, msg, []byte(patch), storedPatches).Int()
	if r.onSent != nil {
		r.onSent(s.Environment)
	}
	r.pmu.Lock()
	delete(r.sending, s.Environment)
	if err != nil || n == 0 {
		r.pmu.Unlock()
		if err != nil {
			return false, fmt.Errorf("redis publish %s version %s: %w", s.Environment, s.Version, err)
		}
		return false, nil
	}
	r.published[s.Environment] = s
	if r.pending == nil {
		r.pending = map[string]*store.Snapshot{}
		r.behind = map[string]int{}
	}
	r.pending[s.Environment] = s
	r.behind[s.Environment]++
	r.pmu.Unlock()
	r.startWriter()
	select {
	case r.kick <- struct{}{}:
	default:
	}
	return true, nil
}

// send records that s is being published (Redis.sending); body is what
// the snapshot key receives, nil for a patch.
func (r *Redis) send(s *store.Snapshot, body []byte) {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	if r.sending == nil {
		r.sending = map[string]written{}
	}
	in := written{snap: s}
	if body != nil {
		in.hash, in.size = xxhash.Sum64(body), len(body)
	}
	r.sending[s.Environment] = in
}

// startWriter starts the deferred snapshot writer once.
func (r *Redis) startWriter() {
	r.writerOnce.Do(func() {
		r.kick = make(chan struct{}, 1)
		r.stop = make(chan struct{})
		r.writerDone = make(chan struct{})
		go r.writer()
	})
}

// writer writes pending snapshots until Close, then flushes what is left.
func (r *Redis) writer() {
	defer close(r.writerDone)
	for {
		select {
		case <-r.stop:
			r.flush(snapshotWriteTimeout / 4)
			return
		case <-r.kick:
		}
		if !r.settle() {
			return
		}
		if !r.flush(snapshotWriteTimeout) {
			// Retry later; the pending snapshots stay pending.
			if !r.wait(time.Second) {
				return
			}
			select {
			case r.kick <- struct{}{}:
			default:
			}
		}
	}
}

// settle waits, after a publish, until the next write is due: when no
// patch has been announced for SnapshotDelay, SnapshotDelay×maxSnapshotWaits
// after it began, or as soon as an environment's snapshot is
// storedPatches/2 patches behind, whichever comes first. Writing during a
// burst of publishes would compete with every bearer applying them. It
// reports false, after flushing what is pending, when Close is called
// meanwhile.
func (r *Redis) settle() bool {
	delay := r.opts.SnapshotDelay
	deadline := time.Now().Add(delay * maxSnapshotWaits)
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			r.flush(snapshotWriteTimeout / 4)
			return false
		case <-t.C:
			return true
		case <-r.kick:
			left := time.Until(deadline)
			if left <= 0 || r.furthestBehind() >= storedPatches/2 {
				return true
			}
			t.Reset(min(delay, left))
		}
	}
}

// furthestBehind returns how many patches the furthest-behind snapshot
// key lacks.
func (r *Redis) furthestBehind() int {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	n := 0
	for _, b := range r.behind {
		n = max(n, b)
	}
	return n
}

// wait waits d and reports true, or flushes what is pending and reports
// false when Close is called meanwhile.
func (r *Redis) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.stop:
		r.flush(snapshotWriteTimeout / 4)
		return false
	case <-t.C:
		return true
	}
}

// flush writes every pending snapshot; it reports whether all writes
// succeeded.
func (r *Redis) flush(timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r.pmu.Lock()
	envs := make([]string, 0, len(r.pending))
	for env := range r.pending {
		envs = append(envs, env)
	}
	r.pmu.Unlock()
	ok := true
	for _, env := range envs {
		if err := r.writePending(ctx, env); err != nil {
			ok = false
			r.log.Warn("redis: writing a deferred snapshot; will retry", "environment", env, "err", err)
		}
	}
	return ok
}

// writePending writes env's pending snapshot, if it still has one.
func (r *Redis) writePending(ctx context.Context, env string) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.pmu.Lock()
	s, covers := r.pending[env], r.behind[env]
	r.pmu.Unlock()
	if s == nil {
		return nil // written whole or removed meanwhile
	}
	body, err := encodeSnapshot(s, r.encodeCache(env))
	if err != nil {
		return fmt.Errorf("encoding: %w", err)
	}
	if err := writeSnapScript.Run(ctx, r.client, []string{r.snapKey(env), r.envsKey()}, body, env).Err(); err != nil {
		return err
	}
	r.pmu.Lock()
	if r.pending[env] == s {
		delete(r.pending, env)
	}
	r.behind[env] -= covers
	r.noteWritten(env, s, body)
	r.pmu.Unlock()
	return nil
}

// noteWritten records what the snapshot key of env holds. The caller holds
// r.pmu.
func (r *Redis) noteWritten(env string, s *store.Snapshot, body []byte) {
	if r.written == nil {
		r.written = map[string]written{}
	}
	r.written[env] = written{snap: s, hash: xxhash.Sum64(body), size: len(body)}
}

// closeWriter stops the writer after it has written what is pending.
func (r *Redis) closeWriter() {
	r.writerOnce.Do(func() {}) // no writer starts after Close
	if r.stop == nil {
		return
	}
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.writerDone
}

// Snapshot implements store.Store: the stored snapshot brought to the
// listed version by the stored patches (see above).
func (r *Redis) Snapshot(ctx context.Context, env string) (*store.Snapshot, error) {
	if s := r.ownSnapshot(ctx, env); s != nil {
		return s, nil
	}
	get, ver, list, err := readSnapKeys(ctx, r, env, func(p redis.Pipeliner) *redis.StringCmd { return p.Get(ctx, r.snapKey(env)) })
	if errors.Is(get.Err(), redis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redis get snapshot %s: %w", env, err)
	}
	body, _ := get.Bytes()
	want, _ := ver.Result() // "" when not listed: the snapshot as stored
	others := r.others(env)
	s := r.known(env, body)
	if s == nil {
		if s, err = decodeSnapshot(body, others); err != nil {
			return nil, fmt.Errorf("redis snapshot %s (key %s): decoding: %w", env, r.snapKey(env), err)
		}
	}
	if want == "" {
		return s, nil
	}
	// The snapshot this process published is served when it is the
	// listed version, even when the stored one is that version too (an
	// edit undone): it is the newer of two equal Documents, the one its
	// next publish's Change is from.
	mine := r.publishedAt(env, want)
	if s.Version == want {
		if mine != nil {
			return mine, nil
		}
		return s, nil
	}
	patches := decodePatches(list.Val())
	if mine != nil && chainLeads(s.Version, want, patches) {
		return mine, nil
	}
	if got := applyChain(s, want, patches, others, s.Document); got != nil {
		return got, nil
	}
	return nil, fmt.Errorf("redis snapshot %s (key %s) is version %s and the stored patches do not lead to the listed version %s", env, r.snapKey(env), s.Version, want)
}

// ownSnapshot returns, without reading the stored snapshot, what Snapshot
// would return when the store still holds what this process last wrote:
// the snapshot key has that write's length, and the envs hash lists its
// version or one the stored patches lead to from it, which this process
// published. A version names its content, so other bytes of that length
// there would be another publisher's encoding of the same rule set; a key
// lost or replaced by another version is read as before. Reading the key
// whole to find it unchanged cost the dashboard's sampling and the
// syncer's check, each about once a second, megabytes per environment at
// 100,000 flags. It returns nil when it cannot tell.
func (r *Redis) ownSnapshot(ctx context.Context, env string) *store.Snapshot {
	r.pmu.Lock()
	w, ok := r.written[env]
	r.pmu.Unlock()
	if !ok {
		return nil
	}
	size, ver, list, err := readSnapKeys(ctx, r, env, func(p redis.Pipeliner) *redis.IntCmd { return p.StrLen(ctx, r.snapKey(env)) })
	if err != nil || size.Val() != int64(w.size) {
		return nil // not listed, gone, another write, or an error: read it
	}
	want := ver.Val()
	mine := r.publishedAt(env, want)
	switch {
	case mine != nil && (want == w.snap.Version || chainLeads(w.snap.Version, want, decodePatches(list.Val()))):
		return mine
	case want == w.snap.Version:
		return w.snap
	}
	return nil
}

// readSnapKeys reads env's snapshot key with snap (its value, or its
// length), its listed version and its patch list in one MULTI (the keys
// share a slot).
func readSnapKeys[C redis.Cmder](ctx context.Context, r *Redis, env string, snap func(redis.Pipeliner) C) (C, *redis.StringCmd, *redis.StringSliceCmd, error) {
	var first C
	var ver *redis.StringCmd
	var list *redis.StringSliceCmd
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		first = snap(p)
		ver = p.HGet(ctx, r.envsKey(), env)
		list = p.LRange(ctx, r.patchesKey(env), 0, -1)
		return nil
	})
	return first, ver, list, err
}

// known returns the snapshot this process wrote, or is writing, when body
// is what it wrote, or nil.
func (r *Redis) known(env string, body []byte) *store.Snapshot {
	r.pmu.Lock()
	w, in := r.written[env], r.sending[env]
	r.pmu.Unlock()
	if w.snap == nil && in.snap == nil {
		return nil
	}
	h := xxhash.Sum64(body)
	for _, w := range []written{w, in} {
		if w.snap != nil && w.size > 0 && w.size == len(body) && w.hash == h {
			return w.snap
		}
	}
	return nil
}

// publishedAt returns the snapshot of env this process last published,
// or is publishing, when it is version, or nil.
func (r *Redis) publishedAt(env, version string) *store.Snapshot {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	for _, s := range []*store.Snapshot{r.published[env], r.sending[env].snap} {
		if s != nil && s.Version == version {
			return s
		}
	}
	return nil
}

// decodePatches decodes a stored patch list, oldest first; an entry that
// does not decode ends it (the chain cannot pass it).
func decodePatches(raw []string) []*snapPatch {
	out := make([]*snapPatch, 0, len(raw))
	for _, s := range raw {
		var p snapPatch
		if err := json.Unmarshal([]byte(s), &p); err != nil || p.Doc == nil {
			break
		}
		out = append(out, &p)
	}
	return out
}

// chainStart returns the index in patches of the first patch of the chain
// from version, or -1. The chain is the suffix of the list that follows
// the last patch based on version: a list is appended in publish order,
// and an older patch from the same version (a revert) is superseded.
func chainStart(version string, patches []*snapPatch) int {
	for i := len(patches) - 1; i >= 0; i-- {
		if patches[i].Base == version {
			return i
		}
	}
	return -1
}

// chainLeads reports whether patches lead from version from to to.
func chainLeads(from, to string, patches []*snapPatch) bool {
	i := chainStart(from, patches)
	if i < 0 {
		return false
	}
	cur := from
	for _, p := range patches[i:] {
		if p.Base != cur {
			return false
		}
		cur = p.Doc.Version
		if cur == to {
			return true
		}
	}
	return false
}

// applyChain applies patches to s until it is version want; nil when they
// do not lead there. Entries the patches bring that one of others holds
// with the same JSON are shared (sharePatch).
func applyChain(s *store.Snapshot, want string, patches []*snapPatch, others []*ruleset.Document, from *ruleset.Document) *store.Snapshot {
	if !chainLeads(s.Version, want, patches) {
		return nil
	}
	cur := s
	for _, p := range patches[chainStart(s.Version, patches):] {
		if cur = applyPatch(cur, p, others, from); cur == nil {
			return nil
		}
		if cur.Version == want {
			return cur
		}
	}
	return nil
}

// applyPatch returns s with p applied, sharing with others (sharePatch);
// nil when p does not apply. from is the Document the chain of patches
// being applied started at (s's own, or the one s was made from by
// applyPatch): the result's Change names every flag the chain changed
// from it, so that the caller that holds from compiles those only.
func applyPatch(s *store.Snapshot, p *snapPatch, others []*ruleset.Document, from *ruleset.Document) *store.Snapshot {
	doc, err := s.Document.Apply(sharePatch(p.Doc, others))
	if err != nil {
		return nil
	}
	var flags []string
	if s.Document != from {
		flags, _ = s.ChangedFrom(from) // made by this chain
	}
	flags = append(slices.Clip(flags), slices.Collect(maps.Keys(p.Doc.Flags))...)
	slices.Sort(flags)
	flags = slices.Compact(flags)
	return &store.Snapshot{Environment: s.Environment, Version: doc.Version, Document: doc,
		Keys: p.Keys, Triggers: p.Triggers, Published: p.Published,
		Change: &ruleset.Change{Base: weak.Make(from), Flags: flags}}
}

// storedChain reads env's listed version and stored patches and applies
// them to have; nil when they do not lead to the listed version. from is
// where the chain that made have started (see applyPatch).
func (r *Redis) storedChain(ctx context.Context, env string, have *store.Snapshot, from *ruleset.Document) *store.Snapshot {
	var ver *redis.StringCmd
	var list *redis.StringSliceCmd
	if _, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		ver = p.HGet(ctx, r.envsKey(), env)
		list = p.LRange(ctx, r.patchesKey(env), 0, -1)
		return nil
	}); err != nil {
		return nil
	}
	want := ver.Val()
	if want == have.Version {
		return have
	}
	return applyChain(have, want, decodePatches(list.Val()), r.others(env), from)
}
