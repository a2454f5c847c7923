//go:build unix

package loader

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
