package source

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/fstat"
)

// BenchmarkDirOneFileChange10k reads a directory of 10,000 files (100
// directories of 100) after a one-file edit: the whole tree (full) or only
// the path the notification names (incremental), as dirRun does.
func BenchmarkDirOneFileChange10k(b *testing.B) {
	root := b.TempDir()
	for d := range 100 {
		dir := filepath.Join(root, "flags", fmt.Sprintf("team-%02d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("flag-%03d.yaml", f)), []byte("key: value\n"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Files changed within fstat.Margin of a read are read again by every
	// scan; a repository's files are older than that.
	time.Sleep(fstat.Margin + 100*time.Millisecond)
	for _, mode := range []string{"full", "incremental"} {
		b.Run(mode, func(b *testing.B) {
			var tr tree
			if _, _, err := scanTree(root, &tr); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 32<<10)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				rel := fmt.Sprintf("flags/team-%02d/flag-%03d.yaml", i%100, (i/100)%100)
				if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(rel)), []byte(fmt.Sprintf("key: %d\n", i)), 0o644); err != nil {
					b.Fatal(err)
				}
				var id string
				if mode == "full" {
					var err error
					if id, _, err = scanTree(root, &tr); err != nil {
						b.Fatal(err)
					}
				} else {
					if _, _, err := tr.update([]string{rel}, buf); err != nil {
						b.Fatal(err)
					}
					id = sumEntries(tr.entries)
				}
				if len(id) != 64 {
					b.Fatal("no ID")
				}
			}
		})
	}
}

// BenchmarkSumEntries100k measures the revision ID of 100,000 files, the
// part of a one-file change that is still in proportion to the tree.
func BenchmarkSumEntries100k(b *testing.B) {
	entries := []*entry{{rel: ".", kind: fstat.KindDir}, {rel: "flags", kind: fstat.KindDir}}
	for i := range 100000 {
		e := &entry{rel: fmt.Sprintf("flags/gen-flag-%05d.yaml", i), kind: fstat.KindFile}
		e.sum[0], e.sum[1] = byte(i), byte(i>>8)
		entries = append(entries, e)
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(sumEntries(entries)) != 64 {
			b.Fatal("no ID")
		}
	}
}
