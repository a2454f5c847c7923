package source_test

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/fstat"
	"github.com/flagpole/flagpole/loader/source"
)

// eventually bounds asynchronous effects; generous for a loaded machine.
const eventually = 10 * time.Second

// runSource runs src until the test ends and returns its updates. Revision
// directories are read inside the callback, as the syncer does.
type seen struct {
	Update source.Update
	Files  map[string]string // relative path → content, read during the callback
}

func runSource(t *testing.T, src source.Source) <-chan seen {
	t.Helper()
	ch := make(chan seen, 100)
	runWith(t, src, func(u source.Update) {
		s := seen{Update: u}
		if u.Err == nil {
			s.Files = readTree(t, u.Revision.Dir)
		}
		ch <- s
	})
	return ch
}

// runWith runs src until the test ends, giving each update to fn on the
// source's goroutine.
func runWith(t *testing.T, src source.Source, fn func(source.Update)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(_ context.Context, u source.Update) { fn(u) })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func readTree(t *testing.T, root string) map[string]string {
	files := map[string]string{}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.IsDir() && d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		b, _ := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	return files
}

// next waits for an update that satisfies ok, skipping others.
func next(t *testing.T, ch <-chan seen, what string, ok func(seen) bool) seen {
	t.Helper()
	deadline := time.After(eventually)
	for {
		select {
		case s := <-ch:
			if ok(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func hasFile(name, content string) func(seen) bool {
	return func(s seen) bool { return s.Update.Err == nil && s.Files[name] == content }
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDirSource(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts source.DirOptions
	}{
		{"fsnotify", source.DirOptions{}},
		{"polling", source.DirOptions{PollOnly: true, Poll: 20 * time.Millisecond}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "repo")
			write(t, filepath.Join(root, "flags", "a.yaml"), "v1")
			src, err := source.NewDir(root, mode.opts)
			if err != nil {
				t.Fatal(err)
			}
			ch := runSource(t, src)
			first := next(t, ch, "initial revision", hasFile("flags/a.yaml", "v1"))
			if len(first.Update.Revision.ID) != 64 || first.Update.Revision.Dir != root {
				t.Fatalf("revision = %+v", first.Update.Revision)
			}
			ids := map[string]bool{first.Update.Revision.ID: true}
			step := func(what string, change func(), ok func(seen) bool) {
				t.Helper()
				change()
				s := next(t, ch, what, ok)
				if ids[s.Update.Revision.ID] {
					t.Fatalf("%s: reused revision ID %s", what, s.Update.Revision.ID)
				}
				ids[s.Update.Revision.ID] = true
			}

			step("edit in place", func() { write(t, filepath.Join(root, "flags", "a.yaml"), "v2") }, hasFile("flags/a.yaml", "v2"))
			step("rename-and-replace save", func() {
				tmp := filepath.Join(root, "flags", ".a.yaml.swp")
				write(t, tmp, "v3")
				if err := os.Rename(tmp, filepath.Join(root, "flags", "a.yaml")); err != nil {
					t.Fatal(err)
				}
			}, hasFile("flags/a.yaml", "v3"))
			step("directory created later", func() {
				write(t, filepath.Join(root, "overrides", "production", "a.yaml"), "o1")
			}, hasFile("overrides/production/a.yaml", "o1"))
			step("file in the new directory", func() {
				write(t, filepath.Join(root, "overrides", "production", "a.yaml"), "o2")
			}, hasFile("overrides/production/a.yaml", "o2"))
			step("directory removed and re-created", func() {
				if err := os.RemoveAll(filepath.Join(root, "overrides")); err != nil {
					t.Fatal(err)
				}
				write(t, filepath.Join(root, "overrides", "staging", "b.yaml"), "s1")
			}, hasFile("overrides/staging/b.yaml", "s1"))

			// The whole root goes away: an error, then recovery.
			if err := os.RemoveAll(root); err != nil {
				t.Fatal(err)
			}
			bad := next(t, ch, "error for the missing root", func(s seen) bool { return s.Update.Err != nil })
			if !strings.Contains(bad.Update.Err.Error(), root) {
				t.Errorf("error %q does not name the directory", bad.Update.Err)
			}
			step("root re-created", func() { write(t, filepath.Join(root, "flags", "a.yaml"), "v4") }, hasFile("flags/a.yaml", "v4"))
			step("edit after re-creation", func() { write(t, filepath.Join(root, "flags", "a.yaml"), "v5") }, hasFile("flags/a.yaml", "v5"))
		})
	}
}

func TestDirSourceIgnoresNoOpsAndGit(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "flags", "a.yaml"), "v1")
	src, err := source.NewDir(root, source.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ch := runSource(t, src)
	next(t, ch, "initial revision", hasFile("flags/a.yaml", "v1"))
	// Same content rewritten (atomically, so that no scan can see it half
	// written), a chmod, a change inside .git, a trigger: none is a new
	// revision.
	tmp := filepath.Join(t.TempDir(), "a.yaml")
	write(t, tmp, "v1")
	if err := os.Rename(tmp, filepath.Join(root, "flags", "a.yaml")); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(root, "flags", "a.yaml"), 0o600)
	write(t, filepath.Join(root, ".git", "HEAD"), "ref: refs/heads/main")
	src.Trigger()
	// A real change afterwards (atomic too) must be the very next update.
	write(t, tmp, "v2")
	if err := os.Rename(tmp, filepath.Join(root, "flags", "a.yaml")); err != nil {
		t.Fatal(err)
	}
	s := next(t, ch, "next update", func(seen) bool { return true })
	if s.Update.Err != nil || s.Files["flags/a.yaml"] != "v2" {
		t.Fatalf("next update = %+v, want the v2 revision (no-ops must not produce revisions)", s)
	}
}

func TestDirSourceSymlinkedRoot(t *testing.T) {
	base := t.TempDir()
	v1, v2 := filepath.Join(base, "release-1"), filepath.Join(base, "release-2")
	write(t, filepath.Join(v1, "flags", "a.yaml"), "r1")
	write(t, filepath.Join(v2, "flags", "a.yaml"), "r2")
	link := filepath.Join(base, "current")
	if err := os.Symlink(v1, link); err != nil {
		t.Fatal(err)
	}
	src, err := source.NewDir(link, source.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ch := runSource(t, src)
	s := next(t, ch, "revision through the link", hasFile("flags/a.yaml", "r1"))
	if s.Update.Revision.Dir != v1 {
		t.Errorf("Dir = %s, want the resolved %s", s.Update.Revision.Dir, v1)
	}
	write(t, filepath.Join(v1, "flags", "a.yaml"), "r1b")
	next(t, ch, "edit behind the link", hasFile("flags/a.yaml", "r1b"))
	// Swap the link atomically, as deploy tools and Kubernetes do.
	tmp := filepath.Join(base, "current.tmp")
	if err := os.Symlink(v2, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	next(t, ch, "swapped link", hasFile("flags/a.yaml", "r2"))
	write(t, filepath.Join(v2, "flags", "a.yaml"), "r2b")
	next(t, ch, "edit in the new target", hasFile("flags/a.yaml", "r2b"))
}

// A receiver that could not use a revision (the directory changed after
// the scan) calls Retry: the source reads the directory again and reports
// it even when the ID comes out the same, as after a file changed and was
// changed back. A revision carries its scan: each file's content hash.
func TestDirSourceRetry(t *testing.T) {
	root := filepath.Join(t.TempDir(), "repo")
	a := filepath.Join(root, "flags", "a.yaml")
	write(t, a, "v1")
	src, err := source.NewDir(root, source.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids := make(chan string, 10)
	calls := 0
	runWith(t, src, func(u source.Update) {
		if u.Err != nil {
			t.Errorf("update error: %v", u.Err)
			return
		}
		calls++
		if sc := u.Revision.Files.Files["flags/a.yaml"]; sc.Kind != fstat.KindFile || sc.Sum != sha256.Sum256([]byte("v1")) {
			t.Errorf("revision %d: Files[flags/a.yaml] = %+v, want the hash of v1", calls, sc)
		}
		if calls == 1 {
			// As the syncer does on loader.ErrChanged: the file changed
			// after the scan (and changed back, so no new ID follows).
			write(t, a, "v2")
			write(t, a, "v1")
			u.Revision.Retry()
		}
		ids <- u.Revision.ID
	})
	var got []string
	for len(got) < 2 {
		select {
		case id := <-ids:
			got = append(got, id)
		case <-time.After(eventually):
			t.Fatalf("reports %q: no second report of the same revision after Retry", got)
		}
	}
	if got[0] != got[1] {
		t.Errorf("reports %q: want the same revision twice", got)
	}
}
