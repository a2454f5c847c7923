package loader

import (
	"testing"

	"github.com/flagpole/flagpole/schema"
)

// FuzzTestFile checks a test file of any content against a loaded
// repository: it never panics, a file with errors is not returned, and
// every error has a position.
func FuzzTestFile(f *testing.F) {
	addSeeds(f, "../flags.example/tests/*.yaml")
	f.Add([]byte("flag: uses-x\ncases:\n  - sample: {contexts: 10, by: age}\n    expect: {share: {on: 50, off: 60}, tolerance: -1}\n"))
	f.Add([]byte("flag: uses-x\ncases:\n  - context: {key: a, age: 3}\n    at: 2026-12-01T10:00:00Z\n    expect: {value: {a: [1]}}\n"))
	dir := writeRepo(f, fuzzBase)
	repo, err := Load(dir, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file := parseFile("tests/t.yaml", data, schema.Test)
		tc := &testChecker{repo: repo}
		tc.diags = append(tc.diags, file.diags...)
		tf := tc.check(file)
		if tf != nil && !file.hasErrors(tc.diags) {
			for _, c := range tf.Cases {
				if c.Context == nil || (c.Sample != nil && (c.Sample.Contexts < 1 || c.Sample.Contexts > MaxSampleContexts)) {
					t.Fatalf("accepted a case that cannot run: %+v", c)
				}
			}
		}
		for _, d := range tc.diags {
			if d.File != "tests/t.yaml" || (d.Severity == SeverityError && d.Line == 0 && d.Path != "") {
				t.Fatalf("diagnostic without position: %+v", d)
			}
		}
	})
}
