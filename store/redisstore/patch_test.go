package redisstore_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
	"github.com/flagpole/flagpole/store/redisstore"
)

// flagsSnap is snap with n boolean flags f0..f(n-1).
func flagsSnap(version string, n int) *store.Snapshot {
	s := snap("production", version)
	flags := s.Document.Flags.Edit()
	for i := range n {
		k := fmt.Sprint("f", i)
		flags.Set(k, &ruleset.Flag{Key: k, Type: ruleset.TypeBoolean, Enabled: true, Off: "off", Default: "off",
			Variants: []ruleset.Variant{{Name: "on", Value: json.RawMessage(`true`)}, {Name: "off", Value: json.RawMessage(`false`)}}})
	}
	s.Document.Flags = flags.FlagMap()
	return s
}

// next returns a snapshot of version that shares every flag of s but f0,
// whose description changes, as the syncer's loads do.
func next(s *store.Snapshot, version, desc string) *store.Snapshot {
	n := *s
	doc := *s.Document
	doc.Version, n.Version = version, version
	f0 := *s.Document.Flags.Get("f0")
	f0.Description = desc
	doc.Flags = s.Document.Flags.With(map[string]*ruleset.Flag{"f0": &f0})
	n.Document = &doc
	return &n
}

func waitVersion(t *testing.T, ch <-chan store.Change, version string) {
	t.Helper()
	deadline := time.After(eventually)
	for {
		select {
		case c := <-ch:
			if c.Version == version {
				return
			}
		case <-deadline:
			t.Fatalf("no change to %s", version)
		}
	}
}

// A bearer holding version v1 gets v2 from the announced patch: the
// unchanged flags are the very ones it holds, not a fresh read. After a
// missed patch (published by a process without the previous snapshot, as
// after a syncer restart) it reads the snapshot whole.
func TestSnapshotSinceAppliesPatches(t *testing.T) {
	srv := redistest.Start(t)
	pub := newRedis(t, srv, redisstore.Options{})
	sub := newRedis(t, srv, redisstore.Options{})
	ch, err := sub.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	v1 := flagsSnap("v1", 50)
	if err := pub.Publish(ctx, v1); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, ch, "v1")
	have, err := sub.SnapshotSince(ctx, "production", nil) // cold start: one read
	if err != nil || have.Version != "v1" || have.Document.Flags.Len() != 50 {
		t.Fatalf("cold read = %+v, %v", have, err)
	}
	if same, _ := sub.SnapshotSince(ctx, "production", have); same != have {
		t.Error("the current snapshot was read again")
	}
	// Another caller of the same store without a snapshot of its own (the
	// admin API beside the bearer) shares the one already returned.
	if shared, _ := sub.SnapshotSince(ctx, "production", nil); shared != have {
		t.Error("a second caller decoded its own copy of the current snapshot")
	}

	// A store that does not watch has no patch of its own: it applies the
	// ones stored in Redis.
	late := newRedis(t, srv, redisstore.Options{})
	lateHave, err := late.SnapshotSince(ctx, "production", nil)
	if err != nil {
		t.Fatal(err)
	}

	v2 := next(v1, "v2", "two")
	v3 := next(v2, "v3", "three")
	f7 := *v3.Document.Flags.Get("f7")
	f7.Enabled = false
	v3.Document.Flags = v3.Document.Flags.With(map[string]*ruleset.Flag{"f7": &f7})
	for _, s := range []*store.Snapshot{v2, v3} {
		if err := pub.Publish(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	waitVersion(t, ch, "v3")
	got, err := sub.SnapshotSince(ctx, "production", have) // two patches
	if err != nil || got.Version != "v3" || got.Document.Version != "v3" {
		t.Fatalf("SnapshotSince = %+v, %v; want v3", got, err)
	}
	// It names every flag the two patches changed, from what the caller
	// holds, so that a bearer compiles those only.
	if keys, ok := got.ChangedFrom(have.Document); !ok || !slices.Equal(keys, []string{"f0", "f7"}) {
		t.Errorf("ChangedFrom(v1) = %v, %v; want [f0 f7]", keys, ok)
	}
	if _, ok := got.ChangedFrom(v1.Document); ok {
		t.Error("the change is named from a Document the caller does not hold")
	}
	lateGot, err := late.SnapshotSince(ctx, "production", lateHave)
	if err != nil || lateGot.Version != "v3" || lateGot.Document.Flags.Get("f1") != lateHave.Document.Flags.Get("f1") {
		t.Fatalf("SnapshotSince from the stored patches = %+v, %v; want v3 patched", lateGot, err)
	}
	if keys, ok := lateGot.ChangedFrom(lateHave.Document); !ok || !slices.Equal(keys, []string{"f0", "f7"}) {
		t.Errorf("stored patches: ChangedFrom(v1) = %v, %v; want [f0 f7]", keys, ok)
	}
	if got.Document.Flags.Get("f0").Description != "three" || got.Document.Flags.Get("f1") != have.Document.Flags.Get("f1") {
		t.Errorf("v3 not built from the patches: f0 %+v, f1 shared %v", got.Document.Flags.Get("f0"), got.Document.Flags.Get("f1") == have.Document.Flags.Get("f1"))
	}
	if len(got.Keys) != 1 || got.Keys[0].Name != "svc" {
		t.Errorf("keys = %+v", got.Keys)
	}

	// A publisher that did not publish v3 announces no patch: a gap.
	fresh := newRedis(t, srv, redisstore.Options{})
	v4 := next(v3, "v4", "four")
	if err := fresh.Publish(ctx, v4); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, ch, "v4")
	got4, err := sub.SnapshotSince(ctx, "production", got)
	if err != nil || got4.Version != "v4" || got4.Document.Flags.Get("f0").Description != "four" {
		t.Fatalf("after a gap = %+v, %v; want v4 read whole", got4, err)
	}
	if got4.Document.Flags.Get("f1") == got.Document.Flags.Get("f1") {
		t.Error("after a gap the snapshot was not read whole")
	}
	if keys, ok := got4.ChangedFrom(got.Document); ok {
		t.Errorf("a snapshot read whole names changed flags %v", keys)
	}
}

// Snapshots are stored compressed; plain JSON written by older versions
// is still read.
func TestSnapshotCompressedAndLegacy(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, srv, redisstore.Options{})
	ctx := t.Context()
	s := flagsSnap("v1", 200)
	if err := r.Publish(ctx, s); err != nil {
		t.Fatal(err)
	}
	body, err := r.Client().Get(ctx, "flagpole:snap:production").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := json.Marshal(s)
	if !bytes.HasPrefix(body, []byte{0x28, 0xb5, 0x2f, 0xfd}) || len(body)*5 > len(plain) {
		t.Errorf("stored %d bytes (plain JSON %d): want zstd, at least 5× smaller", len(body), len(plain))
	}
	if err := r.Client().Set(ctx, "flagpole:snap:production", plain, 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := r.Snapshot(ctx, "production")
	if err != nil || got.Version != "v1" || got.Document.Flags.Len() != 200 {
		t.Fatalf("legacy snapshot = %+v, %v", got, err)
	}
	if err := r.Client().Set(ctx, "flagpole:snap:production", append([]byte{0x28, 0xb5, 0x2f, 0xfd}, "garbage"...), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Snapshot(ctx, "production"); err == nil {
		t.Error("a garbled compressed snapshot was read")
	}
}

// checkDeferred publishes v1 whole and v2, v3 as patches with the
// snapshot write deferred (pub's SnapshotDelay is long): a cold reader
// gets v3 from the stored v1 and the stored patches, sharing nothing with
// the publisher; Close writes the deferred snapshot.
func checkDeferred(t *testing.T, pub, cold *redisstore.Redis) {
	t.Helper()
	ctx := t.Context()
	v1 := flagsSnap("v1", 30)
	v2 := next(v1, "v2", "two")
	v3 := next(v2, "v3", "three")
	for _, s := range []*store.Snapshot{v1, v2, v3} {
		if err := pub.Publish(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	key := pub.Prefix() + "snap:production"
	if stored := rawVersion(t, pub, key); stored != "v1" {
		t.Fatalf("snapshot key holds %s before the deferred write, want v1 (written at once?)", stored)
	}
	got, err := cold.Snapshot(ctx, "production")
	if err != nil || got.Version != "v3" || got.Document.Version != "v3" || got.Document.Flags.Get("f0").Description != "three" || got.Document.Flags.Len() != 30 {
		t.Fatalf("cold Snapshot = %+v, %v; want v3 from v1 and two patches", got, err)
	}
	if len(got.Keys) != 1 || got.Keys[0].Name != "svc" {
		t.Errorf("keys = %+v", got.Keys)
	}
	if mine, err := pub.Snapshot(ctx, "production"); err != nil || mine != v3 {
		t.Errorf("publisher's Snapshot = %p, %v; want its own v3 %p, not decoded again", mine, err, v3)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if stored := rawVersion(t, cold, key); stored != "v3" {
		t.Fatalf("after Close the snapshot key holds %s, want the deferred v3", stored)
	}
	if got, err := cold.Snapshot(ctx, "production"); err != nil || got.Version != "v3" {
		t.Fatalf("Snapshot after the write = %+v, %v", got, err)
	}
}

// rawVersion decodes the snapshot stored at key, bypassing the patches.
func rawVersion(t *testing.T, r *redisstore.Redis, key string) string {
	t.Helper()
	body, err := r.Client().Get(t.Context(), key).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	j, err := plain.DecodeAll(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	var s store.Snapshot
	if err := json.Unmarshal(j, &s); err != nil {
		t.Fatal(err)
	}
	return s.Version
}

func TestDeferredSnapshot(t *testing.T) {
	srv := redistest.Start(t)
	checkDeferred(t, newRedis(t, srv, redisstore.Options{SnapshotDelay: time.Hour}), newRedis(t, srv, redisstore.Options{}))
}

// The deferred writer writes the snapshot by itself, and a republish of
// the same version (the syncer repairing a lost key) writes it whole and
// empties the patch list.
func TestDeferredSnapshotWrittenAndRepublished(t *testing.T) {
	srv := redistest.Start(t)
	pub := newRedis(t, srv, redisstore.Options{SnapshotDelay: time.Millisecond})
	ctx := t.Context()
	v1 := flagsSnap("v1", 10)
	v2 := next(v1, "v2", "two")
	for _, s := range []*store.Snapshot{v1, v2} {
		if err := pub.Publish(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(eventually)
	for rawVersion(t, pub, "flagpole:snap:production") != "v2" {
		if time.Now().After(deadline) {
			t.Fatal("the deferred snapshot was not written")
		}
		time.Sleep(10 * time.Millisecond) // polling Redis: no signal to wait on
	}
	if err := pub.Client().Del(ctx, "flagpole:snap:production").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Snapshot(ctx, "production"); err == nil {
		t.Fatal("Snapshot of a deleted key succeeded")
	}
	if err := pub.Publish(ctx, v2); err != nil {
		t.Fatal(err)
	}
	if n, err := pub.Client().LLen(ctx, "flagpole:patches:production").Result(); err != nil || n != 0 {
		t.Errorf("patch list after a whole write: %d entries, %v", n, err)
	}
	if stored := rawVersion(t, pub, "flagpole:snap:production"); stored != "v2" {
		t.Errorf("republished snapshot is %s", stored)
	}
}

// A Snapshot read while a publish's reply is still on its way (a watcher
// of this process is told of the version as soon as Redis lists it) is the
// snapshot being published, not one decoded from the stored bytes and
// patches, both for a whole write and for a patch.
func TestSnapshotDuringOwnPublish(t *testing.T) {
	srv := redistest.Start(t)
	pub := newRedis(t, srv, redisstore.Options{SnapshotDelay: time.Hour})
	ctx := t.Context()
	var publishing *store.Snapshot
	checked := 0
	pub.OnSent(func(env string) {
		got, err := pub.Snapshot(ctx, env)
		if err != nil || got != publishing {
			t.Errorf("Snapshot during the publish of %s = %p (version %v), %v; want the published %p", publishing.Version, got, versionOf(got), err, publishing)
		}
		checked++
	})
	v1 := flagsSnap("v1", 30)
	v2 := next(v1, "v2", "two")
	v3 := next(v2, "v3", "three")
	for _, s := range []*store.Snapshot{v1, v2, v3} {
		publishing = s
		if err := pub.Publish(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if checked != 3 {
		t.Fatalf("checked %d publishes, want 3", checked)
	}
}

func versionOf(s *store.Snapshot) any {
	if s == nil {
		return nil
	}
	return s.Version
}

// The deferred writer waits for publishes to stop, but not past half the
// stored patch list: a snapshot 32 patches behind is written even while
// they go on.
func TestDeferredSnapshotWrittenWhenFarBehind(t *testing.T) {
	srv := redistest.Start(t)
	pub := newRedis(t, srv, redisstore.Options{SnapshotDelay: time.Hour})
	cold := newRedis(t, srv, redisstore.Options{})
	ctx := t.Context()
	s := flagsSnap("v0", 10)
	if err := pub.Publish(ctx, s); err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := 1; i <= n; i++ {
		s = next(s, fmt.Sprint("v", i), fmt.Sprint("edit ", i))
		if err := pub.Publish(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	key := "flagpole:snap:production"
	deadline := time.Now().Add(eventually)
	stored := rawVersion(t, cold, key)
	for stored == "v0" {
		if time.Now().After(deadline) {
			t.Fatalf("%d patches behind and the snapshot key still holds v0", n)
		}
		time.Sleep(10 * time.Millisecond) // polling Redis: no signal to wait on
		stored = rawVersion(t, cold, key)
	}
	var i int
	if _, err := fmt.Sscanf(stored, "v%d", &i); err != nil || i < 32 {
		t.Errorf("the snapshot key holds %s; want a version at least 32 patches on (written once 32 behind)", stored)
	}
	if got, err := cold.Snapshot(ctx, "production"); err != nil || got.Version != s.Version || got.Document.Flags.Get("f0").Description != "edit 40" {
		t.Fatalf("cold Snapshot = %v, %v; want %s", versionOf(got), err, s.Version)
	}
}

// An edit undone publishes the version the snapshot key still holds, as a
// new Document: the publisher's Snapshot serves that Document (the one its
// next publish's Change is from), not the stored one.
func TestSnapshotOfUndoneEditIsThePublished(t *testing.T) {
	srv := redistest.Start(t)
	pub := newRedis(t, srv, redisstore.Options{SnapshotDelay: time.Hour})
	ctx := t.Context()
	v1 := flagsSnap("v1", 30)
	v2 := next(v1, "v2", "two")
	again := next(v2, "v1", "")
	again.Document.Flags = again.Document.Flags.With(map[string]*ruleset.Flag{"f0": v1.Document.Flags.Get("f0")})
	for _, s := range []*store.Snapshot{v1, v2, again} {
		if err := pub.Publish(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := pub.Snapshot(ctx, "production"); err != nil || got != again {
		t.Fatalf("Snapshot = %p, %v; want the last published %p (the stored v1 is %p)", got, err, again, v1)
	}
}

// A publisher reading back what it wrote (the dashboard's sampling, the
// syncer's check) does not download the stored snapshot: the store's
// output for the read is far smaller than the snapshot. Once another
// process replaces the key, the read is whole again and serves that.
func TestOwnSnapshotNotDownloaded(t *testing.T) {
	srv := redistest.Start(t)
	pub := newRedis(t, srv, redisstore.Options{SnapshotDelay: time.Hour})
	other := newRedis(t, srv, redisstore.Options{})
	ctx := t.Context()
	v1 := flagsSnap("v1", 3000)
	for k, f := range v1.Document.Flags.All() {
		cp := *f
		cp.Description = fmt.Sprintf("%s: %x", k, sha256.Sum256([]byte(k))) // not compressible to nothing
		v1.Document.Flags = v1.Document.Flags.With(map[string]*ruleset.Flag{k: &cp})
	}
	v2 := next(v1, "v2", "two")
	for _, s := range []*store.Snapshot{v1, v2} {
		if err := pub.Publish(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := pub.Client().StrLen(ctx, "flagpole:snap:production").Result()
	if err != nil {
		t.Fatal(err)
	}
	output := func() int64 {
		info, err := pub.Client().Info(ctx, "stats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "total_net_output_bytes:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		t.Fatal("no total_net_output_bytes in INFO stats")
		return 0
	}
	before := output()
	got, err := pub.Snapshot(ctx, "production")
	sent := output() - before
	if err != nil || got != v2 {
		t.Fatalf("Snapshot = %p, %v; want the published v2 %p", got, err, v2)
	}
	if sent > stored/4 {
		t.Errorf("reading back its own snapshot, Redis sent %d bytes; the stored snapshot is %d", sent, stored)
	}
	// Another process writes a version of its own: read whole, served.
	v3 := next(v2, "v3", "three")
	if err := other.Publish(ctx, v3); err != nil {
		t.Fatal(err)
	}
	if got, err := pub.Snapshot(ctx, "production"); err != nil || got.Version != "v3" || got.Document.Flags.Get("f0").Description != "three" {
		t.Fatalf("after another process's write, Snapshot = %v, %v; want its v3", versionOf(got), err)
	}
}
