//go:build unix

package loader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A load handed a scan lists the directories from it: what it reports
// about the layout (ignored files and directories, a pipe where a flag
// file should be) is what a load that lists them itself reports.
func TestScanListingReportsWhatAListingDoes(t *testing.T) {
	files := map[string]string{
		"flagpole.yaml":                      "version: 1\nenvironments: [production]\n",
		"flags/checkout.yaml":                "key: checkout\ntype: boolean\nvariants: {on: true, off: false}\noff: \"off\"\ndefault: \"off\"\n",
		"flags/README.md":                    "notes\n",
		"flags/.draft.yaml":                  "not: read\n",
		"flags/old/banner.yaml":              "key: banner\n",
		"audiences/beta.yaml":                "key: beta\nconditions:\n  - {attribute: plan, operator: in, values: [pro]}\n",
		"attributes.yaml":                    "attributes:\n  - {name: plan, type: string}\n",
		"overrides/production/checkout.yaml": "flag: checkout\nenvironment: production\nserve: \"on\"\nreason: test\nby: oncall\nat: 2026-11-21T10:00:00Z\n",
		"overrides/notes.txt":                "an override file must be in an environment's directory\n",
		"overrides/staging/.gitkeep":         "",
		"overrides/production/notes.txt":     "not YAML\n",
	}
	for _, pipe := range []bool{false, true} {
		dir := writeRepo(t, files)
		if pipe {
			if err := syscall.Mkfifo(filepath.Join(dir, "flags", "pipe.yaml"), 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}
		want, werr := Load(dir, Options{Revision: "r1"})
		cache := NewCache()
		cache.UseScan(scanFiles(t, dir))
		got, gerr := Load(dir, Options{Revision: "r1", Cache: cache})
		if msg := compareLoads(want, werr, got, gerr); msg != "" {
			t.Fatalf("pipe %v: %s", pipe, msg)
		}
		if pipe && (gerr == nil || !strings.Contains(gerr.Error(), "flags/pipe.yaml") || !strings.Contains(gerr.Error(), "not a regular file")) {
			t.Fatalf("a pipe named like a flag file: %v, want an error naming it", gerr)
		}
		if !pipe {
			if gerr != nil {
				t.Fatal(gerr)
			}
			if n := len(got.Warnings); n < 4 {
				t.Fatalf("%d warnings, want the ignored files and directory reported: %v", n, got.Warnings)
			}
		}
	}
}

// A path the scan found a file (or a link) at and that holds something
// else when the load reads it is a change (ErrChanged, so that the syncer
// loads the next revision), never an I/O failure or a wait: a directory,
// a pipe (whose blocking open would wait for a writer forever), a file
// where a directory was, a link pointed elsewhere.
func TestScanPathReplacedBeforeLoad(t *testing.T) {
	const checkout = "key: checkout\ntype: boolean\nvariants: {on: true, off: false}\noff: \"off\"\ndefault: \"off\"\n"
	base := map[string]string{
		"flagpole.yaml":       "version: 1\nenvironments: [production]\n",
		"flags/banner.yaml":   "key: banner\ntype: string\nvariants: {a: \"A\", b: \"B\"}\noff: a\ndefault: b\n",
		"flags/checkout.yaml": checkout,
		"tests/v1/promo.yaml": "key: promo\ntype: boolean\nvariants: {on: true, off: false}\noff: \"off\"\ndefault: \"off\"\n",
		"tests/v2/promo.yaml": "key: promo\ntype: boolean\nvariants: {on: true, off: false}\noff: \"off\"\ndefault: \"on\"\n",
	}
	replace := map[string]func(t *testing.T, dir string){
		"file replaced by a directory": func(t *testing.T, dir string) {
			p := filepath.Join(dir, "flags", "checkout.yaml")
			must(t, os.Remove(p))
			must(t, os.Mkdir(p, 0o755))
		},
		"directory replaced by a file": func(t *testing.T, dir string) {
			must(t, os.RemoveAll(filepath.Join(dir, "flags")))
			must(t, os.WriteFile(filepath.Join(dir, "flags"), []byte("x"), 0o644))
		},
		"file replaced by a pipe": func(t *testing.T, dir string) {
			p := filepath.Join(dir, "flags", "checkout.yaml")
			must(t, os.Remove(p))
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		},
		"link pointed elsewhere": func(t *testing.T, dir string) {
			p := filepath.Join(dir, "flags", "promo.yaml")
			must(t, os.Remove(p))
			must(t, os.Symlink("../tests/v2/promo.yaml", p))
		},
		"link removed": func(t *testing.T, dir string) {
			must(t, os.Remove(filepath.Join(dir, "flags", "promo.yaml")))
		},
	}
	for name, change := range replace {
		for _, warm := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s warm=%v", name, warm), func(t *testing.T) {
				dir := writeRepo(t, base)
				must(t, os.Symlink("../tests/v1/promo.yaml", filepath.Join(dir, "flags", "promo.yaml")))
				cache := NewCache()
				if warm {
					cache.UseScan(scanFiles(t, dir))
					if _, err := Load(dir, Options{Revision: "r0", Cache: cache}); err != nil {
						t.Fatal(err)
					}
				}
				want, err := Load(dir, Options{Revision: "r1"}) // what the scan sees
				if err != nil {
					t.Fatal(err)
				}
				scan := scanFiles(t, dir)
				change(t, dir)
				cache.UseScan(scan)
				type result struct {
					repo *Repo
					err  error
				}
				done := make(chan result, 1)
				go func() {
					repo, err := Load(dir, Options{Revision: "r1", Cache: cache})
					done <- result{repo, err}
				}()
				var got result
				select {
				case got = <-done:
				case <-time.After(time.Minute):
					t.Fatal("the load is still waiting after a minute")
				}
				// A warm cache does not read a file whose scanned hash it
				// holds, so a file turned directory or pipe may go unseen
				// until the next revision: then the load is the scan's.
				switch {
				case errors.Is(got.err, ErrChanged):
				case warm && got.err == nil:
					if msg := compareLoads(want, nil, got.repo, nil); msg != "" {
						t.Fatalf("neither ErrChanged nor the scanned revision: %s", msg)
					}
				default:
					t.Fatalf("load: %v, want ErrChanged", got.err)
				}
			})
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
