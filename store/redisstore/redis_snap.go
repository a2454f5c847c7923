package redisstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"weak"

	"github.com/klauspost/compress/zstd"
	"github.com/redis/go-redis/v9"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// Snapshots are stored compressed with zstd (the module is already in the
// build through the Prometheus client): a rule set of 100,000 flags is
// tens of megabytes of JSON and compresses about tenfold, so Redis holds
// and every bearer's cold start moves a tenth of it. Snapshots stored as
// plain JSON by older versions are still read.
//
// Each publish also announces, in its pub/sub message, the patch from the
// snapshot this process published before (when it has one and the patch is
// small), so that a bearer holding that version applies the change instead
// of reading the whole snapshot again (SnapshotSince).

const (
	// MaxSnapshotBytes is the largest decompressed snapshot read: 1 GiB.
	MaxSnapshotBytes = 1 << 30
	// MaxPatchBytes is the largest patch announced with a publish; a larger
	// change is announced without it and read whole: 1 MiB.
	MaxPatchBytes = 1 << 20
	// keptPatches is the number of announced patches kept per environment
	// for SnapshotSince.
	keptPatches = 32
)

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var zEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))

// snapPatch is a publish's change from the snapshot published before it.
type snapPatch struct {
	Base      string          `json:"base"`
	Doc       *ruleset.Patch  `json:"doc"`
	Keys      []store.Key     `json:"keys"`
	Triggers  []store.Trigger `json:"triggers,omitempty"`
	Published time.Time       `json:"published"`
}

// encodeSnapshot returns the stored form of s: its JSON, compressed.
// cache, when not nil, holds each flag's JSON from the environment's last
// encode by *Flag (Documents are immutable, and the syncer's loads and the
// store's patches share every unchanged *Flag): those are copied, not
// encoded again, and cache is replaced by this encode's. At 100,000 flags
// that makes the write that follows a one-flag edit encode one flag, not
// half a second of JSON. The result is the bytes json.Marshal gives.
func encodeSnapshot(s *store.Snapshot, cache *flagJSON) ([]byte, error) {
	var body []byte
	var err error
	if cache == nil || s.Document == nil || s.Document.Flags.Null() {
		body, err = json.Marshal(s)
	} else {
		body, err = marshalCached(s, cache)
	}
	if err != nil {
		return nil, err
	}
	return zEncoder.EncodeAll(body, make([]byte, 0, len(body)/8)), nil
}

// flagJSON is the flags of an environment's last encode, sorted by key,
// each with its JSON member (`"key":{...}`), and the Document they were
// encoded from (weakly: a Change from it names what differs).
type flagJSON struct {
	doc  weak.Pointer[ruleset.Document]
	list []cachedFlag
}

type cachedFlag struct {
	key  string
	flag *ruleset.Flag
	json []byte
}

// flagsHole is what the Document's flags encode to in marshalCached's
// shell: encoding/json writes the Document's fields in declaration order,
// and those before flags (version, environment, commit) are strings, in
// which a quote is escaped, so the first occurrence after the document's
// opening is the field.
var flagsHole = []byte(`"flags":null`)

// marshalCached is json.Marshal(s) with the flags' members taken from
// cache where it has the same *Flag under the same key.
func marshalCached(s *store.Snapshot, cache *flagJSON) ([]byte, error) {
	doc := *s.Document
	doc.Flags = ruleset.FlagMap{}
	shell := *s
	shell.Document = &doc
	b, err := json.Marshal(&shell)
	if err != nil {
		return nil, err
	}
	at := bytes.Index(b, []byte(`"document":{`))
	hole := -1
	if at >= 0 {
		hole = bytes.Index(b[at:], flagsHole)
	}
	if hole < 0 {
		return json.Marshal(s) // not the layout expected: encode it all
	}
	hole += at
	var next []cachedFlag
	if named, ok := s.ChangedFrom(cache.doc.Value()); ok {
		next, err = patchedMembers(s.Document.Flags, cache.list, named)
	} else {
		next, err = cachedMembers(s.Document.Flags, cache.list)
	}
	if err != nil {
		return nil, err
	}
	size := len(b) + 2
	for _, c := range next {
		size += len(c.json) + 1
	}
	out := make([]byte, 0, size)
	out = append(out, b[:hole+len(`"flags":`)]...)
	out = append(out, '{')
	for i, c := range next {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, c.json...)
	}
	out = append(out, '}')
	out = append(out, b[hole+len(flagsHole):]...)
	*cache = flagJSON{doc: weak.Make(s.Document), list: next}
	return out, nil
}

// cachedMembers returns flags sorted by key (encoding/json's order) with
// their JSON members, taken from old (sorted likewise) for the same *Flag
// under the same key. When flags has old's keys (most edits), old's order
// is walked and nothing is sorted.
func cachedMembers(flags ruleset.FlagMap, old []cachedFlag) ([]cachedFlag, error) {
	next := make([]cachedFlag, 0, flags.Len())
	sameKeys := len(old) == flags.Len()
	for i := 0; sameKeys && i < len(old); i++ {
		f, ok := flags.Lookup(old[i].key)
		if !ok {
			sameKeys = false
			break
		}
		next = append(next, cachedFlag{key: old[i].key, flag: f})
	}
	if !sameKeys {
		next = next[:0]
		for _, k := range flags.Keys() {
			next = append(next, cachedFlag{key: k, flag: flags.Get(k)})
		}
	}
	j := 0
	for i := range next {
		c := &next[i]
		for j < len(old) && old[j].key < c.key {
			j++
		}
		if j < len(old) && old[j].key == c.key && old[j].flag == c.flag && c.flag != nil {
			c.json = old[j].json
			continue
		}
		if err := c.encode(); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// patchedMembers is cachedMembers when flags are those old was encoded
// from but for the keys in named (a ruleset.Change from that Document):
// old is copied and only the named flags are encoded, added or removed.
func patchedMembers(flags ruleset.FlagMap, old []cachedFlag, named []string) ([]cachedFlag, error) {
	next := slices.Clone(old)
	for _, k := range named {
		i, found := slices.BinarySearchFunc(next, k, func(c cachedFlag, k string) int { return strings.Compare(c.key, k) })
		f, ok := flags.Lookup(k)
		switch {
		case !ok && found:
			next = slices.Delete(next, i, i+1)
		case !ok || found && next[i].flag == f && f != nil:
		default:
			c := cachedFlag{key: k, flag: f}
			if err := c.encode(); err != nil {
				return nil, err
			}
			if found {
				next[i] = c
			} else {
				next = slices.Insert(next, i, c)
			}
		}
	}
	return next, nil
}

// encode sets c's JSON member.
func (c *cachedFlag) encode() error {
	kj, err := json.Marshal(c.key)
	if err != nil {
		return err
	}
	fj, err := json.Marshal(c.flag)
	if err != nil {
		return fmt.Errorf("flags.%s: %w", c.key, err)
	}
	c.json = append(append(kj, ':'), fj...)
	return nil
}

// patchFrom returns the patch from prev to s, or nil when there is none to
// announce: no prev, a document field the patch cannot carry changed, or
// the patch is larger than MaxPatchBytes.
func patchFrom(prev, s *store.Snapshot) json.RawMessage {
	if prev == nil || prev.Document == nil || s.Document == nil || !sameShell(prev.Document, s.Document) {
		return nil
	}
	p := snapPatch{Base: prev.Version, Doc: s.Change.Diff(prev.Document, s.Document), Keys: s.Keys, Triggers: s.Triggers, Published: s.Published}
	b, err := json.Marshal(p)
	if err != nil || len(b) > MaxPatchBytes {
		return nil
	}
	return b
}

// sameShell reports whether a and b agree on every field but the version,
// commit and entries (which a ruleset.Patch carries).
func sameShell(a, b *ruleset.Document) bool {
	shell := func(d ruleset.Document) []byte {
		d.Version, d.Commit, d.Flags, d.Audiences, d.Overrides = "", "", ruleset.FlagMap{}, nil, nil
		j, _ := json.Marshal(&d)
		return j
	}
	return bytes.Equal(shell(*a), shell(*b))
}

// notePatch keeps an announced patch of env for SnapshotSince.
func (r *Redis) notePatch(env, version string, raw json.RawMessage) {
	var p snapPatch
	if err := json.Unmarshal(raw, &p); err != nil || p.Doc == nil || p.Doc.Version != version {
		return // read whole instead
	}
	r.pmu.Lock()
	defer r.pmu.Unlock()
	if r.patches == nil {
		r.patches = map[string][]*snapPatch{}
	}
	list := append(r.patches[env], &p)
	if len(list) > keptPatches {
		list = append([]*snapPatch(nil), list[len(list)-keptPatches:]...)
	}
	r.patches[env] = list
}

// patchAfter returns the kept patch of env whose base is version, or nil.
func (r *Redis) patchAfter(env, version string) *snapPatch {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	list := r.patches[env]
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Base == version {
			return list[i]
		}
	}
	return nil
}

// SnapshotSince returns the current snapshot of env like Snapshot, given
// have, a snapshot of env the caller holds (nil: none). When have is
// current it is returned; when another caller of SnapshotSince on this
// store already holds the current version (the bearer and the admin API of
// one process), that one is returned, shared; when the patches this
// store's Watch received, or those stored in Redis, lead from have to the
// current version, they are applied to it, sharing every unchanged flag,
// audience and override; otherwise (a gap in versions, a cold start) the
// snapshot is read whole. Every snapshot returned is immutable.
func (r *Redis) SnapshotSince(ctx context.Context, env string, have *store.Snapshot) (*store.Snapshot, error) {
	want, err := r.client.HGet(ctx, r.envsKey(), env).Result()
	if errors.Is(err, redis.Nil) {
		r.setLatest(env, nil)
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redis read version of %s (key %s): %w", env, r.envsKey(), err)
	}
	got, err := r.since(ctx, env, want, have)
	if err == nil {
		r.setLatest(env, got)
	}
	return got, err
}

// since is SnapshotSince once the listed version, want, is known.
func (r *Redis) since(ctx context.Context, env, want string, have *store.Snapshot) (*store.Snapshot, error) {
	if have != nil && (have.Document == nil || have.Environment != env) {
		have = nil
	}
	if have != nil && have.Version == want {
		return have, nil
	}
	if l := r.latestOf(env); l != nil && l.Version == want {
		return l, nil
	}
	if have == nil {
		return r.Snapshot(ctx, env)
	}
	cur := have
	others := r.others(env)
	for range keptPatches {
		if cur.Version == want {
			return cur, nil
		}
		p := r.patchAfter(env, cur.Version)
		if p == nil {
			break
		}
		next := applyPatch(cur, p, others, have.Document)
		if next == nil {
			break
		}
		cur = next
	}
	if got := r.storedChain(ctx, env, cur, have.Document); got != nil {
		return got, nil
	}
	r.log.Debug("redis: no patch chain to the current version; reading the snapshot", "environment", env, "have", have.Version, "want", want)
	return r.Snapshot(ctx, env)
}

// latestOf returns the snapshot of env SnapshotSince last returned, or nil.
func (r *Redis) latestOf(env string) *store.Snapshot {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	return r.latest[env]
}

func (r *Redis) setLatest(env string, s *store.Snapshot) {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	if s == nil {
		delete(r.latest, env)
		return
	}
	if r.latest == nil {
		r.latest = map[string]*store.Snapshot{}
	}
	r.latest[env] = s
}
