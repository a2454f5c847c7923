package loader

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// corpusNow is the clock of the corpus: stale-flag and expiry warnings in
// the golden files are relative to it.
var corpusNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// corpusOptions returns the load options of a corpus repository: the fixed
// clock and revision, plus what its test-options.json asks for.
func corpusOptions(t *testing.T, dir string) Options {
	t.Helper()
	opts := Options{Now: func() time.Time { return corpusNow }, Revision: "corpus"}
	b, err := os.ReadFile(filepath.Join(dir, "test-options.json"))
	if errors.Is(err, os.ErrNotExist) {
		return opts
	}
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		MaxFileSize int64 `json:"max_file_size"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("test-options.json: %v", err)
	}
	opts.MaxFileSize = o.MaxFileSize
	return opts
}

// golden compares got with testdata file name, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./loader -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./loader -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

func TestBadRepositories(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*.bad")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 30 {
		t.Fatalf("only %d bad repositories", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(strings.TrimSuffix(filepath.Base(dir), ".bad"), func(t *testing.T) {
			repo, err := Load(dir, corpusOptions(t, dir))
			var ds Diagnostics
			if !errors.As(err, &ds) {
				t.Fatalf("Load = %v, %v; want Diagnostics", repo, err)
			}
			if repo != nil || !ds.HasErrors() {
				t.Fatalf("invalid repository loaded: repo %v, diagnostics %v", repo, ds)
			}
			for _, d := range ds {
				if d.File == "" || (d.Line == 0 && d.Path != "") {
					t.Errorf("diagnostic without position: %+v", d)
				}
			}
			golden(t, filepath.Join(dir, "errors.golden"), []byte(ds.Error()+"\n"))
		})
	}
}

func TestGoodRepositories(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*.good")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 3 {
		t.Fatalf("only %d good repositories", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(strings.TrimSuffix(filepath.Base(dir), ".good"), func(t *testing.T) {
			repo, err := Load(dir, corpusOptions(t, dir))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			out, err := json.MarshalIndent(struct {
				Version    string
				Settings   Settings
				Attributes []Attribute
				Documents  any
				Warnings   []string
			}{repo.Version, repo.Settings, repo.Attributes, repo.Documents, warningLines(repo.Warnings)}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, "repo.golden.json"), append(out, '\n'))
		})
	}
}

func warningLines(ds Diagnostics) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}
