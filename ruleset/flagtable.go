package ruleset

import (
	"hash/maphash"
	"maps"
)

// flagShards is the number of maps a table splits its entries over.
const flagShards = 256

// shardSeed seeds the hash that picks a key's shard.
var shardSeed = maphash.MakeSeed()

// table maps keys to values, split over flagShards maps by a hash of the
// key, so that a table made from another by changing a few keys copies
// the shard pointers and the few shards it writes to rather than the whole
// map: at 100,000 flags a copy of one map was 3 MB and 8–20 ms per
// environment and edit, in the syncer and in every bearer. It holds the
// compiled flags of a RuleSet (flagTable) and a Document's flags
// (FlagMap). A lookup hashes the key once more than a map would. The zero
// value is an empty table.
type table[V any] struct {
	shards [flagShards]map[string]*V
	// owned marks the shards this table may write: made by it, not
	// shared with the table it was copied from.
	owned [flagShards / 64]uint64
}

// flagTable maps flag keys to compiled flags.
type flagTable = table[flag]

// newFlagTable returns an empty table for about n flags (newTable).
func newFlagTable(n int) *flagTable { return newTable[flag](n) }

// newTable returns an empty table for about n entries: its shards sized
// beforehand when n is large (growing 256 maps cost a third more time
// and memory for a whole compilation of 100,000 flags), left to be made
// as written when it is small.
func newTable[V any](n int) *table[V] {
	t := &table[V]{}
	if n < 16*flagShards {
		return t
	}
	for i := range t.shards {
		t.shards[i] = make(map[string]*V, n/flagShards)
	}
	for i := range t.owned {
		t.owned[i] = ^uint64(0)
	}
	return t
}

func shardOf(key string) int { return int(maphash.String(shardSeed, key) % flagShards) }

// get returns the value of key, or nil.
func (t *table[V]) get(key string) *V { return t.shards[shardOf(key)][key] }

// set makes key's value v.
func (t *table[V]) set(key string, v *V) { t.own(shardOf(key))[key] = v }

// del removes key.
func (t *table[V]) del(key string) {
	i := shardOf(key)
	if _, ok := t.shards[i][key]; !ok {
		return
	}
	delete(t.own(i), key)
}

// own returns shard i, copied first if it is shared.
func (t *table[V]) own(i int) map[string]*V {
	word, bit := i/64, uint64(1)<<(i%64)
	if t.owned[word]&bit == 0 {
		t.shards[i] = maps.Clone(t.shards[i])
		if t.shards[i] == nil {
			t.shards[i] = map[string]*V{}
		}
		t.owned[word] |= bit
	}
	return t.shards[i]
}

// share returns a table with t's entries that shares t's shards until it
// writes to them. t must not be written to afterwards.
func (t *table[V]) share() *table[V] {
	return &table[V]{shards: t.shards}
}
