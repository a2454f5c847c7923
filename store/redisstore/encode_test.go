package redisstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"weak"

	"github.com/klauspost/compress/zstd"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// The stored form built with the flag JSON cache is json.Marshal's, byte
// for byte, over a sequence of edits that change, add, remove and rename
// flags (the same *Flag under another key), with keys and strings that
// JSON escapes and a commit that spells the field the cache fills in.
func TestEncodeSnapshotCachedIsJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"plain", "<html&>", "ünï", `q"uote`, "line\u2028sep", "a", "b", "c", "d"}
	flag := func(k string) *ruleset.Flag {
		return &ruleset.Flag{Key: k, Type: ruleset.TypeString, Enabled: rng.IntN(2) == 0, Off: "x", Default: "x",
			Description: fmt.Sprintf(`"flags":null <%d>`, rng.IntN(100)),
			Variants:    []ruleset.Variant{{Name: "x", Value: json.RawMessage(fmt.Sprintf(`{"n": %d}`, rng.IntN(9)))}}}
	}
	doc := &ruleset.Document{Version: "v0", Environment: "prod", Commit: `"flags":null`, Flags: ruleset.NewFlagMap(map[string]*ruleset.Flag{}),
		Audiences: map[string]*ruleset.Audience{"adults": {Key: "adults"}}}
	for _, k := range keys[:5] {
		doc.Flags = doc.Flags.With(map[string]*ruleset.Flag{k: flag(k)})
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	cache := &flagJSON{}
	for step := range 60 {
		d := *doc
		d.Version = fmt.Sprint("v", step+1)
		d.Flags = ruleset.NewFlagMap(doc.Flags.Map())
		switch k := keys[rng.IntN(len(keys))]; rng.IntN(4) {
		case 0:
			d.Flags = d.Flags.With(map[string]*ruleset.Flag{k: nil})
		case 1: // renamed: the same *Flag under another key
			for old, f := range d.Flags.All() {
				d.Flags = d.Flags.With(map[string]*ruleset.Flag{old: nil})
				d.Flags = d.Flags.With(map[string]*ruleset.Flag{k: f})
				break
			}
		default:
			d.Flags = d.Flags.With(map[string]*ruleset.Flag{k: flag(k)})
		}
		s := &store.Snapshot{Environment: "prod", Version: d.Version, Document: &d, Published: time.Unix(int64(step), 0).UTC(),
			Keys: []store.Key{{Name: "svc", Environment: "prod", Kind: store.KeyServer, SHA256: "00"}}}
		if step%3 != 0 {
			// As the syncer's patched loads say (every third step not).
			s.Change = &ruleset.Change{Base: weak.Make(doc), Flags: slices.Sorted(maps.Keys(ruleset.Diff(doc, &d).Flags))}
		}
		doc = &d
		z, err := encodeSnapshot(s, cache)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dec.DecodeAll(z, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(s)
		if !bytes.Equal(got, want) {
			t.Fatalf("step %d:\n got %s\nwant %s", step, got, want)
		}
		if len(cache.list) != d.Flags.Len() {
			t.Fatalf("step %d: cache holds %d flags, the document %d", step, len(cache.list), d.Flags.Len())
		}
	}
}

// BenchmarkEncodeSnapshot100k measures the stored form of an environment
// of 100,000 flags: whole (json.Marshal), and with the flag JSON cache
// after a one-flag edit, as the deferred write after an edit encodes it.
//
//	go test -run '^$' -bench EncodeSnapshot100k -benchtime 5x ./store/redisstore
func BenchmarkEncodeSnapshot100k(b *testing.B) {
	flags := ruleset.NewFlagMapBuilder(100000)
	for i := range 100000 {
		k := fmt.Sprintf("flag-%06d", i)
		flags.Set(k, &ruleset.Flag{Key: k, Type: ruleset.TypeBoolean, Enabled: true, Off: "off", Default: "off", Description: "generated " + k,
			Variants: []ruleset.Variant{{Name: "on", Value: json.RawMessage(`true`)}, {Name: "off", Value: json.RawMessage(`false`)}},
			Rules:    []ruleset.Rule{{Users: []string{"ann", "bob"}, Serve: "on"}}, Metadata: map[string]any{"team": "growth"}})
	}
	doc := &ruleset.Document{Version: "v1", Environment: "production", Flags: flags.FlagMap()}
	s := &store.Snapshot{Environment: "production", Version: "v1", Document: doc, Published: time.Now()}
	b.Run("whole", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeSnapshot(s, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached-one-flag", func(b *testing.B) { benchEncodeOneFlag(b, s, false) })
	b.Run("named-one-flag", func(b *testing.B) { benchEncodeOneFlag(b, s, true) })
}

// benchEncodeOneFlag encodes s after a one-flag edit with a warm cache,
// the edit named (a ruleset.Change from the last encode) or not.
func benchEncodeOneFlag(b *testing.B, s *store.Snapshot, named bool) {
	{
		cache := &flagJSON{}
		if _, err := encodeSnapshot(s, cache); err != nil {
			b.Fatal(err)
		}
		n := 0
		for b.Loop() {
			n++
			d := *s.Document
			f := *d.Flags.Get("flag-000042")
			f.Description = fmt.Sprint("edit ", n)
			d.Flags = d.Flags.With(map[string]*ruleset.Flag{f.Key: &f})
			next := *s
			next.Document = &d
			if named {
				next.Change = &ruleset.Change{Base: weak.Make(s.Document), Flags: []string{f.Key}}
			}
			if _, err := encodeSnapshot(&next, cache); err != nil {
				b.Fatal(err)
			}
			s = &next
		}
	}
}
