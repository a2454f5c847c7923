// Package ofrepjs checks the bearer's OFREP endpoints with the official
// OpenFeature JavaScript OFREP providers (@openfeature/ofrep-provider for
// Node servers, @openfeature/ofrep-web-provider for browsers), pinned in
// package-lock.json: they must work unchanged against `flagpole serve`.
// The expected results come from `flagpole eval` on the same repository and
// context. The test skips when node or npm is not installed.
package ofrepjs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// Demo keys of flags.example (flags.example/DEMO-KEYS.md), and a
// well-formed key that no environment has.
const (
	prodServerKey = "fp_srv_prod_00924f0ac53302c0eed957fb2f4f221a"
	prodClientKey = "fp_cli_prod_9696b5d062735734a36c80b60533b635"
	unknownKey    = "fp_cli_prod_00000000000000000000000000000000"
	environment   = "production"
)

// contexts are OpenFeature evaluation contexts chosen to reach rules,
// audiences, rollouts and defaults of flags.example.
var contexts = []namedContext{
	{"student", map[string]any{"targetingKey": "juan", "state": "CA", "student": true, "beta": true, "country": "US", "app_version": "2.4.0", "plan": "free", "age": 17}},
	{"enterprise-eu", map[string]any{"targetingKey": "audrey", "plan": "enterprise", "country": "DE", "email": "qa+bot@example.com", "signup": "2026-03-01T00:00:00Z", "beta": true}},
	{"anonymous", map[string]any{"targetingKey": "user-42"}},
}

// flagEdit is a change of one flag file and the context whose result
// must change.
type flagEdit struct{ flag, file, context, old, new string }

// change is the edit made while the web provider polls; change2 undoes it
// while a web provider follows the OFREP event stream with polling off.
var (
	change  = flagEdit{"homepage-hero", "flags/homepage-hero.yaml", "anonymous", "\ndefault: static\n", "\ndefault: video\n"}
	change2 = flagEdit{change.flag, change.file, change.context, change.new, change.old}
)

// override is written into the copy of flags.example so that reason
// OVERRIDE reaches the providers too.
var override = struct{ file, text string }{"overrides/production/debug-panel.yaml", `# Written by tests/ofrep-js.
flag: debug-panel
environment: production
serve: on
reason: "OFREP conformance test"
by: tests/ofrep-js
at: 2026-01-01T00:00:00Z
`}

// wantReasons are the reasons the contexts must reach, so that the check
// keeps covering them when flags.example changes.
var wantReasons = []string{"DEFAULT", "TARGETING_MATCH", "SPLIT", "DISABLED", "OVERRIDE"}

type namedContext struct {
	Name    string         `json:"name"`
	Context map[string]any `json:"context"`
}

// flagInfo is what check.mjs needs to know of a flag.
type flagInfo struct {
	Key    string `json:"key" yaml:"key"`
	Type   string `json:"type" yaml:"type"`
	Client bool   `json:"client" yaml:"client"`
}

// result is one evaluation as `flagpole eval --format json` prints it.
type result struct {
	Value   any    `json:"value"`
	Variant string `json:"variant"`
	Reason  string `json:"reason"`
}

func TestOfficialProviders(t *testing.T) {
	requireNode(t)
	start := time.Now()
	installPackages(t)
	bin := buildFlagpole(t)
	repo := copyExample(t)
	if err := os.WriteFile(filepath.Join(repo, override.file), []byte(override.text), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := readFlags(t, repo)
	expected := map[string]map[string]result{}
	reasons := map[string]int{}
	for _, c := range contexts {
		expected[c.Name] = map[string]result{}
		for _, f := range flags {
			r := evalFlag(t, bin, repo, f.Key, c.Context)
			expected[c.Name][f.Key] = r
			reasons[r.Reason]++
		}
	}
	for _, r := range wantReasons {
		if reasons[r] == 0 {
			t.Errorf("no flag of flags.example gives reason %s for the test's contexts (reasons: %v); adjust the contexts", r, reasons)
		}
	}
	url := serve(t, bin, repo)
	t.Logf("setup took %s", time.Since(start).Round(time.Millisecond))
	cfg := map[string]any{
		"url":      url,
		"keys":     map[string]string{"server": prodServerKey, "client": prodClientKey, "unknown": unknownKey},
		"flags":    flags,
		"contexts": contexts,
		"expected": expected,
		"change":   map[string]string{"flag": change.flag, "context": change.context},
		// bearer.Options.MaxContextBytes, which flagpole serve leaves at its default.
		"maxContextBytes": 64 << 10,
	}
	start = time.Now()
	runCheck(t, cfg, map[string]func() result{
		"change":  func() result { return changeFlag(t, bin, repo, change) },
		"change2": func() result { return changeFlag(t, bin, repo, change2) },
	})
	t.Logf("check.mjs took %s", time.Since(start).Round(time.Millisecond))
}

// readFlags reads key, type and client of every flag of repo, with
// flagpole types mapped to OpenFeature's (json → object).
func readFlags(t *testing.T, repo string) []flagInfo {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repo, "flags", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no flags in %s (%v)", repo, err)
	}
	var flags []flagInfo
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var f flagInfo
		if err := yaml.Unmarshal(b, &f); err != nil {
			t.Fatalf("reading %s: %v", file, err)
		}
		switch f.Type {
		case "":
			f.Type = "boolean"
		case "json":
			f.Type = "object"
		}
		flags = append(flags, f)
	}
	return flags
}

// evalFlag runs `flagpole eval` for flag in the OpenFeature context oc,
// whose targetingKey is Flagpole's key.
func evalFlag(t *testing.T, bin, repo, flag string, oc map[string]any) result {
	t.Helper()
	fc := map[string]any{}
	for k, v := range oc {
		if k == "targetingKey" {
			k = "key"
		}
		fc[k] = v
	}
	ctxJSON, err := json.Marshal(fc)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "eval", repo, "--flag", flag, "--env", environment, "--context", string(ctxJSON), "--format", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("flagpole eval --flag %s --context %s: %v\n%s", flag, ctxJSON, err, stderr.String())
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("flagpole eval --flag %s printed %q: %v", flag, out, err)
	}
	return r
}

// changeFlag makes change in repo and returns its flag's new expected
// result for its context.
func changeFlag(t *testing.T, bin, repo string, change flagEdit) result {
	t.Helper()
	file := filepath.Join(repo, change.file)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(change.old)) {
		t.Fatalf("%s no longer contains %q; update the change of ofrep_test.go", file, change.old)
	}
	b = bytes.Replace(b, []byte(change.old), []byte(change.new), 1)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range contexts {
		if c.Name == change.context {
			return evalFlag(t, bin, repo, change.flag, c.Context)
		}
	}
	t.Fatalf("no context %q", change.context)
	return result{}
}

// runCheck runs check.mjs with cfg, answers each "WAITING <step>" with
// the result of onChange[step], and reports each FAIL line as a test
// error.
func runCheck(t *testing.T, cfg map[string]any, onChange map[string]func() result) {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "check.mjs", cfgPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node check.mjs: %v", err)
	}
	var out strings.Builder
	failed, summary := 0, ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		switch {
		case strings.HasPrefix(line, "FAIL "):
			failed++
			t.Error(line)
		case strings.HasPrefix(line, "WAITING "):
			step := strings.TrimPrefix(line, "WAITING ")
			fn := onChange[step]
			if fn == nil {
				t.Fatalf("check.mjs waits for an unknown step %q", step)
			}
			answer, err := json.Marshal(fn())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fmt.Fprintf(stdin, "%s\n", answer); err != nil {
				t.Errorf("answering check.mjs: %v", err)
			}
		case strings.Contains(line, " passed, "):
			summary = line
		}
	}
	stdin.Close()
	err = cmd.Wait()
	t.Logf("check.mjs: %s", summary)
	if err != nil && failed == 0 {
		t.Fatalf("node check.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}
	if summary == "" {
		t.Errorf("check.mjs did not finish:\n%s\nstderr:\n%s", out.String(), stderr.String())
	}
	if testing.Verbose() {
		t.Logf("check.mjs output:\n%s", out.String())
	}
}
