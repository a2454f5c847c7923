package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleCopy copies flags.example into a temporary directory and writes
// files (relative paths) over it.
func exampleCopy(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	copyDir(t, exampleRepo(t), dir)
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

func TestTestCommand(t *testing.T) {
	r := flagpole(t, "", nil, "test", exampleRepo(t))
	if r.code != exitOK || !strings.Contains(r.stdout, "0 failed") {
		t.Fatalf("flags.example's own tests: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A change that breaks a written expectation fails, with the trace.
	broken := exampleCopy(t, map[string]string{"flags/west-coast-student-banner.yaml": strings.Replace(
		readFile(t, filepath.Join(exampleRepo(t), "flags/west-coast-student-banner.yaml")), "rollout: {on: 25, off: 75}", "rollout: {on: 40, off: 60}", 1)})
	r = flagpole(t, "", nil, "test", broken)
	for _, want := range []string{
		`FAIL tests/west-coast-student-banner.yaml:13:5 west-coast-student-banner [production] case 3 "a quarter of everyone else": in a sample of 10000 contexts by key:`,
		`rollout on 40%, off 60% by key`,
		"1 failed",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if r.code != exitFailure {
		t.Errorf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}

	// An invalid test file fails test and validate with its position.
	bad := exampleCopy(t, map[string]string{"tests/typo.yaml": "flag: chekout-v2\ncases:\n  - at: yesterday\n    expect: {variant: on}\n"})
	for _, cmd := range []string{"test", "validate"} {
		r = flagpole(t, "", nil, cmd, bad)
		if r.code != exitFailure || !strings.Contains(r.stdout, `tests/typo.yaml:1:7: flag: unknown flag "chekout-v2"`) ||
			!strings.Contains(r.stdout, `tests/typo.yaml:3:9: cases[0].at: malformed clock 'yesterday': want an RFC 3339 time`) {
			t.Errorf("%s: exit %d\n%s%s", cmd, r.code, r.stdout, r.stderr)
		}
	}

	// Usage errors exit 2; a repository without tests passes.
	if r = flagpole(t, "", nil, "test", "a", "b"); r.code != exitUsage {
		t.Errorf("two directories: exit %d", r.code)
	}
	empty := t.TempDir()
	copyDir(t, exampleRepo(t), empty)
	if err := os.RemoveAll(filepath.Join(empty, "tests")); err != nil {
		t.Fatal(err)
	}
	if r = flagpole(t, "", nil, "test", empty); r.code != exitOK || !strings.Contains(r.stdout, "no test files") {
		t.Errorf("no tests: exit %d\n%s", r.code, r.stdout)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
