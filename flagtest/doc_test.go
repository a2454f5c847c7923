package flagtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/loader"
)

// TestReviewDocExample runs the test file that docs/review.md shows
// against flags.example: it must be valid and pass.
func TestReviewDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/review.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "```yaml\n# yaml-language-server: $schema=../.flagpole/schema/test.schema.json\n"
	_, rest, ok := strings.Cut(string(doc), start)
	if !ok {
		t.Fatal("docs/review.md: no test file example")
	}
	example, _, _ := strings.Cut(rest, "```")
	dir := t.TempDir()
	copyExample(t, "../flags.example", dir)
	if err := os.WriteFile(filepath.Join(dir, "tests", "doc-example.yaml"), []byte(example), 0o644); err != nil {
		t.Fatal(err)
	}
	repo, err := loader.Load(dir, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	files, diags, err := loader.LoadTests(dir, repo, loader.Options{})
	if err != nil || len(diags) != 0 {
		t.Fatalf("LoadTests: %v %v", diags, err)
	}
	rep, err := Run(repo, files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Failed(); len(f) != 0 {
		t.Errorf("failures: %+v", f)
	}
}

func copyExample(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
