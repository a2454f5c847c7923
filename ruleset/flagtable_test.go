package ruleset

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

// A table shared from another (share) and written to leaves the other as
// it was: random sets and deletes on a chain of shares, each compared with
// a plain map after every step, and every earlier table with its own.
func TestFlagTableShares(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	type version struct {
		t    *flagTable
		want map[string]*flag
	}
	cur := version{&flagTable{}, map[string]*flag{}}
	var old []version
	for step := range 2000 {
		if step%50 == 0 {
			old = append(old, cur)
			cur = version{cur.t.share(), maps.Clone(cur.want)}
		}
		key := fmt.Sprint("flag-", rng.IntN(3000))
		if rng.IntN(3) == 0 {
			cur.t.del(key)
			delete(cur.want, key)
		} else {
			f := &flag{key: key}
			cur.t.set(key, f)
			cur.want[key] = f
		}
	}
	for i, v := range append(old, cur) {
		n := 0
		for _, m := range v.t.shards {
			n += len(m)
		}
		if n != len(v.want) {
			t.Fatalf("version %d: %d flags, want %d", i, n, len(v.want))
		}
		for k := range 3000 {
			key := fmt.Sprint("flag-", k)
			if got := v.t.get(key); got != v.want[key] {
				t.Fatalf("version %d: %s = %p, want %p", i, key, got, v.want[key])
			}
		}
	}
}
