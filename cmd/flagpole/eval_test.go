package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEvalJSON(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		variant string
		reason  string
		rule    any
	}{
		{"allow list", []string{"--flag", "checkout-v2", "--context", `{"key":"audrey"}`}, "on", "TARGETING_MATCH", "allow list"},
		{"rollout", []string{"--flag", "west-coast-student-banner", "--context", `{"key":"juan"}`}, "on", "SPLIT", "everyone else"},
		{"staging overlay", []string{"--flag", "checkout-v2", "--env", "staging", "--context", `{"key":"zed"}`}, "on", "TARGETING_MATCH", "everyone in staging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"eval", exampleRepo(t), "--format", "json"}, tt.args...)
			r := flagpole(t, "", nil, args...)
			if r.code != exitOK {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			var out map[string]any
			dec := json.NewDecoder(strings.NewReader(r.stdout))
			if err := dec.Decode(&out); err != nil {
				t.Fatalf("not one JSON object: %v\n%s", err, r.stdout)
			}
			if dec.More() {
				t.Fatalf("more than one JSON value:\n%s", r.stdout)
			}
			for _, f := range []string{"flag", "value", "variant", "reason", "rule"} {
				if _, ok := out[f]; !ok {
					t.Errorf("field %q missing: %s", f, r.stdout)
				}
			}
			if out["variant"] != tt.variant || out["reason"] != tt.reason || out["rule"] != tt.rule {
				t.Errorf("got variant %v reason %v rule %v, want %s %s %v", out["variant"], out["reason"], out["rule"], tt.variant, tt.reason, tt.rule)
			}
		})
	}
}

func TestEvalExplain(t *testing.T) {
	r := flagpole(t, "", nil, "eval", exampleRepo(t), "--flag", "west-coast-student-banner",
		"--context", `{"key":"juan","state":"CA","student":true}`, "--explain")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{`users audrey, rob`, `state = "CA"`, "bucket 15230", `variant "on"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explanation lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"--flag", "no-such-flag"}, exitFailure, `flag "no-such-flag" not found in environment production`},
		{"unknown environment", []string{"--flag", "checkout-v2", "--env", "qa"}, exitFailure, `environment "qa" is not declared`},
		{"context not an object", []string{"--flag", "checkout-v2", "--context", `[1,2]`}, exitUsage, "--context"},
		{"context nested value", []string{"--flag", "checkout-v2", "--context", `{"tags":["a"]}`}, exitUsage, "tags"},
		{"at not a time", []string{"--flag", "winter-theme", "--at", "tomorrow"}, exitUsage, `--at "tomorrow" is not an RFC 3339 time`},
		{"at a date only", []string{"--flag", "winter-theme", "--at", "2026-12-24"}, exitUsage, "--at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"eval", exampleRepo(t)}, tt.args...)
			r := flagpole(t, "", nil, args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d (want %d), stderr lacks %q:\n%s", r.code, tt.code, tt.want, r.stderr)
			}
		})
	}
}

// eval --at explains a prerequisite with its own trace, the ramp's cap at
// that time and the schedule step in force, and prints the metadata.
func TestEvalAtExplain(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--flag", "express-checkout", "--context", `{"key":"user-2"}`},
			[]string{`requires checkout-v2 to serve on: no, checkout-v2 serves "off"`, `rollout on 12.5%, off 87.5% by key: key = "user-2" → yes, bucket 57580`,
				`(PREREQUISITE_FAILED)`, `metadata: {"jira":"PAY-2210","surface":"web"}`}},
		{[]string{"--flag", "search-ranking-v3", "--at", "2026-12-05T10:00:00Z", "--context", `{"key":"user-3"}`},
			[]string{`cap 25% at 2026-12-05T10:00:00Z: bucket 29031 ≥ 25000 → "off"`, `now: 2026-12-05T10:00:00Z`}},
		{[]string{"--flag", "winter-theme", "--at", "2026-12-24T00:00:00Z", "--context", `{"key":"u","country":"NZ"}`},
			[]string{`schedule: step[1] at 2026-12-24T00:00:00Z in force: 1 rules; next step at 2027-01-07T00:00:00Z`, `reason TARGETING_MATCH`}},
		{[]string{"--flag", "winter-theme", "--at", "2026-11-30T23:59:59Z"},
			[]string{`schedule: no step in force yet (step[0] at 2026-12-01T00:00:00Z)`, `reason DISABLED`}},
	}
	for _, tt := range tests {
		r := flagpole(t, "", nil, append([]string{"eval", exampleRepo(t), "--explain"}, tt.args...)...)
		if r.code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", tt.args, r.code, r.stdout, r.stderr)
		}
		for _, want := range tt.want {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%v: output lacks %q:\n%s", tt.args, want, r.stdout)
			}
		}
	}
}
