package loader

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/schema"
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
	files, diags, err := LoadTests(dir, repo, Options{})
	if err != nil || len(diags) != 0 || len(files) != 1 || len(files[0].Cases) != 2 {
		t.Errorf("scaffolded tests: %v %v %v", files, diags, err)
	}
	for _, f := range scaffoldFiles {
		b, err := os.ReadFile(filepath.Join(dir, f.path))
		if err != nil {
			t.Fatal(err)
		}
		if ml := schema.Modeline(filepath.ToSlash(f.path)); ml != "" && !strings.HasPrefix(string(b), ml+"\n") {
			t.Errorf("%s does not start with its modeline %q", f.path, ml)
		}
		if name, ok := strings.CutSuffix(filepath.Base(f.path), ".schema.json"); ok && string(b) != string(schema.Source(name)) {
			t.Errorf("%s is not the embedded schema", f.path)
		}
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
