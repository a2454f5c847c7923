package syncer

import (
	"bytes"
	"encoding/json"
	"reflect"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// keepUnchanged returns next with every snapshot whose environment has the
// same content in prev (flags, audiences, overrides, the rest of the
// document, keys and triggers) replaced by prev's: a commit that changes
// one environment's flags publishes that environment only, and the others
// keep their version. prev is the last good revision's snapshots (nil at
// first).
func keepUnchanged(prev, next []*store.Snapshot) []*store.Snapshot {
	if len(prev) == 0 {
		return next
	}
	old := make(map[string]*store.Snapshot, len(prev))
	for _, snap := range prev {
		old[snap.Environment] = snap
	}
	out := make([]*store.Snapshot, len(next))
	for i, snap := range next {
		out[i] = snap
		if o := old[snap.Environment]; o != nil && sameSnapshot(o, snap) {
			out[i] = o
		}
	}
	return out
}

// sameSnapshot reports whether a and b serve the same rule set to the same
// keys. Unchanged flags share their *Flag between loads (loader.Cache), so
// the comparison of the maps costs a pointer compare per entry.
func sameSnapshot(a, b *store.Snapshot) bool {
	if a.Document == nil || b.Document == nil || !reflect.DeepEqual(a.Keys, b.Keys) || !reflect.DeepEqual(a.Triggers, b.Triggers) {
		return false
	}
	if !b.Change.Diff(a.Document, b.Document).Empty() {
		return false
	}
	return bytes.Equal(docShell(a.Document), docShell(b.Document))
}

// docShell encodes the fields of doc other than its version, commit and
// entries, so that any other document field that changes counts.
func docShell(doc *ruleset.Document) []byte {
	d := *doc
	d.Version, d.Commit = "", ""
	d.Flags, d.Audiences, d.Overrides = ruleset.FlagMap{}, nil, nil
	b, err := json.Marshal(&d)
	if err != nil {
		return nil // never equal to a document that encodes
	}
	return b
}
