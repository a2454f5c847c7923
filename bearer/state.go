package bearer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

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
	docJSON  []byte     // the Document as JSON
	putFrame []byte     // the SSE put event of docJSON, encoded once
	flags    []*flagEnc // every flag, sorted by key
	byKey    map[string]*flagEnc
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

// newEnvState compiles snap and pre-encodes what requests will need.
func newEnvState(snap *store.Snapshot, now func() time.Time) (*envState, error) {
	doc := snap.Document
	if doc == nil {
		return nil, fmt.Errorf("snapshot %s of environment %s has no document", snap.Version, snap.Environment)
	}
	if doc.Version == "" || strings.ContainsAny(doc.Version, "\r\n\"") {
		return nil, fmt.Errorf("snapshot %s of environment %s: document version %q is empty or has a quote or newline", snap.Version, snap.Environment, doc.Version)
	}
	rs, err := compile(doc, now)
	if err != nil {
		return nil, err
	}
	keys, err := sdkKeys(snap)
	if err != nil {
		return nil, err
	}
	docJSON, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encoding rule set %s of environment %s: %w", doc.Version, snap.Environment, err)
	}
	st := &envState{
		env:      snap.Environment,
		version:  doc.Version,
		doc:      doc,
		rs:       rs,
		keys:     keys,
		loadedAt: now(),
		docJSON:  docJSON,
		putFrame: sseFrame("put", doc.Version, docJSON),
		byKey:    make(map[string]*flagEnc, len(doc.Flags)),
	}
	for _, k := range slices.Sorted(maps.Keys(doc.Flags)) {
		f, err := encodeFlag(k, doc.Flags[k])
		if err != nil {
			return nil, fmt.Errorf("encoding rule set %s of environment %s: %w", doc.Version, snap.Environment, err)
		}
		st.flags = append(st.flags, f)
		st.byKey[k] = f
	}
	return st, nil
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

// encodeFlag pre-encodes the key and the variant values of f.
func encodeFlag(key string, f *ruleset.Flag) (*flagEnc, error) {
	enc := &flagEnc{key: key, keyJSON: appendJSONString(nil, key), variants: make(map[string][]byte, len(f.Variants))}
	if f != nil {
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
		for _, v := range f.Variants {
			var b bytes.Buffer
			if err := json.Compact(&b, v.Value); err != nil {
				return nil, fmt.Errorf("flags.%s.variants.%s: value is not JSON: %w", key, v.Name, err)
			}
			b.WriteString(`,"variant":`)
			b.Write(appendJSONString(nil, v.Name))
			enc.variants[v.Name] = b.Bytes()
		}
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
