package loader

import (
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flagpole/flagpole/internal/fstat"
)

// scanFiles walks dir as the directory source's scan does (directories,
// the lstat of every regular file and symbolic link, and each regular
// file's content hash; .git skipped), for Cache.UseScan.
func scanFiles(t testing.TB, dir string) *fstat.Scan {
	t.Helper()
	files := map[string]fstat.Scanned{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		sc := fstat.Scanned{}
		switch {
		case d.IsDir():
			if d.Name() == ".git" && p != dir {
				return filepath.SkipDir
			}
			sc.Kind = fstat.KindDir
		case d.Type()&fs.ModeSymlink != 0:
			sc.Kind = fstat.KindLink
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			sc.Target = target
		case d.Type().IsRegular():
			sc.Kind = fstat.KindFile
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sc.Sum = sha256.Sum256(b)
		default:
			sc.Kind = fstat.KindOther
		}
		if sc.Kind != fstat.KindDir {
			if info, err := d.Info(); err == nil {
				sc.Info = info
			}
		}
		files[rel] = sc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fstat.Scan{Files: files}
}

// scanner numbers the scans it makes of a directory (scanFiles) and names
// the paths changed since each of them, as the directory source does
// (fstat.Scan.Since): every path whose entry differs, found by comparing
// the two scans whole.
type scanner struct {
	states []map[string]fstat.Scanned // scan i is numbered i+1
}

func (s *scanner) scan(t testing.TB, dir string) *fstat.Scan {
	sc := scanFiles(t, dir)
	s.states = append(s.states, sc.Files)
	sc.Gen = uint64(len(s.states))
	states := s.states
	sc.Since = func(gen uint64) ([]string, bool) {
		if gen == 0 || gen > uint64(len(states)) {
			return nil, false
		}
		old := states[gen-1]
		var paths []string
		for rel, a := range sc.Files {
			if b, ok := old[rel]; !ok || !sameScanned(a, b) {
				paths = append(paths, rel)
			}
		}
		for rel := range old {
			if _, ok := sc.Files[rel]; !ok {
				paths = append(paths, rel)
			}
		}
		slices.Sort(paths)
		return paths, true
	}
	return sc
}

// sameScanned reports whether a and b are the same entry: kind, content,
// link target, and the same file with the same size, mode and
// modification time.
func sameScanned(a, b fstat.Scanned) bool {
	if a.Kind != b.Kind || a.Sum != b.Sum || a.Target != b.Target || (a.Info == nil) != (b.Info == nil) {
		return false
	}
	return a.Info == nil || (os.SameFile(a.Info, b.Info) && a.Info.Size() == b.Info.Size() &&
		a.Info.Mode() == b.Info.Mode() && a.Info.ModTime().Equal(b.Info.ModTime()))
}
