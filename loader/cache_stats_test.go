package loader

import (
	"io/fs"
	"path/filepath"
	"testing"
)

// scanStats walks dir as the directory source's scan does (lstat of every
// regular file and symbolic link, .git skipped), for Cache.UseStats.
func scanStats(t *testing.T, dir string) map[string]fs.FileInfo {
	t.Helper()
	stats := map[string]fs.FileInfo{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != dir {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0 {
			if info, err := d.Info(); err == nil {
				rel, _ := filepath.Rel(dir, p)
				stats[filepath.ToSlash(rel)] = info
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return stats
}
