package keyring

import (
	"fmt"

	"github.com/flagpole/flagpole/store"
)

// Triggers finds a trigger by the token of its URL (POST
// /v1/triggers/<token>). It is immutable.
type Triggers struct {
	entries []triggerEntry
}

type triggerEntry struct {
	hash    Hash
	trigger store.Trigger
}

// NewTriggers returns the lookup of ts. A trigger whose SHA256 is not 64
// hex digits is an error naming it by index and name (never by hash). When
// two triggers share a hash (validation reports that), the first wins.
func NewTriggers(ts []store.Trigger) (*Triggers, error) {
	r := &Triggers{entries: make([]triggerEntry, 0, len(ts))}
	for i, t := range ts {
		h, ok := parseHash(t.SHA256)
		if !ok {
			return nil, fmt.Errorf("triggers[%d] (%s): sha256 is not 64 hex digits", i, t.Name)
		}
		r.entries = append(r.entries, triggerEntry{hash: h, trigger: t})
	}
	return r, nil
}

// Lookup returns the trigger whose token is token. It hashes token and
// compares the hash with every trigger's in constant time, without
// stopping at a match, so that timing tells nothing about the tokens held.
func (r *Triggers) Lookup(token string) (store.Trigger, bool) {
	i := match(Sum(token), r.entries, func(e *triggerEntry) *Hash { return &e.hash })
	if i < 0 {
		return store.Trigger{}, false
	}
	return r.entries[i].trigger, true
}

// Len is the number of triggers r holds.
func (r *Triggers) Len() int { return len(r.entries) }
