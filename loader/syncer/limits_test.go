package syncer

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flagpole/flagpole/loader"
)

func TestProblemsAreBounded(t *testing.T) {
	var ds loader.Diagnostics
	for f := range 10 {
		for i := range 50 {
			ds = append(ds, loader.Diagnostic{File: fmt.Sprintf("flags/f%d.yaml", f), Line: i + 1, Column: 1, Path: "key", Message: strings.Repeat("é", 2000)})
		}
	}
	ds = append(ds, loader.Diagnostic{File: "flags/w.yaml", Message: "stale", Severity: loader.SeverityWarning})
	full, locs, count := problems(ds)
	if count != 500 || len(full) != MaxProblems || len(locs) != MaxProblems {
		t.Fatalf("count %d, %d listed, %d locations; want 500, %d, %d", count, len(full), len(locs), MaxProblems, MaxProblems)
	}
	if !strings.HasPrefix(full[MaxProblemsPerFile], "flags/f1.yaml:1:1: key: ") {
		t.Errorf("problem %d = %.40q, want the first of the second file", MaxProblemsPerFile, full[MaxProblemsPerFile])
	}
	for _, p := range full {
		if len(p) > MaxMessageBytes || !utf8.ValidString(p) || !strings.HasSuffix(p, "…") {
			t.Fatalf("problem of %d bytes, valid UTF-8 %v: %.60q", len(p), utf8.ValidString(p), p)
		}
	}
	if locs[0] != "flags/f0.yaml:1:1: key" {
		t.Errorf("location %q, want flags/f0.yaml:1:1: key", locs[0])
	}
}
