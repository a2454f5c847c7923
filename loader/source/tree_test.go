package source

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/fstat"
)

func TestComparePathsIsWalkOrder(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"a/b/c", "a.yaml", "a-b/x", "a/a", "ab", "b", "a/b.yaml", "a/b/d", "Z", "a b/c"} {
		mustWrite(t, filepath.Join(root, p), "x")
	}
	var walked []string
	filepath.WalkDir(root, func(p string, _ fs.DirEntry, _ error) error {
		rel, _ := filepath.Rel(root, p)
		walked = append(walked, filepath.ToSlash(rel))
		return nil
	})
	sorted := slices.Clone(walked)
	rand.Shuffle(len(sorted), func(i, j int) { sorted[i], sorted[j] = sorted[j], sorted[i] })
	slices.SortFunc(sorted, comparePaths)
	if !slices.Equal(sorted, walked) {
		t.Fatalf("sorted %q\nwalked %q", sorted, walked)
	}
}

// TestTreeUpdateMatchesFullScan applies random changes to a tree and, after
// each, re-reads only the paths the change touched (as a notification would
// name them): the revision ID and Stats must be those of a full scan.
func TestTreeUpdateMatchesFullScan(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	root := t.TempDir()
	names := []string{"a", "b", "a.yaml", "a-b", "c", ".git", "z"}
	randPath := func() string {
		n := 1 + rng.IntN(3)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = names[rng.IntN(len(names))]
		}
		p := path.Join(parts...)
		// Not through a link: a notification names the real path.
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if fi, err := os.Lstat(filepath.Join(root, d)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
				return "z"
			}
		}
		return p
	}
	// existing returns a random path of the tree (not the root), or "".
	existing := func(wantDir bool) string {
		var all []string
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && p != root && (!wantDir || d.IsDir()) {
				rel, _ := filepath.Rel(root, p)
				all = append(all, filepath.ToSlash(rel))
			}
			return nil
		})
		if len(all) == 0 {
			return ""
		}
		return all[rng.IntN(len(all))]
	}
	abs := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	old := time.Now().Add(-time.Hour).Truncate(time.Second)

	var tr tree
	if _, _, err := scanTree(root, &tr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	// states holds the last few states of tr.files, each with its number,
	// to check what tr.since says changed after them.
	type state struct {
		gen   uint64
		files map[string]fstat.Scanned
	}
	var states []state
	for step := 0; step < 400; step++ {
		states = append(states, state{tr.gen, maps.Clone(tr.files)})
		if len(states) > 8 {
			states = states[1:]
		}
		var touched []string
		var what string
		switch op := rng.IntN(9); op {
		case 0, 1: // create or overwrite a file, creating its directories
			p := randPath()
			what = "write " + p
			if err := os.MkdirAll(filepath.Dir(abs(p)), 0o755); err != nil {
				continue // a file is in the way
			}
			os.RemoveAll(abs(p))
			os.WriteFile(abs(p), []byte(fmt.Sprint(rng.IntN(5))), 0o644)
			// Notifications name each directory created and the file.
			for d := p; d != "."; d = path.Dir(d) {
				touched = append(touched, d)
			}
		case 2: // the same size and modification time, other content
			p := existing(false)
			fi, err := os.Lstat(abs(p))
			if p == "" || err != nil || !fi.Mode().IsRegular() {
				continue
			}
			what = "rewrite " + p
			os.Chtimes(abs(p), old, old)
			tr.update([]string{p}, buf) // known with an old mtime
			b, _ := os.ReadFile(abs(p))
			b[0] = byte('0' + rng.IntN(5))
			os.WriteFile(abs(p), b, 0o644)
			os.Chtimes(abs(p), old, old)
			touched = []string{p}
		case 3: // remove a file or a whole directory
			p := existing(rng.IntN(2) == 0)
			if p == "" {
				continue
			}
			what = "remove " + p
			os.RemoveAll(abs(p))
			touched = []string{p}
		case 4: // rename a directory or file
			p, q := existing(rng.IntN(2) == 0), randPath()
			if p == "" {
				continue
			}
			what = "rename " + p + " " + q
			if os.Rename(abs(p), abs(q)) != nil {
				continue
			}
			touched = []string{p, q}
		case 5: // a symbolic link, to anything
			p := randPath()
			what = "symlink " + p
			os.RemoveAll(abs(p))
			if os.Symlink(names[rng.IntN(len(names))], abs(p)) != nil {
				continue
			}
			touched = []string{p}
		case 6: // an empty directory
			p := randPath()
			what = "mkdir " + p
			if os.MkdirAll(abs(p), 0o755) != nil {
				continue
			}
			for d := p; d != "."; d = path.Dir(d) {
				touched = append(touched, d)
			}
		case 7: // a directory replaced by a file or the other way round
			p := existing(false)
			if p == "" {
				continue
			}
			what = "replace " + p
			fi, _ := os.Lstat(abs(p))
			os.RemoveAll(abs(p))
			if fi != nil && fi.IsDir() {
				os.WriteFile(abs(p), []byte("f"), 0o644)
			} else {
				mustWrite(t, filepath.Join(abs(p), "x", "y"), "y")
			}
			touched = []string{p}
		case 8: // several changes in one burst
			p, q := existing(false), existing(true)
			if p == "" || q == "" {
				continue
			}
			what = "burst " + p + " " + q
			os.RemoveAll(abs(p))
			os.RemoveAll(filepath.Join(abs(q), "n"))
			os.WriteFile(filepath.Join(abs(q), "n"), []byte("n"), 0o644) // q may be gone
			touched = []string{q + "/n", p}
		}
		if _, _, err := tr.update(touched, buf); err != nil {
			t.Fatalf("step %d (%s): update: %v", step, what, err)
		}
		gotID, gotStats := sumEntries(tr.entries), tr.files
		was := states[rng.IntN(len(states))]
		named, ok := tr.since(was.gen)
		if !ok {
			t.Fatalf("step %d (%s): since(state of %d steps before) does not know it", step, what, len(states))
		}
		for rel := range mergeKeys(was.files, gotStats) {
			if !sameStats(map[string]fstat.Scanned{rel: was.files[rel]}, map[string]fstat.Scanned{rel: gotStats[rel]}) && !slices.Contains(named, rel) {
				t.Fatalf("step %d (%s): %s changed since an earlier state, and since names only %q", step, what, rel, named)
			}
		}
		var ref tree
		wantID, _, err := scanTree(root, &ref)
		wantStats := ref.files
		if err != nil {
			t.Fatal(err)
		}
		refID, refStats := refScan(t, root)
		if wantID != refID || !sameStats(wantStats, refStats) {
			t.Fatalf("step %d (%s): scanTree's ID or Stats are not those of the reference scan", step, what)
		}
		if gotID != wantID || !sameStats(gotStats, wantStats) {
			var rels []string
			for _, e := range tr.entries {
				rels = append(rels, string(e.kind)+e.rel)
			}
			var full tree
			scanTree(root, &full)
			var wantRels []string
			for _, e := range full.entries {
				wantRels = append(wantRels, string(e.kind)+e.rel)
			}
			t.Fatalf("step %d (%s): incremental differs from a full scan\ngot  %q\nwant %q", step, what, rels, wantRels)
		}
	}
}

// mergeKeys returns the keys of a and b.
func mergeKeys(a, b map[string]fstat.Scanned) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

func sameStats(a, b map[string]fstat.Scanned) bool {
	if len(a) != len(b) {
		return false
	}
	for k, sa := range a {
		sb, ok := b[k]
		if !ok || sa.Kind != sb.Kind || sa.Sum != sb.Sum || sa.Target != sb.Target || (sa.Info == nil) != (sb.Info == nil) {
			return false
		}
		fa, fb := sa.Info, sb.Info
		if fa != nil && (!os.SameFile(fa, fb) || fa.Size() != fb.Size() || !fa.ModTime().Equal(fb.ModTime()) || fa.Mode() != fb.Mode()) {
			return false
		}
	}
	return true
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// refScan is the revision ID and Files as scanTree computed them before it
// kept entries (the format every revision ID so far has): the reference
// the entry-based scans must agree with.
func refScan(t *testing.T, root string) (string, map[string]fstat.Scanned) {
	t.Helper()
	stats := map[string]fstat.Scanned{}
	h := sha256.New()
	writeField := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			if d.Name() == ".git" && p != root {
				return filepath.SkipDir
			}
			stats[rel] = fstat.Scanned{Kind: fstat.KindDir}
			writeField([]byte("d" + rel))
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return nil
			}
			sc := fstat.Scanned{Kind: fstat.KindLink, Target: target}
			if info, err := d.Info(); err == nil {
				sc.Info = info
			}
			stats[rel] = sc
			writeField([]byte("l" + rel))
			writeField([]byte(target))
		case d.Type().IsRegular():
			writeField([]byte("f" + rel))
			sc := fstat.Scanned{Kind: fstat.KindFile}
			if info, err := d.Info(); err == nil {
				sc.Info = info
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sc.Sum = sha256.Sum256(b)
			stats[rel] = sc
			writeField(sc.Sum[:])
		default: // a pipe, socket or device
			sc := fstat.Scanned{Kind: fstat.KindOther}
			if info, err := d.Info(); err == nil {
				sc.Info = info
			}
			stats[rel] = sc
			writeField([]byte("o" + rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), stats
}
