package bearer

import (
	"iter"
	"slices"
	"sort"
	"strings"
)

// encChunk is how many encodings an encList chunk holds when made whole;
// a chunk that edits grow past twice that is split.
const encChunk = 512

// encList is every flag's encodings, sorted by key, split into chunks so
// that a list made from another by a few changes (with) copies the chunk
// pointers and the chunks it writes. A sorted slice of every encoding was
// copied whole per environment and edit: at 100,000 flags 0.8 MB and about
// 3 ms, most of what a bearer's load of a one-flag patch still did. The
// zero value is empty; a list is not changed once made.
type encList struct {
	chunks [][]*flagEnc // each sorted and not empty; in key order
	n      int
}

// newEncList returns a list of sorted (encodings in key order), whose
// array it keeps.
func newEncList(sorted []*flagEnc) encList {
	l := encList{n: len(sorted)}
	for len(sorted) > 0 {
		n := min(encChunk, len(sorted))
		l.chunks = append(l.chunks, sorted[:n:n])
		sorted = sorted[n:]
	}
	return l
}

// len returns the number of encodings.
func (l encList) len() int { return l.n }

// all yields the encodings in key order.
func (l encList) all() iter.Seq[*flagEnc] {
	return func(yield func(*flagEnc) bool) {
		for _, c := range l.chunks {
			for _, f := range c {
				if !yield(f) {
					return
				}
			}
		}
	}
}

// chunkFor returns the index of the chunk that holds key or would hold
// it: the first whose last key is not below key, else the last chunk.
func (l encList) chunkFor(key string) int {
	i := sort.Search(len(l.chunks), func(i int) bool {
		c := l.chunks[i]
		return c[len(c)-1].key >= key
	})
	return min(i, len(l.chunks)-1)
}

// get returns the encodings of the flag key, or nil.
func (l encList) get(key string) *flagEnc {
	if len(l.chunks) == 0 {
		return nil
	}
	c := l.chunks[l.chunkFor(key)]
	if j, ok := slices.BinarySearchFunc(c, key, byKey); ok {
		return c[j]
	}
	return nil
}

// with returns l with f set (replacing the encodings of the same key, or
// added) for each f in set and the keys in del removed. l is not changed:
// the result shares every chunk it does not write.
func (l encList) with(set []*flagEnc, del []string) encList {
	if len(set) == 0 && len(del) == 0 {
		return l
	}
	out := encList{chunks: slices.Clone(l.chunks), n: l.n}
	for _, key := range del {
		if len(out.chunks) == 0 {
			break
		}
		i := out.chunkFor(key)
		j, ok := slices.BinarySearchFunc(out.chunks[i], key, byKey)
		if !ok {
			continue
		}
		c := slices.Delete(slices.Clone(out.chunks[i]), j, j+1)
		if len(c) == 0 {
			out.chunks = slices.Delete(out.chunks, i, i+1)
		} else {
			out.chunks[i] = c
		}
		out.n--
	}
	for _, f := range set {
		if len(out.chunks) == 0 {
			out.chunks = [][]*flagEnc{{f}}
			out.n++
			continue
		}
		i := out.chunkFor(f.key)
		c := out.chunks[i]
		j, ok := slices.BinarySearchFunc(c, f.key, byKey)
		if ok {
			c = slices.Clone(c)
			c[j] = f
			out.chunks[i] = c
			continue
		}
		c = slices.Insert(slices.Clip(slices.Clone(c)), j, f)
		out.n++
		if len(c) <= 2*encChunk {
			out.chunks[i] = c
			continue
		}
		half := len(c) / 2
		out.chunks = slices.Insert(out.chunks, i+1, c[half:])
		out.chunks[i] = c[:half:half]
	}
	return out
}

// byKey orders encodings by key.
func byKey(f *flagEnc, key string) int { return strings.Compare(f.key, key) }
