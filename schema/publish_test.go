package schema

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModeline(t *testing.T) {
	for rel, want := range map[string]string{
		"flagpole.yaml":               "# yaml-language-server: $schema=.flagpole/schema/flagpole.schema.json",
		"attributes.yml":              "# yaml-language-server: $schema=.flagpole/schema/attributes.schema.json",
		"audiences/beta.yaml":         "# yaml-language-server: $schema=../.flagpole/schema/audience.schema.json",
		"flags/checkout-v2.yaml":      "# yaml-language-server: $schema=../.flagpole/schema/flag.schema.json",
		"tests/checkout.yaml":         "# yaml-language-server: $schema=../.flagpole/schema/test.schema.json",
		"overrides/production/a.yaml": "# yaml-language-server: $schema=../../.flagpole/schema/override.schema.json",
		"README.md":                   "",
		"flags/nested/a.yaml":         "",
		"overrides/a.yaml":            "",
		"docs/flagpole.yaml":          "",
	} {
		if got := Modeline(rel); got != want {
			t.Errorf("Modeline(%q) = %q, want %q", rel, got, want)
		}
	}
}

// TestExampleRepositoryModelines checks that every file of flags.example
// starts with its modeline and that the published schemas there are the
// embedded ones: an editor opening the example sees what the loader checks.
func TestExampleRepositoryModelines(t *testing.T) {
	root := filepath.Join("..", "flags.example")
	for _, n := range Names() {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(Dir), n+".schema.json"))
		if err != nil {
			t.Fatalf("%v (run: flagpole schema --out flags.example/%s)", err, Dir)
		}
		if !bytes.Equal(b, Source(n)) {
			t.Errorf("flags.example/%s/%s.schema.json differs from the embedded schema (run: flagpole schema --out flags.example/%s)", Dir, n, Dir)
		}
	}
	n := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		want := Modeline(filepath.ToSlash(rel))
		if want == "" {
			return nil
		}
		n++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if first, _, _ := strings.Cut(string(b), "\n"); first != want {
			t.Errorf("flags.example/%s starts with %q, want %q", rel, first, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Errorf("only %d repository files checked", n)
	}
}
