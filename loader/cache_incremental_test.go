package loader

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/flagpole/flagpole/internal/fstat"
)

// TestListingMatchesListScan checks that the listing a Cache patches from
// the last scan's is the one listScan makes of each new scan, over random
// sequences of paths added, removed and changed in kind, few and many at
// a time, with scans that name the paths changed since an earlier one
// (more than changed, at times) and scans that do not know.
func TestListingMatchesListScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	kinds := []byte{fstat.KindFile, fstat.KindDir, fstat.KindLink, fstat.KindOther}
	dirs := []string{"", "flags", "audiences", "overrides", "overrides/production", "overrides/staging", "tests"}
	c := NewCache()
	scan := map[string]fstat.Scanned{".": {Kind: fstat.KindDir}}
	// touched[i] is what scan i+1 changed of scan i (numbered from 1).
	var touched [][]string
	since := func(gen uint64) ([]string, bool) {
		if gen == 0 || gen > uint64(len(touched))+1 || rng.IntN(10) == 0 {
			return nil, false
		}
		var paths []string
		for _, t := range touched[gen-1:] {
			paths = append(paths, t...)
		}
		slices.Sort(paths)
		return slices.Compact(paths), true
	}
	for step := range 300 {
		next := make(map[string]fstat.Scanned, len(scan))
		for rel, sc := range scan {
			next[rel] = sc
		}
		edits := 1 + rng.IntN(3)
		if step%25 == 0 {
			edits = 200 // more than the patch takes: listed afresh
		}
		var named []string
		for range edits {
			rel := fmt.Sprintf("%s/f%03d.yaml", dirs[rng.IntN(len(dirs))], rng.IntN(300))
			if rel[0] == '/' {
				rel = rel[1:]
			}
			named = append(named, rel)
			switch rng.IntN(4) {
			case 0:
				delete(next, rel)
			case 1: // named, not changed
			default:
				next[rel] = fstat.Scanned{Kind: kinds[rng.IntN(len(kinds))]}
			}
		}
		scan = next
		touched = append(touched, named)
		c.listed = c.listing(&fstat.Scan{Files: scan, Gen: uint64(len(touched)) + 1, Since: since}, DefaultMaxFileSize)
		got, want := c.listed.children, listScan(scan)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: patched listing\n%v\nlistScan\n%v", step, got, want)
		}
	}
}

// The load after a cold one takes every unchanged file from the listing of
// the scan (dirEntry.last) rather than looking each up: the cold load's
// parsed files leave their entries as a load reusing them would.
func TestFirstLoadAfterColdReusesTheListing(t *testing.T) {
	dir := t.TempDir()
	generateRepo(t, dir, 60, 5)
	c := NewCache()
	var scans scanner
	load := func() {
		t.Helper()
		c.UseScan(scans.scan(t, dir))
		if _, err := Load(dir, Options{Cache: c, Revision: "r"}); err != nil {
			t.Fatalf("%.2000v", err)
		}
	}
	load()
	if c.listedReuse != 0 {
		t.Fatalf("a cold load reused %d files from a listing", c.listedReuse)
	}
	p := filepath.Join(dir, "flags", "flag-00007.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(b, "description: edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	load()
	if want := 60 + 5 - 1; c.listedReuse != want {
		t.Errorf("the first load after the cold one reused %d files from the listing, want the %d unchanged flags and audiences", c.listedReuse, want)
	}
}
