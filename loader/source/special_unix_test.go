//go:build unix

package source

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/flagpole/flagpole/internal/fstat"
)

// A pipe in the directory is part of the scan (fstat.KindOther), so that
// the loader, which lists directories from the scan, reports one named
// like a flag file; the full and the incremental scan agree on it.
func TestScanRecordsSpecialFiles(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "flags", "a.yaml"), "key: a\n")
	if err := syscall.Mkfifo(filepath.Join(root, "flags", "p.yaml"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	var tr tree
	id, _, err := scanTree(root, &tr)
	files := tr.files
	if err != nil {
		t.Fatal(err)
	}
	refID, refFiles := refScan(t, root)
	if id != refID || !sameStats(files, refFiles) {
		t.Fatalf("full scan with a pipe: ID %s, want %s; files %v", id, refID, files)
	}
	if sc := files["flags/p.yaml"]; sc.Kind != fstat.KindOther || sc.Info == nil {
		t.Fatalf("the pipe scanned as %+v, want KindOther with its lstat", sc)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "flags", "q.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tr.update([]string{"flags/q.yaml"}, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	gotID, gotFiles := sumEntries(tr.entries), tr.files
	refID, refFiles = refScan(t, root)
	if gotID != refID || !sameStats(gotFiles, refFiles) || gotFiles["flags/q.yaml"].Kind != fstat.KindOther {
		t.Fatalf("incremental scan of a new pipe: %v, want %v", gotFiles, refFiles)
	}
	if gotID == id {
		t.Fatal("a new pipe did not change the revision ID")
	}
}
