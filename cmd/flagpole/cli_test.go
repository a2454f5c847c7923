package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, exitUsage, "Usage: flagpole"},
		{"unknown command", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"help", []string{"help"}, exitOK, "validate"},
		{"version", []string{"version"}, exitOK, "flagpole dev"},
		{"validate bad format", []string{"validate", "--format", "xml"}, exitUsage, "--format (or FLAGPOLE_FORMAT) must be one of github, json, text"},
		{"validate two dirs", []string{"validate", "a", "b"}, exitUsage, "at most one directory"},
		{"eval without flag", []string{"eval", "."}, exitUsage, "--flag is required"},
		{"keys without new", []string{"keys"}, exitUsage, "keys new"},
		{"breaker without redis", []string{"breaker"}, exitUsage, "--redis is required"},
		{"breaker bad interval", []string{"breaker", "--redis", "redis://x", "--interval", "0s"}, exitUsage, "--interval must be positive"},
		{"keys bad kind", []string{"keys", "new", "--env", "production", "--name", "x", "--kind", "root"}, exitUsage, "--kind (or FLAGPOLE_KIND) must be one of admin, client, server, trigger, viewer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := flagpole(t, "", nil, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if got := r.stdout + r.stderr; !strings.Contains(got, tt.want) {
				t.Errorf("output does not contain %q:\n%s", tt.want, got)
			}
		})
	}
}

func TestValidateExample(t *testing.T) {
	for _, format := range []string{"text", "json", "github"} {
		t.Run(format, func(t *testing.T) {
			r := flagpole(t, "", nil, "validate", exampleRepo(t), "--format", format)
			if r.code != exitOK {
				t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			if format == "json" {
				var out struct {
					Valid  bool `json:"valid"`
					Errors int  `json:"errors"`
				}
				if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
					t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
				}
				if !out.Valid || out.Errors != 0 {
					t.Errorf("got %+v, want valid", out)
				}
			}
		})
	}
}

// copyDir copies a directory tree of regular files.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestValidateReportsFileAndLine(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, exampleRepo(t), dir)
	bad := "key: broken-flag\nname: Broken\nenabled: maybe\nrules:\n  - serve: nowhere\n"
	if err := os.WriteFile(filepath.Join(dir, "flags", "broken-flag.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}

	r := flagpole(t, "", nil, "validate", dir)
	if r.code != exitFailure {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !regexp.MustCompile(`(?m)^flags/broken-flag\.yaml:3:\d+: enabled`).MatchString(r.stdout) {
		t.Errorf("no error at flags/broken-flag.yaml:3 naming enabled:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "invalid") {
		t.Errorf("no summary line:\n%s", r.stdout)
	}

	r = flagpole(t, "", nil, "validate", dir, "--format", "github")
	if r.code != exitFailure {
		t.Fatalf("github format: exit %d, want 1", r.code)
	}
	want := "::error file=" + filepath.ToSlash(filepath.Join(dir, "flags", "broken-flag.yaml")) + ",line=3,"
	if !strings.Contains(r.stdout, want) {
		t.Errorf("github output lacks %q:\n%s", want, r.stdout)
	}
}

func TestValidateMissingDir(t *testing.T) {
	r := flagpole(t, "", nil, "validate", filepath.Join(t.TempDir(), "nope"))
	if r.code != exitFailure {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout+r.stderr, "nope") {
		t.Errorf("error does not name the directory:\n%s%s", r.stdout, r.stderr)
	}
}

func TestInitThenValidate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "flags")
	if r := flagpole(t, "", nil, "init", dir); r.code != exitOK {
		t.Fatalf("init: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := flagpole(t, "", nil, "validate", dir); r.code != exitOK {
		t.Fatalf("validate after init: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := flagpole(t, "", nil, "init", dir)
	if r.code != exitFailure || !strings.Contains(r.stderr, "flagpole.yaml") {
		t.Errorf("second init: exit %d, want 1 naming flagpole.yaml\n%s", r.code, r.stderr)
	}
}

func TestKeysNew(t *testing.T) {
	r := flagpole(t, "", nil, "keys", "new", "--env", "production", "--kind", "client", "--name", "web-app")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	key := regexp.MustCompile(`(?m)^fp_cli_[A-Za-z0-9_-]{43}$`).FindString(r.stdout)
	if key == "" {
		t.Fatalf("no client key in output:\n%s", r.stdout)
	}
	sum := sha256.Sum256([]byte(key))
	for _, want := range []string{"name: web-app", "environment: production", "kind: client", "sha256: " + hex.EncodeToString(sum[:])} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestEnvironmentVariables(t *testing.T) {
	r := flagpole(t, "", []string{"FLAGPOLE_FORMAT=json"}, "validate", exampleRepo(t))
	if r.code != exitOK || !strings.HasPrefix(strings.TrimSpace(r.stdout), "{") {
		t.Errorf("FLAGPOLE_FORMAT=json: exit %d, output:\n%s", r.code, r.stdout)
	}
	r = flagpole(t, "", []string{"FLAGPOLE_FORMAT=yaml"}, "validate", exampleRepo(t))
	if r.code != exitUsage || !strings.Contains(r.stderr, "FLAGPOLE_FORMAT") {
		t.Errorf("bad FLAGPOLE_FORMAT: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
