package bearer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/flagpole/flagpole/internal/keyring"
	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// envState is one loaded version of an environment: immutable once built,
// shared by every request and stream that uses it.
type envState struct {
	env      string
	version  string
	doc      *ruleset.Document
	rs       compiled
	keys     *keyring.Ring // the SDK keys of this environment
	loadedAt time.Time
	// flags are every flag's encodings, sorted by key: found by binary
	// search (flag), and shared in chunks with the state an edit made
	// this one from.
	flags encList
	// raw is the store's snapshot this state was built from, before the
	// override layer: the base for the store's patches (patchStore).
	raw *store.Snapshot
	// change, when set, says that this state's flags are those of the
	// state it was built from (its Document, held weakly) but for the
	// flags it names: the hub then diffs those only.
	change *ruleset.Change

	// The SSE put event of the Document, encoded on first use and dropped
	// putKeep after its last use: a version that only streams patches
	// never encodes its whole Document, and one that sent puts to a burst
	// of connecting clients does not hold the encoding (at 100,000 flags
	// 29 MiB, an eighth of the version) for the rest of its life.
	putMu    sync.Mutex
	putBytes []byte
	putUsed  time.Time
	putTimer *time.Timer
}

// putKeep is how long an encoded put event is kept after its last use:
// long enough for a reconnect storm to share one encoding.
const putKeep = 30 * time.Second

// putFrame returns the SSE put event of the Document. The caller may use
// the bytes as long as it likes; they are never modified.
func (st *envState) putFrame() ([]byte, error) {
	st.putMu.Lock()
	defer st.putMu.Unlock()
	st.putUsed = time.Now()
	if st.putBytes != nil {
		return st.putBytes, nil
	}
	docJSON, err := st.doc.AppendJSON(nil)
	if err != nil {
		return nil, fmt.Errorf("encoding rule set %s of environment %s: %w", st.version, st.env, err)
	}
	st.putBytes = sseFrame("put", st.version, docJSON)
	if st.putTimer == nil {
		st.putTimer = time.AfterFunc(putKeep, st.dropPut)
	} else {
		st.putTimer.Reset(putKeep)
	}
	return st.putBytes, nil
}

// dropPut forgets the encoded put event unless it was used within
// putKeep, in which case it looks again putKeep after that use.
func (st *envState) dropPut() {
	st.putMu.Lock()
	defer st.putMu.Unlock()
	if idle := time.Since(st.putUsed); idle < putKeep {
		st.putTimer.Reset(putKeep - idle)
		return
	}
	st.putBytes = nil
}

// docJSON returns the Document as JSON: the data of the put event (JSON
// encoding has no newlines), so that it is held once.
func (st *envState) docJSON() ([]byte, error) {
	frame, err := st.putFrame()
	if err != nil {
		return nil, err
	}
	head := len("event: put\nid: ") + len(st.version) + len("\ndata: ")
	return frame[head : len(frame)-2], nil
}

// flagEnc holds the pre-encoded JSON fragments of one flag, so that
// evaluation responses are built by appending bytes rather than by
// reflection.
type flagEnc struct {
	key     string
	keyJSON []byte // the key as a JSON string
	client  bool
	// variants maps a variant name to `<value JSON>,"variant":"<name>"`.
	variants map[string][]byte
	// meta is the flag's metadata as JSON object members without braces,
	// `"jira":"GROW-123","tier":2`, in key order; empty when it has none.
	meta []byte
}

// newEnvState compiles snap and pre-encodes what requests will need. prev,
// when not nil, is a state to share with: the one it replaces, or for an
// environment's first state another environment's. Flags it holds alike
// (the same *Flag, as the store's patches, the stores' decoding and the
// in-process syncer give) keep its compiled form and encoding. When snap
// says which flags it changed from prev's (flagChange), only those are
// compiled and encoded, and prev's other encodings are copied.
func newEnvState(snap *store.Snapshot, now func() time.Time, prev *envState) (*envState, error) {
	doc := snap.Document
	if doc == nil {
		return nil, fmt.Errorf("snapshot %s of environment %s has no document", snap.Version, snap.Environment)
	}
	if doc.Version == "" || strings.ContainsAny(doc.Version, "\r\n\"") {
		return nil, fmt.Errorf("snapshot %s of environment %s: document version %q is empty or has a quote or newline", snap.Version, snap.Environment, doc.Version)
	}
	var prevRS compiled
	if prev != nil {
		prevRS = prev.rs
	}
	base, changed := flagChange(snap, prev)
	rs, err := compileFrom(snap.Compiled, prevRS, base, changed, doc, now)
	if err != nil {
		return nil, err
	}
	keys, err := sdkKeys(snap)
	if err != nil {
		return nil, err
	}
	st := &envState{
		env:      snap.Environment,
		version:  doc.Version,
		doc:      doc,
		rs:       rs,
		keys:     keys,
		loadedAt: now(),
	}
	if base != nil {
		st.change = &ruleset.Change{Base: weak.Make(prev.doc), Flags: changed}
		if err := st.encodeChanged(prev); err != nil {
			return nil, err
		}
		return st, nil
	}
	sorted := rs.Keys() // every flag that compiled: all of them
	if len(sorted) != doc.Flags.Len() {
		sorted = doc.Flags.Keys()
	}
	flags := make([]*flagEnc, 0, len(sorted))
	shared := variantTable{}
	var old []*flagEnc    // prev's, walked beside sorted: a chunk,
	var rest [][]*flagEnc // and the chunks after it
	if prev != nil {
		rest = prev.flags.chunks
	}
	for _, k := range sorted {
		fl := doc.Flags.Get(k)
		for { // to prev's first encoding not below k
			for len(old) > 0 && old[0].key < k {
				old = old[1:]
			}
			if len(old) > 0 || len(rest) == 0 {
				break
			}
			old, rest = rest[0], rest[1:]
		}
		var f *flagEnc
		if len(old) > 0 && old[0].key == k && prev.doc.Flags.Get(k) == fl {
			f = old[0]
		} else if f, err = encodeFlag(k, fl, shared); err != nil {
			return nil, fmt.Errorf("encoding rule set %s of environment %s: %w", doc.Version, snap.Environment, err)
		}
		flags = append(flags, f)
	}
	st.flags = newEncList(flags)
	return st, nil
}

// flag returns the encodings of the flag key, or nil.
func (st *envState) flag(key string) *flagEnc { return st.flags.get(key) }

// flagChange returns the Document snap's flags were made from and the keys
// of the flags that differ from it, when that Document's flags are the
// ones prev serves; nil otherwise. Either prev serves snap's very flags
// (only the override layer or the audiences changed: no flag named), or
// the store patched the snapshot prev was built from and says which flags
// the patches named (store.Snapshot.ChangedFrom).
func flagChange(snap *store.Snapshot, prev *envState) (*ruleset.Document, []string) {
	switch {
	case prev == nil:
		return nil, nil
	case snap.Document.SameFlags(prev.doc):
		return prev.doc, nil
	case prev.raw != nil && prev.raw.Document.SameFlags(prev.doc):
		if changed, ok := snap.ChangedFrom(prev.raw.Document); ok {
			return prev.raw.Document, changed
		}
	}
	return nil, nil
}

// encodeChanged builds st's encodings from prev's, whose flags st's
// Document has but for the flags st.change names: those are encoded (or
// taken from prev when the same *Flag), added or removed; every other
// entry is prev's.
func (st *envState) encodeChanged(prev *envState) error {
	shared := variantTable{}
	var set []*flagEnc
	var del []string
	for _, k := range st.change.Flags {
		fl, ok := st.doc.Flags.Lookup(k)
		if !ok {
			del = append(del, k)
			continue
		}
		if prev.flag(k) != nil && prev.doc.Flags.Get(k) == fl {
			continue // prev's encoding
		}
		f, err := encodeFlag(k, fl, shared)
		if err != nil {
			return fmt.Errorf("encoding rule set %s of environment %s: %w", st.version, st.env, err)
		}
		set = append(set, f)
	}
	st.flags = prev.flags.with(set, del)
	return nil
}

// sdkKeys returns the ring of the keys of snap's environment. It holds
// admin and viewer keys too, so that the SDK endpoints refuse them with 403
// (wrong kind of key) rather than 401 (unknown key).
func sdkKeys(snap *store.Snapshot) (*keyring.Ring, error) {
	r, err := keyring.New(snap.Keys, snap.Environment, store.KeyServer, store.KeyClient, store.KeyAdmin, store.KeyViewer)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s of environment %s: %w", snap.Version, snap.Environment, err)
	}
	return r, nil
}

// variantTable holds the encoded variants of one build by the flags'
// variants (names and values), so that flags with the same variants (most
// boolean flags) share one read-only map: at 100,000 flags a map each was a
// fifth of the bearer's memory.
type variantTable map[string]map[string][]byte

// maxSharedSig bounds the variants that are shared, by their signature's
// length: large JSON variants are seldom repeated.
const maxSharedSig = 256

// encodeFlag pre-encodes the key, the metadata and the variant values of
// f, taking the variants from shared when another flag of the build has
// the same.
func encodeFlag(key string, f *ruleset.Flag, shared variantTable) (*flagEnc, error) {
	enc := &flagEnc{key: key, keyJSON: appendJSONString(nil, key)}
	if f == nil {
		enc.variants = map[string][]byte{}
		return enc, nil
	}
	enc.client = f.Client
	for _, k := range slices.Sorted(maps.Keys(f.Metadata)) {
		v, err := json.Marshal(f.Metadata[k])
		if err != nil {
			return nil, fmt.Errorf("flags.%s.metadata.%s: %w", key, k, err)
		}
		if len(enc.meta) > 0 {
			enc.meta = append(enc.meta, ',')
		}
		enc.meta = append(appendJSONString(enc.meta, k), ':')
		enc.meta = append(enc.meta, v...)
	}
	var sig []byte
	for _, v := range f.Variants {
		sig = append(append(append(append(sig, v.Name...), 0), v.Value...), 0)
	}
	if m, ok := shared[string(sig)]; ok {
		enc.variants = m
		return enc, nil
	}
	enc.variants = make(map[string][]byte, len(f.Variants))
	for _, v := range f.Variants {
		var b bytes.Buffer
		if err := json.Compact(&b, v.Value); err != nil {
			return nil, fmt.Errorf("flags.%s.variants.%s: value is not JSON: %w", key, v.Name, err)
		}
		out := make([]byte, 0, b.Len()+len(`,"variant":`)+len(v.Name)+2)
		out = append(append(out, b.Bytes()...), `,"variant":`...)
		enc.variants[v.Name] = appendJSONString(out, v.Name)
	}
	if shared != nil && len(sig) <= maxSharedSig {
		shared[string(sig)] = enc.variants
	}
	return enc, nil
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	simple := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			simple = false
			break
		}
	}
	if simple {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	enc, _ := json.Marshal(s) // a string always encodes
	return append(b, enc...)
}
