package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStaleCommand(t *testing.T) {
	clean := t.TempDir()
	for name, content := range map[string]string{
		"flagpole.yaml":   "version: 1\nenvironments: [production]\n",
		"flags/beta.yaml": "key: beta\nrules: [{users: [a], serve: on}]\n",
	} {
		p := filepath.Join(clean, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if r := flagpole(t, "", nil, "stale", clean); r.code != exitOK || !strings.Contains(r.stdout, "no stale flags among 1") {
		t.Errorf("clean: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := flagpole(t, "", nil, "stale", exampleRepo(t), "--format", "markdown")
	if r.code != exitFailure || !strings.Contains(r.stdout, "### Stale flags") ||
		!strings.Contains(r.stdout, "| `legacy-export` | operational | everyone gets \"off\" (false) in every environment") {
		t.Errorf("flags.example: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := flagpole(t, "", nil, "stale", clean, "--format", "xml"); r.code != exitUsage {
		t.Errorf("--format xml: exit %d", r.code)
	}
	if r := flagpole(t, "", nil, "stale", t.TempDir()); r.code != exitStaleError || !strings.Contains(r.stderr, "flagpole.yaml") {
		t.Errorf("not a repository: exit %d\n%s", r.code, r.stderr)
	}
}
