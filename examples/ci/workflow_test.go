package ci

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// ghStep is a step of a GitHub Actions job.
type ghStep struct {
	ID   string            `yaml:"id"`
	Name string            `yaml:"name"`
	Run  string            `yaml:"run"`
	Uses string            `yaml:"uses"`
	If   string            `yaml:"if"`
	Env  map[string]string `yaml:"env"`
}

type ghWorkflow struct {
	Jobs map[string]struct {
		Env   map[string]string `yaml:"env"`
		Steps []ghStep          `yaml:"steps"`
	} `yaml:"jobs"`
}

type glJob struct {
	Variables map[string]string `yaml:"variables"`
	Script    []string          `yaml:"script"`
}

var expression = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// expand replaces the GitHub expressions of s with vars; an expression
// the test does not know fails it.
func expand(t *testing.T, s string, vars map[string]string) string {
	t.Helper()
	return expression.ReplaceAllStringFunc(s, func(m string) string {
		expr := expression.FindStringSubmatch(m)[1]
		v, ok := vars[expr]
		if !ok {
			t.Fatalf("the workflow uses ${{ %s }}, which the test does not provide", expr)
		}
		return v
	})
}

// readWorkflow reads job of a workflow file and its steps by id; each of
// ids must be a step with a run command.
func readWorkflow(t *testing.T, file, jobName string, ids ...string) (jobEnv map[string]string, steps map[string]ghStep, all []ghStep) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var wf ghWorkflow
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	job, ok := wf.Jobs[jobName]
	if !ok {
		t.Fatalf("%s has no job %s", file, jobName)
	}
	steps = map[string]ghStep{}
	for _, s := range job.Steps {
		if s.ID != "" {
			steps[s.ID] = s
		}
	}
	for _, id := range ids {
		if steps[id].Run == "" {
			t.Fatalf("%s: no step with id %s and a run command", file, id)
		}
	}
	return job.Env, steps, job.Steps
}

// runStep runs a workflow step's command as the GitHub runner does
// (bash -e), in repo, with the job's and the step's environment.
func runStep(t *testing.T, repo string, environ []string, jobEnv map[string]string, s ghStep, vars map[string]string) result {
	t.Helper()
	e := append([]string(nil), environ...)
	for _, m := range []map[string]string{jobEnv, s.Env} {
		for k, v := range m {
			e = append(e, k+"="+expand(t, v, vars))
		}
	}
	return runIn(t, repo, e, "bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", expand(t, s.Run, vars))
}

// TestGitHubWorkflow runs the validate, test and diff steps of the example
// workflow on two pull requests against the replayed history of
// flags.example: one that changes a rollout and an audience (every step
// passes, the diff names both), one that breaks a written expectation
// (test fails with the trace of the case).
func TestGitHubWorkflow(t *testing.T) {
	bin := buildFlagpole(t)
	environ := env(bin)
	repo := replayExample(t, environ)
	base := git(t, repo, environ, "rev-parse", "HEAD")
	jobEnv, steps, all := readWorkflow(t, "github-workflow.yaml", "flags", "validate", "test", "diff")
	vars := map[string]string{"github.event.pull_request.base.sha": base}

	posted := false
	for _, s := range all {
		if strings.Contains(s.Run, "gh pr comment") && strings.Contains(s.Run, "--body-file flagpole-diff.md") {
			posted = true
		}
	}
	if !posted {
		t.Error("no step posts flagpole-diff.md as the pull request comment")
	}
	if !strings.Contains(steps["diff"].Run, "> flagpole-diff.md") {
		t.Error("the diff step does not write flagpole-diff.md")
	}

	// A good pull request: a rollout moves and an audience gains a state.
	git(t, repo, environ, "checkout", "-q", "-b", "rollout-and-audience")
	edit(t, repo, "flags/checkout-v2.yaml", "rollout: {on: 12.5, off: 87.5}", "rollout: {on: 25, off: 75}")
	edit(t, repo, "audiences/west-coast-students.yaml", "values: [CA, WA, OR]", "values: [CA, WA, OR, NV]")
	git(t, repo, environ, "commit", "-q", "-am", "checkout-v2 to 25%, west coast students in NV")

	if r := runStep(t, repo, environ, jobEnv, steps["validate"], vars); r.code != 0 || strings.Contains(r.stdout, "::error") {
		t.Errorf("validate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runStep(t, repo, environ, jobEnv, steps["test"], vars); r.code != 0 || !strings.Contains(r.stdout, " 0 failed") {
		t.Errorf("test: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := runStep(t, repo, environ, jobEnv, steps["diff"], vars)
	md, err := os.ReadFile(filepath.Join(repo, "flagpole-diff.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"`checkout-v2`", "rollout on 12.5% → 25%", "audience `west-coast-students` now also matches state NV", "sample contexts"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("the diff comment lacks %q", want)
		}
	}
	if r.code != 0 {
		t.Errorf("diff: exit %d\n%s\n%s%s", r.code, md, r.stdout, r.stderr)
	}

	// A pull request that breaks tests/west-coast-student-banner.yaml.
	git(t, repo, environ, "checkout", "-q", "-B", "breaks-a-test", base)
	edit(t, repo, "flags/west-coast-student-banner.yaml", "rollout: {on: 25, off: 75}", "rollout: {on: 40, off: 60}")
	git(t, repo, environ, "commit", "-q", "-am", "banner to 40%")
	if r := runStep(t, repo, environ, jobEnv, steps["validate"], vars); r.code != 0 {
		t.Errorf("validate on the breaking change: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runStep(t, repo, environ, jobEnv, steps["test"], vars)
	if r.code != 1 || !strings.Contains(r.stdout, `FAIL tests/west-coast-student-banner.yaml`) || !strings.Contains(r.stdout, "rollout on 40%, off 60% by key") {
		t.Errorf("test on the breaking change: exit %d (want 1 with the trace)\n%s%s", r.code, r.stdout, r.stderr)
	}

	// An invalid change: validate fails with an annotation on the line.
	edit(t, repo, "flags/west-coast-student-banner.yaml", "kind: release", "kind: forever")
	git(t, repo, environ, "commit", "-q", "-am", "a kind that does not exist")
	r = runStep(t, repo, environ, jobEnv, steps["validate"], vars)
	if r.code != 1 || !regexp.MustCompile(`::error file=flags/west-coast-student-banner\.yaml,line=\d+,col=7,title=flagpole validate::kind: value must be one of`).MatchString(r.stdout) {
		t.Errorf("validate on an invalid change: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestGitLabJob runs the example GitLab job's script on a merge request
// against the replayed history of flags.example.
func TestGitLabJob(t *testing.T) {
	b, err := os.ReadFile("gitlab-ci.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var jobs map[string]glJob
	if err := yaml.Unmarshal(b, &jobs); err != nil {
		t.Fatalf("gitlab-ci.yaml: %v", err)
	}
	job, ok := jobs["flags"]
	if !ok || len(job.Script) == 0 {
		t.Fatal("gitlab-ci.yaml has no job flags with a script")
	}
	bin := buildFlagpole(t)
	environ := env(bin)
	repo := replayExample(t, environ)
	base := git(t, repo, environ, "rev-parse", "HEAD")
	git(t, repo, environ, "checkout", "-q", "-b", "mr")
	edit(t, repo, "flags/checkout-v2.yaml", "rollout: {on: 12.5, off: 87.5}", "rollout: {on: 25, off: 75}")
	git(t, repo, environ, "commit", "-q", "-am", "checkout-v2 to 25%")

	e := append(environ, "CI_MERGE_REQUEST_DIFF_BASE_SHA="+base, "FLAGPOLE_GITLAB_TOKEN=")
	for k, v := range job.Variables {
		e = append(e, k+"="+v)
	}
	// GitLab runs the script's lines in one shell that stops at the first
	// failing command.
	r := runIn(t, repo, e, "bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", strings.Join(job.Script, "\n"))
	if !strings.Contains(r.stdout, "valid (") || !strings.Contains(r.stdout, " 0 failed") {
		t.Errorf("validate or test did not pass:\n%s%s", r.stdout, r.stderr)
	}
	md, _ := os.ReadFile(filepath.Join(repo, "flagpole-diff.md"))
	if r.code != 0 || !strings.Contains(string(md), "rollout on 12.5% → 25%") {
		t.Errorf("exit %d\n%s\n%s%s", r.code, md, r.stdout, r.stderr)
	}
}

// TestPreCommitHook installs the example hook and commits to the replayed
// flags.example: an invalid flag and a broken expectation are refused, a
// good change and a commit of other files go through.
func TestPreCommitHook(t *testing.T) {
	bin := buildFlagpole(t)
	environ := env(bin)
	repo := replayExample(t, environ)
	hook, err := os.ReadFile("pre-commit")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, ".git", "hooks", "pre-commit"), hook, 0o755); err != nil {
		t.Fatal(err)
	}
	commit := func(msg string) result {
		git(t, repo, environ, "add", "-A")
		return runIn(t, repo, environ, "git", "commit", "-q", "-m", msg)
	}

	edit(t, repo, "flags/checkout-v2.yaml", "rollout: {on: 12.5, off: 87.5}", "rollout: {on: 25, off: 70}")
	if r := commit("rollout that does not sum to 100"); r.code == 0 || !strings.Contains(r.stderr, "flagpole validate failed") {
		t.Errorf("invalid commit: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	edit(t, repo, "flags/checkout-v2.yaml", "rollout: {on: 25, off: 70}", "rollout: {on: 25, off: 75}")
	if r := commit("checkout-v2 to 25%"); r.code != 0 {
		t.Errorf("good commit refused: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	edit(t, repo, "flags/west-coast-student-banner.yaml", "rollout: {on: 25, off: 75}", "rollout: {on: 40, off: 60}")
	if r := commit("banner to 40%"); r.code == 0 || !strings.Contains(r.stdout+r.stderr, "flagpole test failed") || !strings.Contains(r.stdout+r.stderr, "FAIL tests/west-coast-student-banner.yaml") {
		t.Errorf("commit breaking a test: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	git(t, repo, environ, "checkout", "HEAD", "--", "flags/west-coast-student-banner.yaml")
	if err := os.WriteFile(filepath.Join(repo, "NOTES.txt"), []byte("not a flag file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := commit("notes"); r.code != 0 {
		t.Errorf("commit of a non-YAML file refused: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestStaleWorkflow runs the scheduled workflow's stale step on the
// replayed flags.example: it lists flags (legacy-export is disabled
// everywhere), says so in its output for the issue step, and fails only
// when flagpole cannot judge the repository.
func TestStaleWorkflow(t *testing.T) {
	bin := buildFlagpole(t)
	environ := env(bin)
	repo := replayExample(t, environ)
	jobEnv, steps, all := readWorkflow(t, "github-stale.yaml", "stale", "stale")
	issue := false
	for _, s := range all {
		issue = issue || (strings.Contains(s.Run, "gh issue create") && strings.Contains(s.Run, "--body-file stale-flags.md") &&
			strings.Contains(s.If, "steps.stale.outputs.found == 'true'"))
	}
	if !issue {
		t.Error("no step opens an issue with stale-flags.md when the stale step found some")
	}
	run := func() (result, string) {
		out := filepath.Join(t.TempDir(), "github-output")
		s := steps["stale"]
		s.Env = map[string]string{"GITHUB_OUTPUT": out}
		r := runStep(t, repo, environ, jobEnv, s, nil)
		b, _ := os.ReadFile(out)
		return r, string(b)
	}
	r, out := run()
	md, _ := os.ReadFile(filepath.Join(repo, "stale-flags.md"))
	if r.code != 0 || out != "found=true\n" || !strings.Contains(string(md), "| `legacy-export` | operational |") {
		t.Errorf("stale: exit %d, output %q\n%s\n%s%s", r.code, out, md, r.stdout, r.stderr)
	}
	// An invalid repository fails the step instead of opening an issue.
	edit(t, repo, "flagpole.yaml", "version: 1", "version: 7")
	if r, out = run(); r.code != 3 || out != "" {
		t.Errorf("stale on an invalid repository: exit %d (want 3), output %q\n%s%s", r.code, out, r.stdout, r.stderr)
	}
}
