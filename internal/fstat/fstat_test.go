package fstat

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func keyOf(t *testing.T, p string) Key {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := Of(fi)
	if !ok {
		t.Skip("no file metadata on this system")
	}
	return k
}

// A rewrite that restores size and modification time still changes the
// key (the change time moves), and a file read within the margin of its
// last change is not trusted.
func TestUnchanged(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.yaml")
	if err := os.WriteFile(p, []byte("key: a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	was := keyOf(t, p)
	readAt := time.Now()
	if !Unchanged(was, keyOf(t, p), readAt, 0) {
		t.Error("an untouched file counts as changed")
	}
	if Unchanged(was, keyOf(t, p), readAt, time.Hour) {
		t.Error("a file changed within the margin before the read is trusted")
	}
	mtime := time.Unix(0, was.Mtime)
	if err := os.WriteFile(p, []byte("key: b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	now := keyOf(t, p)
	if now.Size != was.Size || now.Mtime != was.Mtime {
		t.Fatalf("setup: size or mtime differ: %+v vs %+v", now, was)
	}
	if now.Ctime == was.Ctime {
		t.Skip("change times coarser than this test's writes: only the margin protects here")
	}
	if Unchanged(was, now, time.Now(), 0) {
		t.Error("a same-size rewrite with the old modification time counts as unchanged")
	}
}
