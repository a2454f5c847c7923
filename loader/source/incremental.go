package source

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/flagpole/flagpole/internal/fstat"
)

// update re-reads the given paths (slash, relative to t.root, not ".")
// and changes t's entries to what a full scan would now find, provided that
// every path changed since the entries were read is among them or under
// one of them: a file is read again (unless fstat says it is unchanged), a
// path gone is dropped with everything under it, a directory is walked
// afresh. It returns, as absolute paths, the directories walked (whose
// watches must be in place, and which are then walked once more) and the
// directories dropped. Files follows, and the paths whose entries went or
// came make a new state (tree.changed).
func (t *tree) update(paths []string, buf []byte) (walked, dropped []string, err error) {
	var touched []string
	defer func() {
		if len(touched) > 0 {
			t.changed(touched)
		}
	}()
	paths = slices.Clone(paths)
	slices.SortFunc(paths, comparePaths)
	paths = slices.Compact(paths)
	begin := time.Now()
	lastWalk := "" // the last directory walked
	for _, p := range paths {
		if lastWalk != "" && isUnder(p, lastWalk) {
			continue // read by its directory's walk
		}
		// A path under something other than a directory of the tree (a
		// .git directory, a link, a file) is not part of the tree.
		lo, hi := t.span(p)
		if dir := path.Dir(p); dir != "." {
			if e := t.find(dir); e == nil || e.kind != fstat.KindDir {
				dropped = append(dropped, t.drop(lo, hi, &touched)...)
				continue
			}
		}
		abs := filepath.Join(t.root, filepath.FromSlash(p))
		fi, err := os.Lstat(abs)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				dropped = append(dropped, t.drop(lo, hi, &touched)...)
				continue
			}
			return nil, nil, err
		}
		var prev *entry
		if lo < hi {
			prev = t.entries[lo]
		}
		var add []*entry
		switch {
		case fi.IsDir():
			if path.Base(p) == ".git" {
				break
			}
			sub, _, err := walkTree(t.root, abs, t.entries[lo:hi], buf)
			if err != nil {
				return nil, nil, err
			}
			walked = append(walked, abs)
			lastWalk = p
			add = sub
		case fi.Mode()&fs.ModeSymlink != 0:
			if e, ok := readLink(abs, p); ok {
				add = []*entry{e}
			}
		case fi.Mode().IsRegular():
			e, err := readFile(abs, p, fi, prev, begin, buf)
			if err != nil {
				return nil, nil, err
			}
			add = []*entry{e}
		default:
			add = []*entry{otherEntry(p, func() (fs.FileInfo, error) { return fi, nil })}
		}
		dropped = append(dropped, t.drop(lo, hi, &touched)...)
		t.entries = slices.Insert(t.entries, lo, add...)
		for _, e := range add {
			t.files[e.rel] = e.scanned()
			touched = append(touched, e.rel)
		}
	}
	return walked, dropped, nil
}

// span returns the index range of p and everything under it in t.entries
// (empty, at p's place, when p is absent).
func (t *tree) span(p string) (lo, hi int) {
	lo, _ = slices.BinarySearchFunc(t.entries, p, func(e *entry, p string) int { return comparePaths(e.rel, p) })
	hi = lo
	for hi < len(t.entries) && (t.entries[hi].rel == p || isUnder(t.entries[hi].rel, p)) {
		hi++
	}
	return lo, hi
}

// find returns the entry of p, or nil.
func (t *tree) find(p string) *entry {
	i, ok := slices.BinarySearchFunc(t.entries, p, func(e *entry, p string) int { return comparePaths(e.rel, p) })
	if !ok {
		return nil
	}
	return t.entries[i]
}

// drop removes t.entries[lo:hi], appending their paths to touched, and
// returns the directories among them, as absolute paths.
func (t *tree) drop(lo, hi int, touched *[]string) (dirs []string) {
	for _, e := range t.entries[lo:hi] {
		delete(t.files, e.rel)
		*touched = append(*touched, e.rel)
		if e.kind == fstat.KindDir {
			dirs = append(dirs, filepath.Join(t.root, filepath.FromSlash(e.rel)))
		}
	}
	t.entries = slices.Delete(t.entries, lo, hi)
	return dirs
}

// isUnder reports whether slash path p is strictly under dir.
func isUnder(p, dir string) bool {
	return len(p) > len(dir) && p[len(dir)] == '/' && strings.HasPrefix(p, dir)
}
