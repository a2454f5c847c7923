package redisstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/klauspost/compress/zstd"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// Environments of one repository mostly hold the same flags: a flag
// without an overlay for an environment is the same in all of them. A
// snapshot read whole is therefore decoded against the snapshots of the
// other environments this store holds (SnapshotSince's latest): a flag or
// audience whose stored JSON is exactly the encoding of the other
// environment's is not decoded but shared, the very same *Flag. Documents
// are immutable, so sharing is safe, and consumers that reuse work by
// pointer (ruleset.CompileFrom, the bearer's encodings) then keep one
// compiled form for every environment. At 100,000 flags in two
// environments that is half of a bearer's heap. Patches applied by
// SnapshotSince share the same way (sharePatch).

// rawSnapshot is a stored snapshot with its flags and audiences left as
// JSON, to be decoded one by one (decodeSnapshot).
type rawSnapshot struct {
	store.Snapshot
	Document *rawDocument `json:"document"`
}

// rawDocument is a Document whose flags and audiences are still JSON; the
// outer fields take their keys from the embedded Document's.
type rawDocument struct {
	ruleset.Document
	Flags     map[string]json.RawMessage `json:"flags"`
	Audiences map[string]json.RawMessage `json:"audiences,omitempty"`
}

// decodeSnapshot reads a stored snapshot, compressed or not, sharing each
// flag and audience that has the same JSON in one of others (nil: none).
func decodeSnapshot(body []byte, others []*ruleset.Document) (*store.Snapshot, error) {
	if bytes.HasPrefix(body, zstdMagic) {
		// A decoder of its own, closed at once: the package's decoder would
		// keep the decompressed body (its history points into it) until its
		// next use, tens of megabytes at 100,000 flags. A new decoder costs
		// microseconds; whole reads are rare.
		dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(MaxSnapshotBytes), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("decompressing: %w", err)
		}
		body, err = dec.DecodeAll(body, nil)
		dec.Close()
		if err != nil {
			return nil, fmt.Errorf("decompressing: %w", err)
		}
	}
	var raw rawSnapshot
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, err
	}
	s := raw.Snapshot
	if raw.Document == nil {
		s.Document = nil
		return &s, nil
	}
	doc := raw.Document.Document
	flags, err := decodeShared(raw.Document.Flags, "flags", others, docFlag)
	if err != nil {
		return nil, err
	}
	doc.Flags = ruleset.NewFlagMap(flags)
	if doc.Audiences, err = decodeShared(raw.Document.Audiences, "audiences", others, docAudience); err != nil {
		return nil, err
	}
	s.Document = &doc
	return &s, nil
}

// docFlags and docAudiences select the entries decodeShared and
// sharePatch share.
func docFlag(d *ruleset.Document, k string) *ruleset.Flag         { return d.Flags.Get(k) }
func docAudience(d *ruleset.Document, k string) *ruleset.Audience { return d.Audiences[k] }

// decodeShared decodes the entries of raw, each one taken from the first
// of others (by of) whose entry of the same key encodes to the same JSON.
// A nil raw stays nil, as encoding/json leaves it.
func decodeShared[V any](raw map[string]json.RawMessage, field string, others []*ruleset.Document, of func(*ruleset.Document, string) *V) (map[string]*V, error) {
	if raw == nil {
		return nil, nil
	}
	out := make(map[string]*V, len(raw))
	for k, b := range raw {
		if v := sameIn(k, b, others, of); v != nil {
			out[k] = v
			continue
		}
		var v *V
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", field, k, err)
		}
		out[k] = v
	}
	return out, nil
}

// sameIn returns the entry k of the first of others whose JSON encoding
// is b, or nil. b is compact JSON as encoding/json writes it (the stored
// snapshot's), so equal bytes mean an equal value.
func sameIn[V any](k string, b []byte, others []*ruleset.Document, of func(*ruleset.Document, string) *V) *V {
	for _, d := range others {
		v := of(d, k)
		if v == nil {
			continue
		}
		if enc, err := json.Marshal(v); err == nil && bytes.Equal(enc, b) {
			return v
		}
	}
	return nil
}

// sharePatch returns p with each flag and audience that one of others
// holds with the same JSON replaced by the other's, in a copy (p, kept
// for other readers, is not modified); p itself when there is none.
func sharePatch(p *ruleset.Patch, others []*ruleset.Document) *ruleset.Patch {
	if len(others) == 0 {
		return p
	}
	flags := shareEntries(p.Flags, others, docFlag)
	auds := shareEntries(p.Audiences, others, docAudience)
	if flags == nil && auds == nil {
		return p
	}
	np := *p
	if flags != nil {
		np.Flags = flags
	}
	if auds != nil {
		np.Audiences = auds
	}
	return &np
}

// shareEntries returns a copy of changed with the entries that others hold
// with the same JSON replaced by theirs, or nil when there is none.
func shareEntries[V any](changed map[string]*V, others []*ruleset.Document, of func(*ruleset.Document, string) *V) map[string]*V {
	var out map[string]*V
	for k, v := range changed {
		if v == nil {
			continue // deleted
		}
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		if same := sameIn(k, b, others, of); same != nil && same != v {
			if out == nil {
				out = maps.Clone(changed)
			}
			out[k] = same
		}
	}
	return out
}

// others returns the Documents of the environments other than env that
// SnapshotSince last returned, in the order of their names.
func (r *Redis) others(env string) []*ruleset.Document {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	var out []*ruleset.Document
	for _, e := range slices.Sorted(maps.Keys(r.latest)) {
		if s := r.latest[e]; e != env && s != nil && s.Document != nil {
			out = append(out, s.Document)
		}
	}
	return out
}
