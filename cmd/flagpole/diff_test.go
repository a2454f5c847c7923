package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiffExampleChange runs `flagpole diff` on the example repository's
// documented change: the west-coast-students audience gains Nevada and the
// banner's rollout moves from 66.271% to 25%, left uncommitted in the work
// tree (the default HEAD).
func TestDiffExampleChange(t *testing.T) {
	t.Parallel()
	g := newGitRepo(t)
	banner := g.read("flags/west-coast-student-banner.yaml")
	if !strings.Contains(banner, "{on: 25, off: 75}") {
		t.Fatalf("the example banner's rollout changed:\n%s", banner)
	}
	g.write("flags/west-coast-student-banner.yaml", strings.Replace(banner, "{on: 25, off: 75}", "{on: 66.271, off: 33.729}", 1))
	g.commit("banner at 66.271%")
	g.write("flags/west-coast-student-banner.yaml", banner)
	aud := g.read("audiences/west-coast-students.yaml")
	g.write("audiences/west-coast-students.yaml", strings.Replace(aud, "[CA, WA, OR]", "[CA, WA, OR, NV]", 1))

	res := flagpole(t, "", nil, "diff", "--repo", g.work, "HEAD")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{
		"### flagpole diff: `HEAD (",
		`rule 3 "everyone else": rollout on 66.271% → 25%, off 33.729% → 75%`,
		"audience `west-coast-students` now also matches state NV",
		"switch on → off",
		"<details><summary>production",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("markdown lacks %q:\n%s", want, res.stdout)
		}
	}

	res = flagpole(t, "", nil, "diff", "--repo", g.work, "--format", "json", "HEAD")
	var rep struct {
		Changed      bool `json:"changed"`
		Environments []struct {
			Environment string `json:"environment"`
			Flags       []struct {
				Key      string `json:"key"`
				Exposure struct {
					Samples  int `json:"samples"`
					Switched int `json:"switched"`
				} `json:"exposure"`
			} `json:"flags"`
		} `json:"environments"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil || res.code != 0 {
		t.Fatalf("json: exit %d, %v\n%s", res.code, err, res.stdout)
	}
	if !rep.Changed || rep.Environments[0].Environment != "production" || rep.Environments[0].Flags[0].Exposure.Samples != 10_000 {
		t.Errorf("json report: %+v", rep)
	}

	// Real contexts: a file with a malformed line is a usage error naming
	// the line; a good one is what the figures are computed on.
	bad := filepath.Join(t.TempDir(), "ctx.jsonl")
	if err := os.WriteFile(bad, []byte("{\"key\":\"a\"}\n{\"key\":\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = flagpole(t, "", nil, "diff", "--repo", g.work, "--contexts", bad, "HEAD")
	if res.code != 2 || !strings.Contains(res.stderr, "ctx.jsonl:2:") {
		t.Errorf("malformed contexts: exit %d\n%s", res.code, res.stderr)
	}
	good := filepath.Join(t.TempDir(), "ctx.jsonl")
	if err := os.WriteFile(good, []byte("{\"key\":\"audrey\"}\n{\"key\":\"juan\",\"state\":\"NV\",\"student\":true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = flagpole(t, "", nil, "diff", "--repo", g.work, "--contexts", good, "HEAD")
	if res.code != 0 || !strings.Contains(res.stdout, "2 sample contexts ("+good+")") {
		t.Errorf("contexts file: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	// Nothing changed between a commit and itself.
	res = flagpole(t, "", nil, "diff", "--repo", g.work, "HEAD", "HEAD")
	if res.code != 0 || !strings.Contains(res.stdout, "No semantic change") {
		t.Errorf("HEAD HEAD: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	// An invalid work tree: exit 1, its errors with file:line:col.
	g.write("flags/debug-panel.yaml", "key: debug-panel\ndefault: nope\n")
	res = flagpole(t, "", nil, "diff", "--repo", g.work, "HEAD")
	if res.code != 1 || !strings.Contains(res.stderr, "flags/debug-panel.yaml:2:") || !strings.Contains(res.stdout, "HEAD is not a valid flags repository") {
		t.Errorf("invalid HEAD: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}

func TestDiffUsage(t *testing.T) {
	t.Parallel()
	g := newGitRepo(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"diff"}, 2, "BASE is required"},
		{[]string{"diff", "--repo", g.work, "--format", "yaml", "HEAD"}, 2, "--format"},
		{[]string{"diff", "--repo", g.work, "a", "b", "c"}, 2, "at most one HEAD"},
		{[]string{"diff", "--repo", g.work, "--samples", "0", "HEAD"}, 2, "--samples 0"},
		{[]string{"diff", "--repo", g.work, "no-such-branch"}, 2, `"no-such-branch": unknown revision`},
		{[]string{"diff", "--repo", g.work, "HEAD", "no-such-branch"}, 2, "HEAD \"no-such-branch\""},
		{[]string{"diff", "--repo", filepath.Join(g.work, "missing"), "HEAD"}, 1, "not found"},
	} {
		res := flagpole(t, "", nil, tc.args...)
		if res.code != tc.code || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s", tc.args, res.code, tc.code, tc.want, res.stderr)
		}
	}
}
