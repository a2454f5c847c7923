package loader

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

// writeRepo writes files (path → content) into a new temporary directory.
func writeRepo(t testing.TB, files map[string]string) string {
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

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestExampleRepository(t *testing.T) {
	repo, err := Load("../flags.example", Options{Now: fixed(corpusNow)})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(repo.Warnings) != 0 {
		t.Errorf("warnings: %v", repo.Warnings)
	}
	if got := repo.Settings.Environments; len(got) != 2 || got[0] != "production" || got[1] != "staging" {
		t.Errorf("environments = %v", got)
	}
	if n := repo.Documents["production"].Flags.Len(); n < 12 {
		t.Errorf("%d flags, want at least 12", n)
	}
	prod, staging := repo.RuleSets["production"], repo.RuleSets["staging"]
	tests := []struct {
		rs      *ruleset.RuleSet
		flag    string
		ctx     ruleset.Context
		variant string
		reason  ruleset.Reason
	}{
		{prod, "west-coast-student-banner", ruleset.Context{"key": "audrey"}, "on", ruleset.ReasonTargetingMatch},
		{prod, "west-coast-student-banner", ruleset.Context{"key": "juan"}, "on", ruleset.ReasonSplit}, // bucket 15230 < 25000
		{prod, "west-coast-student-banner", ruleset.Context{"key": "x", "state": "CA", "student": true, "beta": true}, "on", ruleset.ReasonTargetingMatch},
		{staging, "west-coast-student-banner", ruleset.Context{"key": "nobody-in-particular"}, "on", ruleset.ReasonTargetingMatch},
		{prod, "legacy-export", ruleset.Context{"key": "a", "plan": "enterprise"}, "off", ruleset.ReasonDisabled},
		{prod, "new-onboarding", ruleset.Context{"key": "a", "app_version": "2.2.9"}, "off", ruleset.ReasonDefault},
		{prod, "max-cart-items", ruleset.Context{"key": "a", "plan": "enterprise"}, "large", ruleset.ReasonTargetingMatch},
		{prod, "debug-panel", ruleset.Context{"key": "a", "email": "qa+checkout@example.com"}, "on", ruleset.ReasonTargetingMatch},
		{prod, "homepage-hero", ruleset.Context{"key": "a", "beta": true, "plan": "pro", "signup": "2026-01-01T00:00:00Z"}, "carousel", ruleset.ReasonTargetingMatch},
		{staging, "api-rate-limit", ruleset.Context{"key": "a"}, "high", ruleset.ReasonDefault},
		{prod, "checkout-v2", ruleset.Context{"key": "user-1", "now": "2026-11-21T10:01:00Z"}, "off", ruleset.ReasonOverride},
	}
	for _, tc := range tests {
		t.Run(tc.flag, func(t *testing.T) {
			r := tc.rs.Evaluate(tc.flag, tc.ctx)
			if r.Variant != tc.variant || r.Reason != tc.reason {
				t.Errorf("Evaluate(%s, %v) = %s %s, want %s %s", tc.flag, tc.ctx, r.Variant, r.Reason, tc.variant, tc.reason)
			}
		})
	}
}

// TestExampleDemoKeys checks that DEMO-KEYS.md holds the plaintext of
// exactly the keys whose hashes flagpole.yaml declares.
func TestExampleDemoKeys(t *testing.T) {
	repo, err := Load("../flags.example", Options{Now: fixed(corpusNow)})
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile("../flags.example/DEMO-KEYS.md")
	if err != nil {
		t.Fatal(err)
	}
	plain := regexp.MustCompile("`(fp_(srv|cli|adm|vwr)_[a-z]+_[0-9a-f]{32})`").FindAllStringSubmatch(string(md), -1)
	if len(plain) != len(repo.Settings.Keys) || len(plain) != 6 {
		t.Fatalf("%d plaintext keys for %d declared keys", len(plain), len(repo.Settings.Keys))
	}
	for i, m := range plain {
		sum := sha256.Sum256([]byte(m[1]))
		k := repo.Settings.Keys[i]
		if hex.EncodeToString(sum[:]) != k.SHA256 {
			t.Errorf("key %s: sha256 of %s does not match", k.Name, m[1])
		}
		if want := map[string]string{"srv": "server", "cli": "client", "adm": "admin", "vwr": "viewer"}[m[2]]; string(k.Kind) != want {
			t.Errorf("key %s is %s, its prefix says %s", k.Name, k.Kind, want)
		}
	}
	tokens := regexp.MustCompile("`(fp_trg_[a-z]+_[0-9a-f]{32})`").FindAllStringSubmatch(string(md), -1)
	if len(tokens) != len(repo.Settings.Triggers) || len(tokens) != 1 {
		t.Fatalf("%d plaintext tokens for %d declared triggers", len(tokens), len(repo.Settings.Triggers))
	}
	for i, m := range tokens {
		sum := sha256.Sum256([]byte(m[1]))
		if tr := repo.Settings.Triggers[i]; hex.EncodeToString(sum[:]) != tr.SHA256 {
			t.Errorf("trigger %s: sha256 of %s does not match", tr.Name, m[1])
		}
	}
}

func TestLoadReadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := Load(missing, Options{})
	var ds Diagnostics
	if err == nil || errors.As(err, &ds) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing) = %v; want an I/O error naming the path", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(file, Options{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Load(file) = %v", err)
	}
}

const settingsOnly = "version: 1\nenvironments: [production]\n"

func TestDefaultMaxFileSize(t *testing.T) {
	big := "key: big\ndescription: " + strings.Repeat("x", DefaultMaxFileSize) + "\n"
	dir := writeRepo(t, map[string]string{"flagpole.yaml": settingsOnly, "flags/big.yaml": big})
	_, err := Load(dir, Options{})
	var ds Diagnostics
	if !errors.As(err, &ds) || len(ds) != 1 || ds[0].File != "flags/big.yaml" || !strings.Contains(ds[0].Message, "over the limit of 1048576") {
		t.Fatalf("Load = %v", err)
	}
	if _, err := Load(dir, Options{MaxFileSize: 2 << 20}); err != nil {
		t.Errorf("with a 2 MiB limit: %v", err)
	}
}

func TestVersion(t *testing.T) {
	files := map[string]string{"flagpole.yaml": settingsOnly, "flags/a.yaml": "key: a\n"}
	load := func(dir string, rev string) string {
		t.Helper()
		repo, err := Load(dir, Options{Revision: rev})
		if err != nil {
			t.Fatal(err)
		}
		if d := repo.Documents["production"]; d.Version != repo.Version || d.Commit != repo.Version {
			t.Errorf("document version %q commit %q, repo %q", d.Version, d.Commit, repo.Version)
		}
		return repo.Version
	}
	a1, a2 := load(writeRepo(t, files), ""), load(writeRepo(t, files), "")
	if a1 != a2 || len(a1) != 16 {
		t.Errorf("same content, versions %q and %q", a1, a2)
	}
	files["flags/a.yaml"] = "key: a\nenabled: false\n"
	if b := load(writeRepo(t, files), ""); b == a1 {
		t.Errorf("changed content kept version %q", b)
	}
	if r := load(writeRepo(t, files), "0123abc"); r != "0123abc" {
		t.Errorf("Revision ignored: %q", r)
	}
}

func TestStaleFlag(t *testing.T) {
	dir := writeRepo(t, map[string]string{"flagpole.yaml": settingsOnly, "flags/a.yaml": "key: a\nexpires: 2027-03-01\n"})
	tests := []struct {
		now   time.Time
		stale bool
	}{
		{time.Date(2027, 2, 28, 23, 0, 0, 0, time.UTC), false},
		{time.Date(2027, 3, 1, 23, 59, 0, 0, time.UTC), false},
		{time.Date(2027, 3, 2, 0, 0, 0, 0, time.UTC), true},
		{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), true},
	}
	for _, tc := range tests {
		t.Run(tc.now.Format(time.RFC3339), func(t *testing.T) {
			repo, err := Load(dir, Options{Now: fixed(tc.now)})
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if tc.stale {
				want = "flags/a.yaml:2:10: expires: warning: stale flag: it expired on 2027-03-01; remove it or extend expires"
			}
			if got := repo.Warnings.Error(); got != want {
				t.Errorf("warnings %q, want %q", got, want)
			}
		})
	}
}

func TestDiagnosticString(t *testing.T) {
	tests := []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{File: "flags/a.yaml", Line: 3, Column: 5, Path: "rules[0].serve", Message: "bad"}, "flags/a.yaml:3:5: rules[0].serve: bad"},
		{Diagnostic{File: "flags/a.yaml", Line: 1, Column: 1, Message: "file is empty"}, "flags/a.yaml:1:1: file is empty"},
		{Diagnostic{File: "flags/b.yaml", Message: "too big"}, "flags/b.yaml: too big"},
		{Diagnostic{File: "flags/c.yaml", Line: 2, Column: 10, Path: "expires", Message: "stale", Severity: SeverityWarning}, "flags/c.yaml:2:10: expires: warning: stale"},
		{Diagnostic{Path: "flags.x", Message: "odd"}, "flags.x: odd"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.d.String(); got != tc.want {
				t.Errorf("got %q", got)
			}
		})
	}
	ds := Diagnostics{tests[0].d, tests[3].d}
	if ds.Error() != tests[0].want+"\n"+tests[3].want || len(ds.Errors()) != 1 || len(ds.Warnings()) != 1 {
		t.Errorf("Diagnostics = %q", ds.Error())
	}
}

func TestDiagnosticsSortedAcrossFiles(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"flagpole.yaml":    settingsOnly,
		"flags/b.yaml":     "key: b\nrules: [{serve: nope}]\ncolour: 1\n",
		"flags/a.yaml":     "key: a\nrules:\n  - {serve: x}\n  - {serve: y}\n",
		"audiences/z.yaml": "key: z\nconditions: [{attribute: q, operator: eq, value: 1}]\n",
	})
	_, err := Load(dir, Options{})
	var ds Diagnostics
	if !errors.As(err, &ds) {
		t.Fatal(err)
	}
	want := `audiences/z.yaml:2:26: conditions[0].attribute: undeclared attribute "q": declare it in attributes.yaml
flags/a.yaml:3:13: rules[0].serve: unknown variant "x" (variants: on, off)
flags/a.yaml:4:13: rules[1].serve: unknown variant "y" (variants: on, off)
flags/b.yaml:2:17: rules[0].serve: unknown variant "nope" (variants: on, off)
flags/b.yaml:3:1: colour: unknown field "colour"`
	if ds.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", ds.Error(), want)
	}
}

func TestDiagnosticJSON(t *testing.T) {
	d := Diagnostic{File: "flags/a.yaml", Line: 2, Column: 10, Path: "expires", Message: "stale", Severity: SeverityWarning}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"file":"flags/a.yaml","line":2,"column":10,"path":"expires","message":"stale","severity":"warning"}`
	if string(b) != want {
		t.Errorf("got %s", b)
	}
	var back Diagnostic
	if err := json.Unmarshal(b, &back); err != nil || back != d {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

// TestSymlinkIntoGitDir: a flag file that links to .git/config (where a
// clone keeps its remote's credentials) is refused, not read.
func TestSymlinkIntoGitDir(t *testing.T) {
	dir := t.TempDir()
	for rel, content := range map[string]string{
		"flagpole.yaml":   "version: 1\nenvironments: [production]\n",
		".git/config":     "[remote \"origin\"]\n\turl = https://bot:s3cr3t@git.example/flags.git\n",
		"flags/ok.yaml":   "key: ok\n",
		"audiences/.keep": "",
	} {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../.git/config", filepath.Join(dir, "flags", "leak.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "flags/leak.yaml: symlink resolves outside flags/") {
		t.Fatalf("Load = %v, want the symlink into .git refused", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("the error quotes .git/config: %v", err)
	}
}
