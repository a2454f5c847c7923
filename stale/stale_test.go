package stale

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/loader"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func find(t *testing.T, dir string) *Report {
	t.Helper()
	repo, err := loader.Load(dir, loader.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Find(context.Background(), repo, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// listed returns "category flag" for each finding.
func listed(rep *Report) map[string]Finding {
	out := map[string]Finding{}
	for _, f := range rep.Findings {
		out[f.Category.String()+" "+f.Flag] = f
	}
	return out
}

func TestConstantAndExpired(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"flagpole.yaml": "version: 1\nenvironments: [production, staging]\n",
		// constant
		"flags/no-rules.yaml":      "key: no-rules\ndefault: on\n",
		"flags/disabled.yaml":      "key: disabled\nenabled: false\nrules: [{serve: on}]\n",
		"flags/all-same.yaml":      "key: all-same\ndefault: on\nrules:\n  - {users: [a], serve: on}\n  - {rollout: {on: 100, off: 0}}\n",
		"flags/first-catches.yaml": "key: first-catches\nrules:\n  - {name: everyone, serve: on}\n  - {users: [a], serve: off}\n",
		"flags/expired-const.yaml": "key: expired-const\nexpires: 2026-11-01\n",
		// not constant
		"flags/rollout-100.yaml":            "key: rollout-100\nrules: [{rollout: {on: 100, off: 0}}]\n",
		"flags/env-differs.yaml":            "key: env-differs\ndefault: on\nenvironments:\n  staging: {enabled: false}\n",
		"flags/value-differs.yaml":          "key: value-differs\ntype: string\nvariants: {a: x, off: y}\ndefault: a\nenvironments:\n  staging: {variants: {a: z, off: y}}\n",
		"flags/targeted.yaml":               "key: targeted\nrules: [{users: [a], serve: on}]\n",
		"flags/kill.yaml":                   "key: kill\nkind: kill-switch\n",
		"flags/overridden.yaml":             "key: overridden\n",
		"flags/fresh.yaml":                  "key: fresh\nexpires: 2026-12-01\nrules: [{users: [a], serve: on}]\n",
		"flags/release.yaml":                "key: release\nkind: release\nrules: [{users: [a], serve: on}]\n",
		"flags/needs-prereq.yaml":           "key: needs-prereq\nrequires: [{flag: kill, variants: [on]}]\n",
		"flags/scheduled.yaml":              "key: scheduled\nschedule: [{at: 2026-12-24T00:00:00Z, default: on}]\n",
		"flags/ramped.yaml":                 "key: ramped\nrules: [{ramp: {serve: on, otherwise: off, from: 5, step: 5, every: 1h, start: 2026-12-01T09:00:00Z}}]\n",
		"overrides/staging/overridden.yaml": "flag: overridden\nenvironment: staging\nserve: on\nby: me\nat: 2026-11-30T10:00:00Z\n",
	})
	rep := find(t, dir)
	got := listed(rep)
	for _, want := range []string{"constant no-rules", "constant disabled", "constant all-same", "constant first-catches",
		"constant expired-const", "expired expired-const"} {
		if _, ok := got[want]; !ok {
			t.Errorf("%s not listed", want)
		}
		delete(got, want)
	}
	for k := range got {
		t.Errorf("listed %s: %s", k, got[k].Why)
	}
	why := listed(rep)
	for key, want := range map[string]string{
		"constant disabled":      `everyone gets "off" (false) in every environment (production: disabled, so "off"; staging: disabled, so "off")`,
		"constant all-same":      `every rule and the default serve "on"`,
		"constant first-catches": `its first rule serves "on" to everyone`,
		"constant no-rules":      `no rules, default "on"`,
		"expired expired-const":  `expired on 2026-11-01 (30 days ago)`,
	} {
		if !strings.Contains(why[key].Why, want) {
			t.Errorf("%s: why %q lacks %q", key, why[key].Why, want)
		}
	}
	if len(rep.AgeUnknown) != 1 || rep.AgeUnknown[0].Flag != "release" || !strings.Contains(rep.AgeUnknown[0].Why, "not a git work tree") {
		t.Errorf("age unknown: %+v", rep.AgeUnknown)
	}
	var text, md, js strings.Builder
	if rep.WriteText(&text) != nil || rep.WriteMarkdown(&md) != nil || rep.WriteJSON(&js) != nil {
		t.Fatal("writing failed")
	}
	if !strings.HasPrefix(text.String(), dir+": 5 of 16 flags are stale (1 expired, 0 past their kind's lifetime, 5 constant)") {
		t.Errorf("text:\n%s", text.String())
	}
	if !strings.Contains(md.String(), "| `no-rules` | – | everyone gets") || !strings.Contains(js.String(), `"category": "constant"`) {
		t.Errorf("markdown or JSON:\n%s\n%s", md.String(), js.String())
	}
}

// gitCommit commits files in dir at the given time.
func gitCommit(t *testing.T, dir string, when time.Time, files map[string]string) {
	t.Helper()
	write(t, dir, files)
	date := when.Format(time.RFC3339)
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", "change at " + date}} {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

func TestLifetimeFromGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	root := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", root).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	// The flags repository is a subdirectory of the work tree, as
	// flags.example is in this project.
	gitCommit(t, root, now.AddDate(0, 0, -60), map[string]string{
		"flags-repo/flagpole.yaml":      "version: 1\nenvironments: [production]\n",
		"flags-repo/flags/old.yaml":     "key: old\nkind: release\nrules: [{users: [a], serve: on}]\n",
		"flags-repo/flags/ops.yaml":     "key: ops\nkind: operational\nrules: [{users: [a], serve: on}]\n",
		"flags-repo/flags/dated.yaml":   "key: dated\nkind: experiment\nexpires: 2027-01-01\nrules: [{users: [a], serve: on}]\n",
		"flags-repo/flags/forever.yaml": "key: forever\nkind: permission\nrules: [{users: [a], serve: on}]\n",
		"other/flags/old.yaml":          "not a flag of this repository\n",
	})
	// Editing a flag later does not make it younger.
	gitCommit(t, root, now.AddDate(0, 0, -3), map[string]string{
		"flags-repo/flags/old.yaml":   "key: old\nkind: release\nrules: [{users: [a, b], serve: on}]\n",
		"flags-repo/flags/young.yaml": "key: young\nkind: experiment\nrules: [{users: [a], serve: on}]\n",
		"flags-repo/flags/ops2.yaml":  "key: ops2\nkind: operational\nrules: [{users: [a], serve: on}]\n",
		"flags-repo/flags/dark.yaml":  "key: dark\n", // constant, but new: not listed yet
	})
	gitCommit(t, root, now.AddDate(0, 0, -30), map[string]string{"flags-repo/flags/dark-old.yaml": "key: dark-old\n"})
	write(t, root, map[string]string{"flags-repo/flags/draft.yaml": "key: draft\nkind: release\nrules: [{users: [a], serve: on}]\n"})
	rep := find(t, filepath.Join(root, "flags-repo"))
	got := listed(rep)
	if _, ok := got["constant dark-old"]; !ok {
		t.Errorf("dark-old, constant for 30 days, not listed")
	}
	if len(got) != 3 {
		t.Errorf("findings: %+v", rep.Findings)
	}
	old, ok := got["past-lifetime old"]
	if !ok || !strings.Contains(old.Why, "a release flag added on 2026-10-02 (60 days ago), past the 40 days a release flag is expected to live") {
		t.Errorf("old: %+v", old)
	}
	if ops, ok := got["past-lifetime ops"]; !ok || !strings.Contains(ops.Why, "an operational flag") || ops.Added == nil {
		t.Errorf("ops: %+v", ops)
	}
	if len(rep.AgeUnknown) != 1 || rep.AgeUnknown[0].Flag != "draft" || !strings.Contains(rep.AgeUnknown[0].Why, "not committed yet") {
		t.Errorf("age unknown: %+v", rep.AgeUnknown)
	}
}
