// Package keyring checks presented keys against the hashed keys a snapshot
// carries (flagpole.yaml keeps only the SHA-256 of each key). It is the one
// place where keys are compared: in constant time, without stopping at the
// first match, so that timing tells nothing about the keys held. The bearer
// uses it for SDK keys; the admin API uses it for admin and viewer keys, and
// the trigger endpoint (Triggers) for the tokens of trigger URLs.
package keyring

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/flagpole/flagpole/store"
)

// Hash is the SHA-256 of a key.
type Hash [sha256.Size]byte

// Sum returns the hash of a presented key.
func Sum(key string) Hash { return sha256.Sum256([]byte(key)) }

// Entry is one key a Ring accepts.
type Entry struct {
	Hash Hash
	Kind store.KeyKind
	Name string
}

// Ring is the keys one environment accepts. It is immutable, so one Ring
// may serve every request of a rule-set version.
type Ring struct {
	entries []Entry
	kinds   map[Hash]store.KeyKind
}

// New returns the ring of the keys that apply to env (store.Key.Applies).
// known lists the kinds the caller handles; a
// key of another kind, or whose SHA256 is not 64 hex digits, is an error
// naming it by index and name (never by hash).
func New(keys []store.Key, env string, known ...store.KeyKind) (*Ring, error) {
	r := &Ring{kinds: make(map[Hash]store.KeyKind, len(keys))}
	for i, k := range keys {
		if !k.Applies(env) {
			continue
		}
		h, ok := parseHash(k.SHA256)
		if !ok {
			return nil, fmt.Errorf("keys[%d] (%s): sha256 is not 64 hex digits", i, k.Name)
		}
		if !slices.Contains(known, k.Kind) {
			return nil, fmt.Errorf("keys[%d] (%s): unknown kind %q", i, k.Name, k.Kind)
		}
		e := Entry{Hash: h, Kind: k.Kind, Name: k.Name}
		if _, dup := r.kinds[h]; dup {
			// The last declaration wins (validation reports duplicates).
			i := slices.IndexFunc(r.entries, func(o Entry) bool { return o.Hash == h })
			r.entries[i] = e
		} else {
			r.entries = append(r.entries, e)
		}
		r.kinds[h] = k.Kind
	}
	return r, nil
}

// Match compares h with every key of r in constant time and returns the
// key it equals. It never stops early, so callers that check several rings
// should check them all before acting on a match.
func (r *Ring) Match(h Hash) (Entry, bool) {
	i := match(h, r.entries, func(e *Entry) *Hash { return &e.Hash })
	if i < 0 {
		return Entry{}, false
	}
	return r.entries[i], true
}

// match returns the index of the first of items whose hash equals h, or -1.
// It compares h with every item in constant time, whatever it finds.
func match[T any](h Hash, items []T, hash func(*T) *Hash) int {
	found := -1
	for i := range items {
		eq := subtle.ConstantTimeCompare(h[:], hash(&items[i])[:])
		found = subtle.ConstantTimeSelect(eq&subtle.ConstantTimeEq(int32(found), -1), i, found)
	}
	return found
}

// parseHash decodes 64 hex digits.
func parseHash(s string) (Hash, bool) {
	var h Hash
	b, err := hex.DecodeString(strings.ToLower(s))
	if err != nil || len(b) != len(h) {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// Allows reports whether r still holds the key with hash h and kind kind:
// the re-check of a key already matched, when a new rule-set version
// arrives. It is a map lookup, not constant time; h is no secret once
// matched.
func (r *Ring) Allows(h Hash, kind store.KeyKind) bool {
	k, ok := r.kinds[h]
	return ok && k == kind
}

// Equal reports whether r and o accept the same keys with the same kinds.
func (r *Ring) Equal(o *Ring) bool { return maps.Equal(r.kinds, o.kinds) }

// Len is the number of keys r accepts.
func (r *Ring) Len() int { return len(r.entries) }
