package flagtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/loader"
)

func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var repoFiles = map[string]string{
	"flagpole.yaml":   "version: 1\nenvironments: [production, staging]\n",
	"attributes.yaml": "attributes:\n  - {name: state, type: string}\n  - {name: account, type: number}\n",
	"flags/sale.yaml": "key: sale\nrules:\n  - name: from december\n    conditions: [{attribute: now, operator: gte, value: 2026-12-01T00:00:00Z}]\n    serve: on\n",
	"flags/banner.yaml": "key: banner\nrules:\n  - name: testers\n    users: [audrey]\n    serve: on\n  - name: west\n    conditions: [{attribute: state, operator: eq, value: CA}]\n    rollout: {on: 25, off: 75}\n" +
		"environments:\n  staging: {rules: [{serve: on}]}\n",
}

func run(t *testing.T, tests map[string]string) *Report {
	t.Helper()
	files := map[string]string{}
	for k, v := range repoFiles {
		files[k] = v
	}
	for k, v := range tests {
		files["tests/"+k] = v
	}
	dir := writeRepo(t, files)
	repo, err := loader.Load(dir, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tfs, diags, err := loader.LoadTests(dir, repo, loader.Options{})
	if err != nil || diags.HasErrors() {
		t.Fatalf("LoadTests: %v %v", diags, err)
	}
	rep, err := Run(repo, tfs, Options{Now: func() time.Time { return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestRunPasses(t *testing.T) {
	rep := run(t, map[string]string{
		"banner.yaml": `flag: banner
environment: production
cases:
  - context: {key: audrey}
    expect: {variant: on, value: true, reason: TARGETING_MATCH}
  - context: {key: bob}
    expect: {variant: off, reason: DEFAULT}
  - name: west coast
    context: {state: CA}
    sample: {contexts: 20000}
    expect: {share: {on: 25, off: 75}, tolerance: 1}
  - name: by account, no key to bucket on
    context: {state: CA}
    sample: {contexts: 2000, by: account}
    expect: {share: {off: 100}, tolerance: 0}
`,
		"sale.yaml": `flag: sale
cases:
  - context: {key: a}
    expect: {variant: off}
  - context: {key: a}
    at: 2026-12-01T00:00:00Z
    expect: {variant: on, reason: TARGETING_MATCH}
`,
	})
	if f := rep.Failed(); len(f) != 0 {
		t.Fatalf("failures: %+v", f)
	}
	if rep.Files != 2 || len(rep.Outcomes) != 4+2*2 {
		t.Errorf("%d files, %d outcomes; want 2 and 8", rep.Files, len(rep.Outcomes))
	}
}

func TestRunFailures(t *testing.T) {
	rep := run(t, map[string]string{
		"banner.yaml": `flag: banner
cases:
  - context: {key: bob}
    expect: {variant: on}
  - name: half
    context: {state: CA}
    sample: {contexts: 10000}
    expect: {share: {on: 50}, tolerance: 2}
`,
		"sale.yaml": `flag: sale
cases:
  - context: {key: a}
    at: 2026-11-30T23:59:59Z
    expect: {value: true}
`,
	})
	failed := rep.Failed()
	var lines []string
	for _, o := range failed {
		lines = append(lines, o.Label()+": "+o.Problem+"\n"+o.Trace)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		`tests/banner.yaml:3:5 banner [production] case 1: got variant "off", value false, reason DEFAULT; want variant "on"`,
		`user audrey: key = "bob" → no`,
		`tests/banner.yaml:5:5 banner [production] case 2 "half": in a sample of 10000 contexts by key: "on" 2`,
		`(want 50% ± 2); the sample got "off" 7`,
		`by key: key = "22987c7b5cc24834" → yes, bucket 75259 → "off"`,
		`tests/sale.yaml:3:5 sale [staging] case 1: got variant "off", value false, reason DEFAULT; want value true`,
		`now: 2026-11-30T23:59:59Z`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("failures lack %q:\n%s", want, all)
		}
	}
	// staging serves on to everyone: case 1 passes there, the sample (100%
	// on) fails; the sale fails in both environments.
	if len(failed) != 5 {
		t.Errorf("%d failures, want 5:\n%s", len(failed), all)
	}
}

func TestSamplesAreDeterministic(t *testing.T) {
	a, b := Values(1000, "string"), Values(1000, "string")
	seen := map[any]bool{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("value %d differs: %v, %v", i, a[i], b[i])
		}
		seen[a[i]] = true
	}
	if len(seen) < 999 {
		t.Errorf("only %d distinct values of 1000", len(seen))
	}
	n := Values(3, "number")
	if _, ok := n[0].(float64); !ok {
		t.Errorf("number sample value %T", n[0])
	}
	tests := map[string]string{"b.yaml": "flag: banner\nenvironment: production\ncases:\n  - context: {state: CA}\n    sample: {contexts: 5000}\n    expect: {share: {on: 10}, tolerance: 0}\n"}
	p1, p2 := run(t, tests).Failed()[0].Problem, run(t, tests).Failed()[0].Problem
	if p1 != p2 {
		t.Errorf("two runs differ:\n%s\n%s", p1, p2)
	}
}

// TestClockDrivesSchedulesAndRamps checks that a case's `at` is the clock of
// schedules and ramps too, as in every SDK.
func TestClockDrivesSchedulesAndRamps(t *testing.T) {
	files := map[string]string{}
	for k, v := range repoFiles {
		files[k] = v
	}
	files["flags/xmas.yaml"] = "key: xmas\nschedule: [{at: 2026-12-24T00:00:00Z, default: on}, {at: 2026-12-27T00:00:00Z, default: off}]\n"
	files["flags/gradual.yaml"] = "key: gradual\nrules: [{ramp: {serve: on, otherwise: off, from: 10, step: 10, every: 1h, start: 2026-12-01T00:00:00Z}}]\n"
	files["tests/xmas.yaml"] = `flag: xmas
cases:
  - {context: {key: a}, at: 2026-12-23T23:59:59Z, expect: {variant: off}}
  - {context: {key: a}, at: 2026-12-24T00:00:00Z, expect: {variant: on}}
  - {context: {key: a}, at: 2026-12-27T00:00:00Z, expect: {variant: off}}
`
	files["tests/gradual.yaml"] = `flag: gradual
environment: production
cases:
  - {sample: {contexts: 10000}, at: 2026-12-01T00:30:00Z, expect: {share: {on: 10}, tolerance: 1.5}}
  - {sample: {contexts: 10000}, at: 2026-12-01T04:00:00Z, expect: {share: {on: 50}, tolerance: 1.5}}
  - {sample: {contexts: 10000}, at: 2026-12-02T00:00:00Z, expect: {share: {on: 100}, tolerance: 0}}
`
	dir := writeRepo(t, files)
	repo, err := loader.Load(dir, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tfs, diags, err := loader.LoadTests(dir, repo, loader.Options{})
	if err != nil || diags.HasErrors() {
		t.Fatalf("LoadTests: %v %v", diags, err)
	}
	rep, err := Run(repo, tfs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Failed(); len(f) != 0 || len(rep.Outcomes) != 9 {
		t.Errorf("%d outcomes, failures: %+v", len(rep.Outcomes), f)
	}
}
