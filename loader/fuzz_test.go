package loader

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzBase is an otherwise valid repository around the fuzzed file.
var fuzzBase = map[string]string{
	"flagpole.yaml": "version: 1\nenvironments: [production, staging]\n",
	"attributes.yaml": `attributes:
  - {name: state, type: string}
  - {name: age, type: number}
  - {name: student, type: boolean}
  - {name: app_version, type: semver}
  - {name: signup, type: datetime}
`,
	"audiences/students.yaml": "key: students\nconditions:\n  - {attribute: student, operator: eq, value: true}\n",
	"flags/uses-x.yaml":       "key: uses-x\nrules:\n  - audiences: [students]\n    serve: on\n",
}

// addSeeds adds every file matching the globs as a seed.
func addSeeds(f *testing.F, globs ...string) {
	for _, g := range globs {
		paths, err := filepath.Glob(g)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
}

// fuzzLoad loads the base repository with data at rel and checks that Load
// either succeeds or reports Diagnostics with positions.
func fuzzLoad(t *testing.T, rel string, data []byte, extra map[string]string) {
	files := map[string]string{}
	for k, v := range fuzzBase {
		files[k] = v
	}
	for k, v := range extra {
		files[k] = v
	}
	files[rel] = string(data)
	dir := writeRepo(t, files)
	repo, err := Load(dir, Options{Now: fixed(corpusNow), Revision: "fuzz"})
	if err == nil {
		if repo == nil || len(repo.Documents) != 2 || len(repo.RuleSets) != 2 {
			t.Fatalf("loaded without documents: %+v", repo)
		}
		return
	}
	var ds Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("Load returned %T, not Diagnostics: %v", err, err)
	}
	if !ds.HasErrors() {
		t.Fatalf("Diagnostics without errors: %v", ds)
	}
	for _, d := range ds {
		if d.File == "" {
			t.Errorf("diagnostic without file: %v", d)
		}
	}
}

func FuzzLoadFlag(f *testing.F) {
	addSeeds(f, "../flags.example/flags/*.yaml", "testdata/*.bad/flags/*.y*ml", "testdata/*.good/flags/*.y*ml")
	f.Add([]byte("key: x\nrules:\n  - rollout: {on: 50, off: 50}\n    by: state\n"))
	f.Add([]byte("key: x\nvariants: {a: &a [1]}\ntype: json\noff: a\n"))
	f.Add([]byte("key: x\nrequires: [{flag: uses-x, variants: [on]}]\nmetadata: {a: 1, b: x, c: true}\n" +
		"rules:\n  - ramp: {serve: on, otherwise: off, from: 5, step: 5, every: 1h, start: 2026-12-01T09:00:00Z}\n    by: state\n" +
		"schedule:\n  - {at: 2026-12-24T00:00:00Z, enabled: false, requires: []}\n  - {at: 2026-12-25T00:00:00Z, rules: [{serve: off}]}\n" +
		"environments:\n  staging: {schedule: [{at: 2027-01-01T00:00:00Z, default: on}], metadata: {a: 2}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzLoad(t, "flags/x.yaml", data, nil)
	})
}

func FuzzLoadAudience(f *testing.F) {
	addSeeds(f, "../flags.example/audiences/*.yaml", "testdata/*.bad/audiences/*.y*ml", "testdata/*.good/audiences/*.y*ml")
	f.Add([]byte("key: x\nconditions:\n  - {audience: x}\n"))
	f.Add([]byte("key: x\nmatch: any\nconditions:\n  - {attribute: state, operator: matches, value: '^(CA'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzLoad(t, "audiences/x.yaml", data, map[string]string{
			"flags/uses-x.yaml": "key: uses-x\nrules:\n  - audiences: [x]\n    serve: on\n",
		})
	})
}
