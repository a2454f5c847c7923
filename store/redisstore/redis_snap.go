package redisstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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

// encodeSnapshot returns the stored form of s.
func encodeSnapshot(s *store.Snapshot) ([]byte, error) {
	body, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return zEncoder.EncodeAll(body, make([]byte, 0, len(body)/8)), nil
}

// patchFrom returns the patch from prev to s, or nil when there is none to
// announce: no prev, a document field the patch cannot carry changed, or
// the patch is larger than MaxPatchBytes.
func patchFrom(prev, s *store.Snapshot) json.RawMessage {
	if prev == nil || prev.Document == nil || s.Document == nil || !sameShell(prev.Document, s.Document) {
		return nil
	}
	p := snapPatch{Base: prev.Version, Doc: ruleset.Diff(prev.Document, s.Document),
		Keys: s.Keys, Triggers: s.Triggers, Published: s.Published}
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
		d.Version, d.Commit, d.Flags, d.Audiences, d.Overrides = "", "", nil, nil, nil
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
