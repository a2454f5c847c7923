package loader

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A load handed a scan (Cache.UseScan) fails with ErrChanged when the
// directory changed between the scan and the load, and otherwise loads
// what the scan saw.
func TestScanChangedBeforeLoad(t *testing.T) {
	write := func(t *testing.T, dir, rel, content string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(t *testing.T, dir, rel string) {
		t.Helper()
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			t.Fatal(err)
		}
	}
	const other = "key: other\ntype: boolean\nvariants: {on: true, off: false}\noff: \"off\"\ndefault: \"on\"\n"

	// changed: the load must fail with ErrChanged. With a warm cache the
	// files whose scanned hash is cached are not read at all, so an edit
	// of one of them goes unseen until the next revision, and the load is
	// the scanned content: that is right too.
	cases := []struct {
		name          string
		between       func(t *testing.T, dir string) // after the scan, before the load
		changed, warm bool
	}{
		{"nothing", func(*testing.T, string) {}, false, false},
		{"flag edited", func(t *testing.T, dir string) {
			write(t, dir, "flags/checkout.yaml", "key: checkout\ntype: boolean\nvariants: {on: true, off: false}\noff: \"off\"\ndefault: \"on\"\n")
		}, true, false},
		{"settings edited", func(t *testing.T, dir string) {
			write(t, dir, "flagpole.yaml", "version: 1\nenvironments: [production, staging]\n")
		}, true, false},
		// The load lists the directories the scan listed: a file added
		// since is the next revision's, and one removed since is read
		// (and missed) only when its hash is not cached.
		{"flag added", func(t *testing.T, dir string) { write(t, dir, "flags/other.yaml", other) }, false, false},
		{"flag removed", func(t *testing.T, dir string) { remove(t, dir, "flags/banner.yaml") }, true, false},
		{"override added", func(t *testing.T, dir string) {
			write(t, dir, "overrides/production/checkout.yaml", "flag: checkout\nenvironment: production\nserve: \"off\"\nreason: test\nby: oncall\nat: 2026-11-21T10:00:00Z\n")
		}, false, false},
		{"attributes removed", func(t *testing.T, dir string) { remove(t, dir, "attributes.yaml") }, true, false},
		{"edited and restored", func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, "flags", "checkout.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			write(t, dir, "flags/checkout.yaml", "key: checkout\n")
			write(t, dir, "flags/checkout.yaml", string(b))
		}, false, false},
		{"flag grown over the size limit", func(t *testing.T, dir string) {
			write(t, dir, "flags/checkout.yaml", "key: checkout\n# "+strings.Repeat("x", 4096)+"\n")
		}, true, false},
		{"file outside the layout", func(t *testing.T, dir string) { write(t, dir, "README.md", "notes\n") }, false, false},
	}
	files := map[string]string{
		"flagpole.yaml":                 "version: 1\nenvironments: [production]\n",
		"attributes.yaml":               "attributes:\n  - {name: plan, type: string}\n",
		"flags/checkout.yaml":           "key: checkout\ntype: boolean\nvariants: {on: true, off: false}\noff: \"off\"\ndefault: \"off\"\n",
		"flags/banner.yaml":             "key: banner\ntype: string\nvariants: {a: \"A\", b: \"B\"}\noff: a\ndefault: b\n",
		"overrides/production/.gitkeep": "",
	}
	// What the scan saw, loaded on its own.
	want, err := Load(writeRepo(t, files), Options{Revision: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		for _, warm := range []bool{false, true} {
			name := tc.name + map[bool]string{false: " (cold cache)", true: " (warm cache)"}[warm]
			t.Run(name, func(t *testing.T) {
				dir := writeRepo(t, files)
				cache := NewCache()
				if warm {
					cache.UseScan(scanFiles(t, dir))
					if _, err := Load(dir, Options{Revision: "r0", Cache: cache}); err != nil {
						t.Fatal(err)
					}
				}
				scan := scanFiles(t, dir)
				tc.between(t, dir)
				cache.UseScan(scan)
				repo, err := Load(dir, Options{Revision: "r1", Cache: cache, MaxFileSize: 2048})
				wantChanged := tc.changed && (!warm || tc.warm)
				if got := errors.Is(err, ErrChanged); got != wantChanged {
					t.Fatalf("load after %q: err %v, want ErrChanged %v", tc.name, err, wantChanged)
				}
				if wantChanged {
					// The next scan is the truth again, and loads.
					cache.UseScan(scanFiles(t, dir))
					// It loads (the oversized file is then a file error).
					_, err := Load(dir, Options{Revision: "r2", Cache: cache, MaxFileSize: 2048})
					if err != nil && (errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), "over the limit")) {
						t.Fatalf("load with a fresh scan: %v", err)
					}
					return
				}
				if msg := compareLoads(want, nil, repo, err); msg != "" {
					t.Fatalf("the load is not what the scan saw: %s", msg)
				}
			})
		}
	}
}

// With a scan, a cached file whose scanned hash is the cached one is not
// read, even when its metadata is too recent to vouch for it.
func TestScanLeavesCachedFilesUnread(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"flagpole.yaml":       "version: 1\nenvironments: [production]\n",
		"flags/checkout.yaml": "key: checkout\ntype: boolean\nvariants: {on: true, off: false}\noff: \"off\"\ndefault: \"off\"\n",
		"flags/banner.yaml":   "key: banner\ntype: string\nvariants: {a: \"A\", b: \"B\"}\noff: a\ndefault: b\n",
	})
	cache := NewCache()
	cache.UseScan(scanFiles(t, dir))
	if _, err := Load(dir, Options{Revision: "r0", Cache: cache}); err != nil {
		t.Fatal(err)
	}
	before := cache.unread
	cache.UseScan(scanFiles(t, dir))
	if _, err := Load(dir, Options{Revision: "r1", Cache: cache}); err != nil {
		t.Fatal(err)
	}
	if got := cache.unread - before; got != 3 {
		t.Errorf("%d files left unread, want all 3", got)
	}
}

// A Cache keeps no decoded form of a valid flag file whose checks it has
// cached (it decodes the file again if they must run again), but keeps
// those of flags with a schedule, checked at every load, and of files
// with problems.
func TestCacheReleasesDecodedFlags(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"flagpole.yaml":       "version: 1\nenvironments: [production]\n",
		"flags/checkout.yaml": "key: checkout\ntype: boolean\nvariants: {on: true, off: false}\noff: \"off\"\ndefault: \"off\"\n",
		"flags/banner.yaml":   "key: banner\ntype: string\nvariants: {a: \"A\", b: \"B\"}\noff: a\ndefault: b\n",
		"flags/winter.yaml":   "key: winter\nenabled: false\nschedule:\n  - {at: 2026-12-01T00:00:00Z, enabled: true}\n",
	})
	cache := NewCache()
	if _, err := Load(dir, Options{Revision: "r1", Cache: cache, Now: fixed(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))}); err != nil {
		t.Fatal(err)
	}
	for rel, e := range cache.files {
		_, isFlag := e.f.typed.(*flagYAML)
		switch {
		case rel == "flags/winter.yaml" && !isFlag:
			t.Errorf("%s: the decoded form of a scheduled flag was released", rel)
		case strings.HasPrefix(rel, "flags/") && rel != "flags/winter.yaml" && e.f.typed != nil:
			t.Errorf("%s: the decoded form is still held", rel)
		}
	}
}
