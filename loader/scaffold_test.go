package loader

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/ruleset"
)

func TestScaffoldLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "flags")
	if err := Scaffold(dir); err != nil {
		t.Fatal(err)
	}
	repo, err := Load(dir, Options{})
	if err != nil {
		t.Fatalf("scaffold does not load:\n%v", err)
	}
	if len(repo.Warnings) != 0 {
		t.Errorf("warnings: %v", repo.Warnings)
	}
	r := repo.RuleSets["staging"].Evaluate("new-checkout", ruleset.Context{"key": "u1"})
	if r.Variant != "on" {
		t.Errorf("staging new-checkout = %+v, want on", r)
	}
	r = repo.RuleSets["production"].Evaluate("new-checkout", ruleset.Context{"key": "u1", "beta": true})
	if r.Variant != "on" || r.Reason != ruleset.ReasonTargetingMatch {
		t.Errorf("production new-checkout for a beta tester = %+v", r)
	}
}

func TestScaffoldRefusesToOverwrite(t *testing.T) {
	for _, f := range scaffoldFiles {
		t.Run(f.path, func(t *testing.T) {
			dir := t.TempDir()
			existing := filepath.Join(dir, f.path)
			if err := os.MkdirAll(filepath.Dir(existing), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(existing, []byte("mine"), 0o644); err != nil {
				t.Fatal(err)
			}
			err := Scaffold(dir)
			if err == nil || !strings.Contains(err.Error(), existing) {
				t.Fatalf("Scaffold = %v, want an error naming %s", err, existing)
			}
			if b, _ := os.ReadFile(existing); string(b) != "mine" {
				t.Error("existing file overwritten")
			}
			for _, g := range scaffoldFiles {
				if g.path == f.path {
					continue
				}
				if _, err := os.Stat(filepath.Join(dir, g.path)); err == nil {
					t.Errorf("%s written although Scaffold refused", g.path)
				}
			}
		})
	}
}
