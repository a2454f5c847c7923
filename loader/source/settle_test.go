package source

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// settleRun writes "v1" to a file in a new directory, runs a directory
// source on it with a fake clock and returns the file's path, the clock and
// a channel of the file's content at each reported revision.
func settleRun(t *testing.T) (string, *clockwork.FakeClock, <-chan string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "flag.yaml")
	if err := os.WriteFile(path, []byte("v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fc := clockwork.NewFakeClock()
	src, err := NewDir(dir, DirOptions{Clock: fc, Debounce: 10 * time.Millisecond, Settle: 500 * time.Millisecond, Poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 16)
	runDir(t, src, func(rev Revision) {
		b, _ := os.ReadFile(filepath.Join(rev.Dir, "flag.yaml"))
		got <- string(b)
	})
	if first := next(t, got); first != "v1\n" {
		t.Fatalf("first revision %q, want v1", first)
	}
	return path, fc, got
}

func next(t *testing.T, got <-chan string) string {
	t.Helper()
	select {
	case s := <-got:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no revision within 10 s")
		return ""
	}
}

// armed waits until the source has seen a change: the poll ticker and the
// debounce timer are both waiting on the fake clock.
func armed(t *testing.T, fc *clockwork.FakeClock) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fc.BlockUntilContext(ctx, 2); err != nil {
		t.Fatal("the source did not see the change within 10 s")
	}
}

// TestDirSettlesInPlaceWrites rewrites a file in place in two chunks 300 ms
// apart: only the complete file may be reported.
func TestDirSettlesInPlaceWrites(t *testing.T) {
	path, fc, got := settleRun(t)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("v2 first half\n"); err != nil {
		t.Fatal(err)
	}
	armed(t, fc)
	fc.Advance(300 * time.Millisecond) // the debounce fires
	// The source must wait again rather than read the half-written file.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waiting := make(chan error, 1)
	go func() { waiting <- fc.BlockUntilContext(ctx, 2) }()
	select {
	case s := <-got:
		t.Fatalf("reported %q between the two chunks", s)
	case err := <-waiting:
		if err != nil {
			t.Fatal("the source neither waited again nor reported within 10 s")
		}
	}
	if _, err := f.WriteString("v2 second half\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case s := <-got:
			if s != "v2 first half\nv2 second half\n" {
				t.Fatalf("reported %q, want the complete file", s)
			}
			return
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the complete file was not reported within 10 s")
		}
		fc.Advance(50 * time.Millisecond)
	}
}

// TestDirRenameIsReadAtOnce renames a complete file into place: it is
// reported after the debounce, without waiting to settle.
func TestDirRenameIsReadAtOnce(t *testing.T) {
	path, fc, got := settleRun(t)
	tmp := filepath.Join(t.TempDir(), "flag.yaml.tmp")
	if err := os.WriteFile(tmp, []byte("v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	armed(t, fc)
	fc.Advance(10 * time.Millisecond)
	if s := next(t, got); s != "v2\n" {
		t.Fatalf("reported %q, want v2", s)
	}
}
