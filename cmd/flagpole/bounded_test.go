package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/internal/testutil/redistest"
)

// aliasBomb is a flag file of about 1 MiB whose every list entry is a YAML
// alias: 340,000 validation errors.
func aliasBomb() string {
	const n = 340000
	var b strings.Builder
	b.WriteString("key: bomb\nvariants: {on: true, off: false}\nx: &a 1\nusers: [*a")
	for range n - 1 {
		b.WriteString(",*a")
	}
	b.WriteString("]\n")
	return b.String()
}

// TestValidationErrorsAreBounded adds a file with 340,000 errors: the
// status (on the bearer and in Redis) and the log line of the failed sync
// stay small, anonymous callers see locations but no messages, and
// `flagpole validate` still lists every problem.
func TestValidationErrorsAreBounded(t *testing.T) {
	t.Parallel() // a daemon that mostly waits: overlap it with the others
	const bound = 256 << 10
	srv := redistest.Start(t)
	dir := t.TempDir()
	copyDir(t, exampleRepo(t), dir)
	d := startDaemon(t, "serve", "--repo", dir, "--redis", srv.URL())
	waitFor(t, "the first rule set", func() bool { return versionOf(t, d) != "" })
	bomb := filepath.Join(dir, "flags", "bomb.yaml")
	if err := os.WriteFile(bomb, []byte(aliasBomb()), 0o644); err != nil {
		t.Fatal(err)
	}

	var body []byte
	var lastErr map[string]any
	waitFor(t, "the sync error in /v1/status", func() bool {
		var code int
		code, _, body = get(t, d.url+"/v1/status", "")
		if code != http.StatusOK {
			t.Fatalf("GET /v1/status: %d", code)
		}
		sync, _ := status(t, d)["sync"].(map[string]any)
		lastErr, _ = sync["last_error"].(map[string]any)
		return lastErr != nil
	})
	if len(body) > bound {
		t.Errorf("/v1/status is %d bytes, want at most %d", len(body), bound)
	}
	if n, _ := lastErr["problem_count"].(float64); n != 340000 {
		t.Errorf("problem_count = %v, want 340000", lastErr["problem_count"])
	}
	problems, _ := lastErr["problems"].([]any)
	if len(problems) == 0 || len(problems) > 100 {
		t.Errorf("%d problems listed, want 1 to 100", len(problems))
	}
	if len(problems) > 0 && problems[0] != "flags/bomb.yaml:4:9: users[0]" {
		t.Errorf("first problem %q, want its location only", problems[0])
	}
	if strings.Contains(string(body), "aliases are not supported") {
		t.Error("/v1/status shows problem messages to a caller without a key")
	}
	rdb := redisClient(t, srv)
	if n, err := rdb.StrLen(context.Background(), "flagpole:status").Result(); err != nil || n > bound {
		t.Errorf("flagpole:status is %d bytes (%v), want at most %d", n, err, bound)
	}
	waitFor(t, "the failed sync in the log", func() bool { return strings.Contains(d.Logs(), "sync failed") })
	for line := range strings.Lines(d.Logs()) {
		if len(line) > bound {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
	}

	r := flagpole(t, "", nil, "validate", dir)
	if n := strings.Count(r.stdout, "YAML aliases are not supported"); r.code != exitFailure || n != 340000 {
		t.Errorf("validate: exit %d, %d alias errors listed, want 1 and 340000", r.code, n)
	}
}

// regexBomb is a flag of n rules, each matching key against a regular
// expression that scans the whole value.
func regexBomb(n int) string {
	var b strings.Builder
	b.WriteString("key: regex-bomb\nclient: true\nvariants: {on: true, off: false}\ndefault: off\nrules:\n")
	for i := range n {
		fmt.Fprintf(&b, "- {conditions: [{attribute: key, operator: matches, value: '(x|y)+%d$'}], serve: on}\n", i)
	}
	return b.String()
}

// TestEvaluationCostIsBounded: a flag of 10,000 regular expression rules
// and a 65 KB (64 KiB) context attribute held /v1/evaluate for 35 s and answered
// nothing. The flag is now refused at sync (the last good rule set keeps
// serving, the status names the file and field) and the attribute gets a
// 400 naming it.
func TestEvaluationCostIsBounded(t *testing.T) {
	t.Parallel() // a daemon that mostly waits: overlap it with the others
	dir := t.TempDir()
	copyDir(t, exampleRepo(t), dir)
	d := startDaemon(t, "serve", "--repo", dir)
	waitFor(t, "the first rule set", func() bool { return versionOf(t, d) != "" })
	good := versionOf(t, d)
	if err := os.WriteFile(filepath.Join(dir, "flags", "regex-bomb.yaml"), []byte(regexBomb(10000)), 0o644); err != nil {
		t.Fatal(err)
	}
	var problems []any
	waitFor(t, "the sync error in /v1/status", func() bool {
		sync, _ := status(t, d)["sync"].(map[string]any)
		lastErr, _ := sync["last_error"].(map[string]any)
		problems, _ = lastErr["problems"].([]any) // locations only, without a key
		return len(problems) > 0
	})
	if !strings.Contains(fmt.Sprint(problems), "flags/regex-bomb.yaml:6:1: rules") {
		t.Errorf("status locations %v, want flags/regex-bomb.yaml:6:1: rules", problems)
	}
	if v := versionOf(t, d); v != good {
		t.Errorf("version %s after the refused commit, want %s still serving", v, good)
	}
	long := strings.Repeat("x", 64000) // 64 KB: within the 64 KiB context limit
	code, _, body := do(t, http.MethodPost, d.url+"/v1/evaluate", prodClientKey,
		strings.NewReader(`{"context":{"key":"`+long+`"}}`), nil)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "context.key: string of") {
		t.Errorf("64 KB attribute: %d %.200s, want 400 naming context.key", code, body)
	}
	// validate names the same problem with its line.
	r := flagpole(t, "", nil, "validate", dir)
	if r.code != exitFailure || !strings.Contains(r.stdout, "flags/regex-bomb.yaml:6:1: rules: 10000 rules, over the limit of 1000") {
		t.Errorf("validate: exit %d\n%s", r.code, r.stdout)
	}
}
