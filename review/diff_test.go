package review

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
)

func TestAudienceGainsState(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.Commit(map[string]string{"audiences/west-coast-students.yaml": `key: west-coast-students
conditions:
  - {attribute: state, operator: in, values: [CA, WA, OR, NV]}
  - {attribute: student, operator: eq, value: true}
`}, "west coast students: add Nevada")
	rep := diffOf(t, r, "HEAD~1", "HEAD")
	if !rep.Changed {
		t.Fatal("no change reported")
	}
	prod := rep.Environments[0]
	if len(prod.Audiences) != 1 || prod.Audiences[0].Details[0] != "now also matches state NV" {
		t.Fatalf("audiences: %+v", prod.Audiences)
	}
	if got := prod.Audiences[0].Flags; len(got) != 1 || got[0] != "west-coast-student-banner" {
		t.Errorf("flags using the audience: %v", got)
	}
	if len(prod.Flags) != 1 || prod.Flags[0].Change != Affected || prod.Flags[0].Via[0] != "audience west-coast-students" {
		t.Fatalf("flags: %+v", prod.Flags)
	}
	// Only students in Nevada outside the 66.271% who got on anyway switch,
	// and only from off to on.
	e := prod.Flags[0].Exposure
	if e.Switched == 0 || len(e.Switches) != 1 || e.Switches[0].From != "off" || e.Switches[0].To != "on" {
		t.Errorf("exposure: %+v", e)
	}
	golden(t, "audience-gains-state.md", markdown(t, rep))
}

func TestRolloutMoved(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	files := baseFiles()
	files["flags/west-coast-student-banner.yaml"] = strings.Replace(files["flags/west-coast-student-banner.yaml"],
		`{"on": 66.271, "off": 33.729}`, `{"on": 25, "off": 75}`, 1)
	r.Commit(files, "banner: 25%")
	rep := diffOf(t, r, "HEAD~1", "HEAD")
	f := rep.Environments[0].Flags
	if len(f) != 1 || f[0].Change != Changed {
		t.Fatalf("flags: %+v", f)
	}
	want := `rule 3 "everyone else": rollout on 66.271% → 25%, off 33.729% → 75%`
	if len(f[0].Details) != 1 || f[0].Details[0] != want {
		t.Errorf("details %q, want %q", f[0].Details, want)
	}
	e := f[0].Exposure
	var on VariantShare
	for _, v := range e.Variants {
		if v.Variant == "on" {
			on = v
		}
	}
	// Buckets are cumulative: nobody moves from off to on, and everyone
	// who leaves on goes to off.
	if len(e.Switches) != 1 || e.Switches[0].From != "on" || e.Switches[0].To != "off" || e.Switched != on.Before-on.After {
		t.Errorf("exposure %+v, on %+v", e, on)
	}
	if on.Before <= on.After || on.After < 2000 {
		t.Errorf("on before %d after %d of %d", on.Before, on.After, e.Samples)
	}
	golden(t, "rollout-moved.md", markdown(t, rep))
}

func TestReorderOnlyIsNoChange(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.Git("mv", "flags/checkout.yaml", "flags/checkout.yml")
	r.Commit(map[string]string{
		"audiences/west-coast-students.yaml": `# reordered, reformatted
conditions:
  - attribute: student
    value: true
    operator: eq
  - {attribute: state, operator: in, values: [OR, CA, WA, CA]}
match: all
key: west-coast-students
`,
		"flags/checkout.yml": `key: checkout
default: "off"
variants: {off: false, on: true}
rules:
  - {name: adults, conditions: [{value: 18, attribute: age, operator: gte}], serve: "on", match: any}
  - {name: beta, users: [ann], serve: "on"}
`,
		"attributes.yaml": `attributes:
  - {name: age, type: number}
  - {name: student, type: boolean}
  - {name: state, type: string}
`,
	}, "reorder and reformat")
	rep := diffOf(t, r, "HEAD~1", "HEAD")
	if rep.Changed {
		t.Fatalf("reorder-only commit reported as a change: %+v", rep)
	}
	if md := markdown(t, rep); !strings.Contains(md, "No semantic change") {
		t.Errorf("markdown:\n%s", md)
	}
}

func TestRuleMovedAndRenamedFlag(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.Git("mv", "flags/checkout.yaml", "flags/checkout-v2.yaml")
	files := baseFiles()
	files["flags/west-coast-student-banner.yaml"] = strings.Replace(files["flags/west-coast-student-banner.yaml"],
		`  - name: internal testers
    users: [audrey, rob]
    serve: "on"
  - name: west coast students
    audiences: [west-coast-students]
    serve: "on"
`, `  - name: west coast students
    audiences: [west-coast-students]
    serve: "on"
  - name: internal testers
    users: [audrey, nick]
    serve: "on"
`, 1)
	delete(files, "flags/checkout.yaml")
	files["flags/checkout-v2.yaml"] = strings.Replace(baseFiles()["flags/checkout.yaml"], "key: checkout", "key: checkout-v2", 1)
	r.Commit(files, "reorder rules, rename checkout")
	rep := diffOf(t, r, "HEAD~1", "HEAD")
	flags := rep.Environments[0].Flags
	if len(flags) != 2 {
		t.Fatalf("flags: %+v", flags)
	}
	if flags[0].Key != "checkout-v2" || flags[0].Change != Renamed || flags[0].RenamedFrom != "checkout" {
		t.Errorf("rename: %+v", flags[0])
	}
	want := []string{
		`rule 2 "internal testers" (was rule 1): users now also nick, no longer rob`,
		`rule 2 "west coast students" moved above rule 1 "internal testers"`,
	}
	if got := flags[1].Details; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("details:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestKeysTriggersOverrides(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	files := baseFiles()
	files["flagpole.yaml"] = `version: 1
environments: [production, staging]
keys:
  - {name: web-app, environment: production, kind: client, sha256: ` + hashA + `}
triggers:
  - {name: banner-alert, flag: west-coast-student-banner, environment: production, action: "off", sha256: ` + hashC + `}
`
	files["overrides/production/checkout.yaml"] = `flag: checkout
environment: production
serve: "off"
reason: checkout errors
by: alice
at: 2026-11-30T10:00:00Z
`
	r.Commit(files, "keys, trigger token, override")
	rep := diffOf(t, r, "HEAD~1", "HEAD")
	want := []string{
		"key web-app added (client, production)",
		"key checkout-service revoked (server, production)",
		"trigger banner-alert rotated (new URL token; the old URL stops working)",
	}
	if strings.Join(rep.Repository, "\n") != strings.Join(want, "\n") {
		t.Errorf("repository changes:\n%s", strings.Join(rep.Repository, "\n"))
	}
	prod := rep.Environments[0]
	if len(prod.Overrides) != 1 || prod.Overrides[0].Change != Set || !strings.Contains(prod.Overrides[0].After, `serve off to everyone (by alice`) {
		t.Errorf("overrides: %+v", prod.Overrides)
	}
	if len(rep.Environments[1].Overrides) != 0 {
		t.Errorf("staging overrides: %+v", rep.Environments[1].Overrides)
	}
	md := markdown(t, rep)
	for _, h := range []string{hashA, hashB, hashC, hashA[:12]} {
		if strings.Contains(md, h) {
			t.Errorf("markdown shows a key hash:\n%s", md)
		}
	}
	// Everyone now gets off: every context that got on switches.
	e := prod.Flags[0].Exposure
	if prod.Flags[0].Key != "checkout" || prod.Flags[0].Via[0] != "override" || e.Variants[0].After != 0 && e.Variants[1].After != e.Samples {
		t.Errorf("override exposure: %+v %+v", prod.Flags[0], e)
	}
}

func TestInvalidBaseDescribesHead(t *testing.T) {
	t.Parallel()
	r := gitrepo.New(t)
	files := baseFiles()
	files["flags/checkout.yaml"] = "key: checkout\ndefault: maybe\n"
	r.Commit(files, "broken")
	r.Commit(baseFiles(), "fixed")
	rep := diffOf(t, r, "HEAD~1", "HEAD")
	if rep.Base.Valid || len(rep.Base.Errors) == 0 || !strings.HasPrefix(rep.Base.Errors[0], "flags/checkout.yaml:2:") {
		t.Fatalf("base: %+v", rep.Base)
	}
	if !rep.Changed || len(rep.Environments[0].Flags) != 2 || rep.Environments[0].Flags[0].Change != Added {
		t.Fatalf("head not described: %+v", rep.Environments[0].Flags)
	}
	md := markdown(t, rep)
	for _, want := range []string{"is not a valid flags repository", "BASE validation errors", "flags/checkout.yaml:2:", "rule 3 \"everyone else\": everyone → rollout on 66.271%, off 33.729% by key"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestInvalidHead(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.Commit(map[string]string{"flags/checkout.yaml": "key: checkout\nrules:\n  - serve: nope\n"}, "broken")
	rep, err := Diff(Request{Repo: r.Work, Base: "HEAD~1", Head: "HEAD", Now: testNow})
	if !errors.Is(err, ErrInvalidHead) || rep == nil || rep.Head.Valid {
		t.Fatalf("err %v, report %+v", err, rep)
	}
	if len(rep.Head.Errors) == 0 || !strings.HasPrefix(rep.Head.Errors[0], "flags/checkout.yaml:3:") {
		t.Errorf("head errors: %q", rep.Head.Errors)
	}
	if md := markdown(t, rep); !strings.Contains(md, "HEAD is not a valid flags repository") || !strings.Contains(md, "flags/checkout.yaml:3:") {
		t.Errorf("markdown:\n%s", md)
	}
}

func TestMissingRef(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	for _, base := range []string{"no-such-branch", "HEAD~5", "deadbeef"} {
		_, err := Diff(Request{Repo: r.Work, Base: base, Now: testNow})
		if !errors.Is(err, ErrMissingRef) || !strings.Contains(err.Error(), base) {
			t.Errorf("BASE %s: %v", base, err)
		}
	}
	if _, err := Diff(Request{Repo: t.TempDir(), Base: "main", Now: testNow}); !errors.Is(err, ErrMissingRef) {
		t.Errorf("outside git: %v", err)
	}
}

func TestShallowClone(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.Commit(map[string]string{"flags/checkout.yaml": strings.Replace(baseFiles()["flags/checkout.yaml"], "[ann]", "[ann, bo]", 1)}, "second")
	r.Push("main")
	shallow := filepath.Join(t.TempDir(), "shallow")
	r.Git("clone", "--quiet", "--depth", "1", "file://"+r.Bare, shallow)
	_, err := Diff(Request{Repo: shallow, Base: "HEAD~1", Now: testNow})
	if !errors.Is(err, ErrMissingRef) || !strings.Contains(err.Error(), "shallow clone") || !strings.Contains(err.Error(), "--unshallow") {
		t.Errorf("shallow: %v", err)
	}
	// The commit itself compares fine with its work tree.
	rep, err := Diff(Request{Repo: shallow, Base: "HEAD", Now: testNow})
	if err != nil || rep.Changed {
		t.Errorf("HEAD against the work tree of a shallow clone: %v %+v", err, rep)
	}
}

func TestUnrelatedHistoriesAndDirectories(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.Git("checkout", "--quiet", "--orphan", "other")
	files := baseFiles()
	files["flags/checkout.yaml"] = strings.Replace(files["flags/checkout.yaml"], "[ann]", "[ann, bo]", 1)
	r.Commit(files, "unrelated")
	rep := diffOf(t, r, "main", "other")
	if len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "unrelated histories") {
		t.Errorf("notes: %q", rep.Notes)
	}
	if d := rep.Environments[0].Flags[0].Details; len(d) != 1 || d[0] != `rule 2 "beta": users now also bo` {
		t.Errorf("details: %q", d)
	}
	// Two directories, no git involved; the work tree is the default HEAD.
	old := filepath.Join(t.TempDir(), "old")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range baseFiles() {
		p := filepath.Join(old, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Diff(Request{Repo: r.Work, Base: old, Now: testNow})
	if err != nil || !rep.Changed || rep.Base.Label != "directory "+old || !strings.HasPrefix(rep.Head.Label, "work tree of ") {
		t.Errorf("directories: %v %+v", err, rep)
	}
}

func TestPrerequisiteRampScheduleKind(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	files := map[string]string{
		"flags/api.yaml": `key: api
variants: {on: true, off: false}
default: "off"
rules:
  - rollout: {"on": 50, "off": 50}
`,
		"flags/checkout.yaml": `key: checkout
variants: {on: true, off: false}
default: "on"
requires: [{flag: api, variants: ["on"]}]
`,
		"flags/gradual.yaml": `key: gradual
variants: {on: true, off: false}
default: "off"
kind: release
metadata: {jira: GROW-1}
rules:
  - ramp: {serve: "on", otherwise: "off", from: 5, step: 5, every: 1h, start: 2026-11-30T09:00:00Z}
`,
	}
	r.Commit(files, "prerequisites and ramps")
	files["flags/api.yaml"] = strings.Replace(files["flags/api.yaml"], `{"on": 50, "off": 50}`, `{"on": 20, "off": 80}`, 1)
	files["flags/gradual.yaml"] = `key: gradual
variants: {on: true, off: false}
default: "off"
kind: experiment
metadata: {jira: GROW-2, team: growth}
rules:
  - ramp: {serve: "on", otherwise: "off", from: 10, step: 5, every: 30m, start: 2026-11-30T09:00:00Z}
schedule:
  - {at: 2026-12-24T00:00:00Z, enabled: false}
`
	r.Commit(files, "slower api, faster ramp")
	rep := diffOf(t, r, "HEAD~1", "HEAD")
	flags := map[string]FlagChange{}
	for _, f := range rep.Environments[0].Flags {
		flags[f.Key] = f
	}
	if c := flags["checkout"]; c.Change != Affected || strings.Join(c.Via, ",") != "prerequisite api" || c.Exposure.Switched == 0 {
		t.Errorf("checkout: %+v %+v", c, c.Exposure)
	}
	got := strings.Join(flags["gradual"].Details, "\n")
	for _, w := range []string{
		"rule 1: ramp from 5% → 10%; ramp every 1h0m0s → 30m0s; cap now 20% → 40%",
		"schedule step added: from 2026-12-24T00:00:00Z: disabled",
		"kind release → experiment",
		`metadata jira: "GROW-1" → "GROW-2"`,
		`metadata team added: "growth"`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("gradual details lack %q:\n%s", w, got)
		}
	}
	// At 12:00 the ramp was at 5+3*5 = 20% and is now at 10+6*5 = 40%.
	e := flags["gradual"].Exposure
	if e.Switched == 0 || e.Switches[0].From != "off" || e.Switches[0].To != "on" {
		t.Errorf("gradual exposure: %+v", e)
	}
}

func TestAttributeRetypedAndOversizeFile(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	files := baseFiles()
	files["flags/checkout.yaml"] = `key: checkout
variants: {on: true, off: false}
default: "off"
rules:
  - {conditions: [{attribute: age, operator: exists}], serve: "on"}
`
	r.Commit(files, "age exists")
	r.Commit(map[string]string{"attributes.yaml": strings.Replace(files["attributes.yaml"], "{name: age, type: number}", "{name: age, type: string}", 1)}, "age is a string")
	rep := diffOf(t, r, "HEAD~1", "HEAD")
	if strings.Join(rep.Repository, "\n") != "attribute age: type number → string" {
		t.Errorf("repository: %q", rep.Repository)
	}
	f := rep.Environments[0].Flags
	if len(f) != 1 || f[0].Key != "checkout" || f[0].Change != Affected || strings.Join(f[0].Via, ",") != "attribute age (number → string)" {
		t.Errorf("flags: %+v", f)
	}
	// A file over the loader's bound is reported by it, without the whole
	// blob being written out.
	r.Commit(map[string]string{"flags/big.yaml": "key: big\ndescription: " + strings.Repeat("x", 2<<20) + "\n"}, "big")
	rep, err := Diff(Request{Repo: r.Work, Base: "HEAD~1", Head: "HEAD", Now: testNow})
	if !errors.Is(err, ErrInvalidHead) || len(rep.Head.Errors) != 1 || !strings.Contains(rep.Head.Errors[0], "flags/big.yaml: file is 2097175 bytes, over the limit of 1048576") {
		t.Errorf("oversize: %v %q", err, rep.Head.Errors)
	}
}

func TestBaseBeforeTheFlagsDirectory(t *testing.T) {
	t.Parallel()
	r := gitrepo.New(t)
	r.Commit(map[string]string{"README.md": "a service\n"}, "before flags")
	files := map[string]string{}
	for name, content := range baseFiles() {
		files["config/flags/"+name] = content
	}
	r.Commit(files, "flags")
	rep, err := Diff(Request{Repo: filepath.Join(r.Work, "config", "flags"), Base: "HEAD~1", Head: "HEAD", Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Base.Valid || !strings.Contains(strings.Join(rep.Base.Errors, "\n"), "flagpole.yaml: file not found") {
		t.Errorf("base: %+v", rep.Base)
	}
	if f := rep.Environments[0].Flags; len(f) != 2 || f[0].Change != Added || f[1].Change != Added {
		t.Errorf("flags: %+v", f)
	}
	// A subdirectory of the git repository is read at the same place in
	// every commit.
	rep, err = Diff(Request{Repo: filepath.Join(r.Work, "config", "flags"), Base: "HEAD", Now: testNow})
	if err != nil || rep.Changed || !rep.Base.Valid {
		t.Errorf("HEAD against its own work tree: %v %+v", err, rep)
	}
}
