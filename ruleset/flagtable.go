package ruleset

import (
	"hash/maphash"
	"maps"
)

// flagShards is the number of maps a flagTable splits its flags over.
const flagShards = 256

// shardSeed seeds the hash that picks a key's shard.
var shardSeed = maphash.MakeSeed()

// flagTable maps flag keys to compiled flags, split over flagShards maps by
// a hash of the key, so that a rule set made from another by changing a
// few flags (CompileChanged) copies the table's shard pointers and the few
// shards it writes to rather than the whole map: at 100,000 flags a copy
// of one map was 3 MB and about 8 ms per environment and edit, in the
// syncer and in every bearer. A lookup hashes the key once more than a map
// would. The zero value is an empty table.
type flagTable struct {
	shards [flagShards]map[string]*flag
	// owned marks the shards this table may write: made by it, not
	// shared with the table it was copied from.
	owned [flagShards / 64]uint64
}

// newFlagTable returns an empty table for about n flags: its shards sized
// beforehand when n is large (growing 256 maps cost a third more time
// and memory for a whole compilation of 100,000 flags), left to be made
// as written when it is small.
func newFlagTable(n int) *flagTable {
	t := &flagTable{}
	if n < 16*flagShards {
		return t
	}
	for i := range t.shards {
		t.shards[i] = make(map[string]*flag, n/flagShards)
	}
	for i := range t.owned {
		t.owned[i] = ^uint64(0)
	}
	return t
}

func shardOf(key string) int { return int(maphash.String(shardSeed, key) % flagShards) }

// get returns the compiled flag key, or nil.
func (t *flagTable) get(key string) *flag { return t.shards[shardOf(key)][key] }

// set makes key's compiled flag f.
func (t *flagTable) set(key string, f *flag) { t.own(shardOf(key))[key] = f }

// del removes key.
func (t *flagTable) del(key string) {
	i := shardOf(key)
	if _, ok := t.shards[i][key]; !ok {
		return
	}
	delete(t.own(i), key)
}

// own returns shard i, copied first if it is shared.
func (t *flagTable) own(i int) map[string]*flag {
	word, bit := i/64, uint64(1)<<(i%64)
	if t.owned[word]&bit == 0 {
		t.shards[i] = maps.Clone(t.shards[i])
		if t.shards[i] == nil {
			t.shards[i] = map[string]*flag{}
		}
		t.owned[word] |= bit
	}
	return t.shards[i]
}

// share returns a table with t's flags that shares t's shards until it
// writes to them. t must not be written to afterwards.
func (t *flagTable) share() *flagTable {
	return &flagTable{shards: t.shards}
}
