package bearer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkEncList fails unless l holds exactly want (sorted by key) in
// well-formed chunks, and finds each of keys as want does.
func checkEncList(t *testing.T, what string, l encList, want []*flagEnc, keys []string) {
	t.Helper()
	if got := slices.Collect(l.all()); !slices.Equal(got, want) || l.len() != len(want) {
		t.Fatalf("%s: %d encodings (len %d), want %d in order", what, len(got), l.len(), len(want))
	}
	last := ""
	for i, c := range l.chunks {
		if len(c) == 0 || len(c) > 2*encChunk {
			t.Fatalf("%s: chunk %d holds %d encodings", what, i, len(c))
		}
		if i > 0 && c[0].key <= last {
			t.Fatalf("%s: chunk %d starts at %s, not after %s", what, i, c[0].key, last)
		}
		last = c[len(c)-1].key
	}
	for _, k := range keys {
		var w *flagEnc
		if j, ok := slices.BinarySearchFunc(want, k, byKey); ok {
			w = want[j]
		}
		if g := l.get(k); g != w {
			t.Fatalf("%s: get(%s) = %p, want %p", what, k, g, w)
		}
	}
}

// A list made by with holds its base's encodings with the change applied,
// in chunks that stay sorted and bounded as edits grow, split and empty
// them, and leaves its base as it was: random edits compared with a
// sorted slice, every earlier version checked again at the end.
func TestEncListMatchesSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	const universe = 4000
	keys := make([]string, universe)
	for i := range keys {
		keys[i] = fmt.Sprintf("flag-%05d", i*7%universe) // not in key order
	}
	enc := func(k string) *flagEnc { return &flagEnc{key: k} }
	var start []*flagEnc
	for i := range 1200 {
		start = append(start, enc(fmt.Sprintf("flag-%05d", i*3)))
	}
	type version struct {
		l    encList
		want []*flagEnc
	}
	cur := version{newEncList(start), start}
	versions := []version{cur}
	apply := func(want []*flagEnc, set []*flagEnc, del []string) []*flagEnc {
		want = slices.Clone(want)
		for _, k := range del {
			if j, ok := slices.BinarySearchFunc(want, k, byKey); ok {
				want = slices.Delete(want, j, j+1)
			}
		}
		for _, f := range set {
			j, ok := slices.BinarySearchFunc(want, f.key, byKey)
			if ok {
				want[j] = f
			} else {
				want = slices.Insert(want, j, f)
			}
		}
		return want
	}
	for step := range 400 {
		var set []*flagEnc
		var del []string
		for range 1 + rng.IntN(60) {
			k := keys[rng.IntN(universe)]
			if step > 250 || rng.IntN(4) == 0 { // later steps mostly empty the list
				del = append(del, k)
			} else {
				set = append(set, enc(k))
			}
		}
		if step > 250 && step%10 == 0 { // empty whole ranges: chunks go
			lo := rng.IntN(universe)
			for i := lo; i < min(lo+600, universe); i++ {
				del = append(del, fmt.Sprintf("flag-%05d", i))
			}
		}
		// A key set twice in one edit keeps the last, as the state's
		// change never does but the list allows.
		next := version{cur.l.with(set, del), apply(cur.want, set, del)}
		checkEncList(t, fmt.Sprint("step ", step), next.l, next.want, keys)
		versions = append(versions, next)
		cur = next
	}
	for i, v := range versions {
		checkEncList(t, fmt.Sprint("version ", i, " at the end"), v.l, v.want, keys)
	}
	// The edits must have split chunks (only a split adds one to a list
	// that is not empty) and removed emptied ones.
	grew, shrank := false, false
	for i := 1; i < len(versions); i++ {
		was, is := len(versions[i-1].l.chunks), len(versions[i].l.chunks)
		grew = grew || is > was && was > 0
		shrank = shrank || is < was
	}
	if !grew || !shrank {
		t.Fatalf("chunks split: %v, removed: %v; the test no longer covers both", grew, shrank)
	}
	empty := encList{}.with([]*flagEnc{enc("a")}, []string{"b"})
	checkEncList(t, "the empty list set", empty, []*flagEnc{empty.get("a")}, []string{"a", "b"})
}
