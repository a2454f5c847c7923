package loader

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/flagpole/flagpole/internal/fstat"
)

// TestListingMatchesListScan checks that the listing a Cache patches from
// the last scan's is the one listScan makes of each new scan, over random
// sequences of paths added, removed and changed in kind, few and many at
// a time.
func TestListingMatchesListScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	kinds := []byte{fstat.KindFile, fstat.KindDir, fstat.KindLink, fstat.KindOther}
	dirs := []string{"", "flags", "audiences", "overrides", "overrides/production", "overrides/staging", "tests"}
	c := NewCache()
	scan := map[string]fstat.Scanned{".": {Kind: fstat.KindDir}}
	for step := range 300 {
		next := make(map[string]fstat.Scanned, len(scan))
		for rel, sc := range scan {
			next[rel] = sc
		}
		edits := 1 + rng.IntN(3)
		if step%25 == 0 {
			edits = 200 // more than the patch takes: listed afresh
		}
		for range edits {
			rel := fmt.Sprintf("%s/f%03d.yaml", dirs[rng.IntN(len(dirs))], rng.IntN(300))
			if rel[0] == '/' {
				rel = rel[1:]
			}
			switch rng.IntN(3) {
			case 0:
				delete(next, rel)
			default:
				next[rel] = fstat.Scanned{Kind: kinds[rng.IntN(len(kinds))]}
			}
		}
		scan = next
		c.listed = c.listing(scan, DefaultMaxFileSize)
		got, want := c.listed.children, listScan(scan)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: patched listing\n%v\nlistScan\n%v", step, got, want)
		}
	}
}
