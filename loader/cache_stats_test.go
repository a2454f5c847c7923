package loader

import (
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/flagpole/flagpole/internal/fstat"
)

// scanFiles walks dir as the directory source's scan does (directories,
// the lstat of every regular file and symbolic link, and each regular
// file's content hash; .git skipped), for Cache.UseScan.
func scanFiles(t testing.TB, dir string) map[string]fstat.Scanned {
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
	return files
}
