package source

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// runDir runs src until the test ends, giving each revision to fn on the
// source's goroutine; a source error fails the test.
func runDir(t *testing.T, src *Dir, fn func(Revision)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		_ = src.Run(ctx, func(_ context.Context, u Update) {
			if u.Err != nil {
				t.Errorf("source error: %v", u.Err)
				return
			}
			fn(u.Revision)
		})
	}()
}

// countHandler counts log records by message.
type countHandler struct {
	mu     sync.Mutex
	n      map[string]int
	notify chan string // if not nil, receives each message (dropped when full)
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n[r.Message]++
	if h.notify != nil {
		select {
		case h.notify <- r.Message:
		default:
		}
	}
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

func (h *countHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[msg]
}

// TestDirReadsOnlyChangedPaths runs a watched directory source through
// edits, a new directory and a removal: each revision must be that of a
// full scan, and none but the first may read the whole directory.
func TestDirReadsOnlyChangedPaths(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "flags", "a.yaml"), "v1")
	mustWrite(t, filepath.Join(root, "flags", "b.yaml"), "b")
	logs := &countHandler{n: map[string]int{}}
	src, err := NewDir(root, DirOptions{Settle: -1, Logger: slog.New(logs), Rescan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ids := make(chan string, 16)
	runDir(t, src, func(rev Revision) { ids <- rev.ID })
	// wait returns once a revision with the full scan's ID of the tree
	// is reported.
	wait := func(what string) {
		t.Helper()
		want, _, err := scanTree(root, &tree{})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.After(10 * time.Second)
		for {
			select {
			case id := <-ids:
				if id == want {
					return
				}
			case <-deadline:
				t.Fatalf("%s: no revision with the full scan's ID within 10 s", what)
			}
		}
	}
	wait("first revision")
	if logs.count("directory source: watch error; rescanning") > 0 {
		t.Skip("the watch overflowed")
	}
	mustWrite(t, filepath.Join(root, "flags", "a.yaml"), "v2")
	wait("edit")
	mustWrite(t, filepath.Join(root, "new", "deep", "c.yaml"), "c")
	wait("new directory")
	mustWrite(t, filepath.Join(root, "new", "deep", "d.yaml"), "d")
	wait("file in the new directory")
	if err := os.RemoveAll(filepath.Join(root, "new")); err != nil {
		t.Fatal(err)
	}
	wait("directory removed")
	tmp := filepath.Join(root, "flags", ".b.swp")
	mustWrite(t, tmp, "b2")
	if err := os.Rename(tmp, filepath.Join(root, "flags", "b.yaml")); err != nil {
		t.Fatal(err)
	}
	wait("rename-and-replace")
	if err := os.Rename(filepath.Join(root, "flags"), filepath.Join(root, "moved")); err != nil {
		t.Fatal(err)
	}
	wait("directory renamed")
	mustWrite(t, filepath.Join(root, "moved", "a.yaml"), "v3")
	wait("edit in the renamed directory")
	mustWrite(t, filepath.Join(root, "moved", "sub", "e.yaml"), "e")
	wait("new directory in the renamed directory")
	if n := logs.count("directory source: reading everything"); n != 1 {
		t.Errorf("%d full reads, want only the first", n)
	}
	if logs.count("directory source: reading changed paths") == 0 {
		t.Error("no incremental read")
	}
}

// TestDirRescansPeriodically checks that a watched directory is read whole
// again once Rescan has passed, at a poll tick, without any change.
func TestDirRescansPeriodically(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "a.yaml"), "v1")
	fc := clockwork.NewFakeClock()
	logs := &countHandler{n: map[string]int{}, notify: make(chan string, 64)}
	src, err := NewDir(root, DirOptions{Clock: fc, Poll: time.Second, Rescan: time.Minute, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	runDir(t, src, func(Revision) {})
	full := func(what string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case msg := <-logs.notify:
				if msg == "directory source: reading everything" {
					return
				}
			case <-deadline:
				t.Fatalf("%s: no full read within 10 s", what)
			}
		}
	}
	full("first read")
	// Move the clock a second at a time until the full read comes. Waiting
	// for one waiter and advancing 61 s at once raced the loop's set-up:
	// its debounce timer, created and stopped just before the poll ticker,
	// satisfied the wait, and the advance then happened before the ticker
	// existed (seen once in a loaded run).
	start := fc.Now()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fc.Advance(time.Second)
		select {
		case msg := <-logs.notify:
			if msg != "directory source: reading everything" {
				continue
			}
			if passed := fc.Since(start); passed < time.Minute {
				t.Fatalf("full read %s after the first, before Rescan (1 min)", passed)
			}
			return
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Rescan: no full read within 10 s (clock moved %s)", fc.Since(start))
		}
	}
}
