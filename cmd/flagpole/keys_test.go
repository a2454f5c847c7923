package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// newKeyOutput runs `flagpole keys new` and returns the key it printed and
// the flagpole.yaml entry, after checking that the entry holds the key's
// SHA-256.
func newKeyOutput(t *testing.T, prefix string, args ...string) (key, entry string) {
	t.Helper()
	r := flagpole(t, "", nil, append([]string{"keys", "new"}, args...)...)
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	key = regexp.MustCompile(`(?m)^` + prefix + `[A-Za-z0-9_-]{43}$`).FindString(r.stdout)
	if key == "" {
		t.Fatalf("no %s key in output:\n%s", prefix, r.stdout)
	}
	_, entry, ok := strings.Cut(r.stdout, "(only the hash goes into git):\n")
	if !ok {
		t.Fatalf("no flagpole.yaml entry in output:\n%s", r.stdout)
	}
	sum := sha256.Sum256([]byte(key))
	if !strings.Contains(entry, "    sha256: "+hex.EncodeToString(sum[:])+"\n") {
		t.Errorf("entry lacks the key's sha256:\n%s", entry)
	}
	return key, entry
}

func TestKeysNewKinds(t *testing.T) {
	t.Parallel() // many short runs of the binary: overlap them with the other tests
	tests := []struct {
		name, prefix string
		args         []string
		want         string // the entry without its sha256 line
	}{
		{"admin for two environments", "fp_adm_", []string{"--kind", "admin", "--name", "oncall-alice", "--env", "production, staging"},
			"  - name: oncall-alice\n    kind: admin\n    environments: [production, staging]\n"},
		{"viewer for all", "fp_vwr_", []string{"--kind", "viewer", "--name", "dash"},
			"  - name: dash\n    kind: viewer\n"},
		{"server", "fp_srv_", []string{"--kind", "server", "--name", "api", "--env", "staging"},
			"  - name: api\n    environment: staging\n    kind: server\n"},
		{"trigger serving a variant", "fp_trg_", []string{"--kind", "trigger", "--name", "alert", "--env", "production", "--flag", "color", "--action", "serve blue"},
			"  - name: alert\n    flag: color\n    environment: production\n    action: serve blue\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, entry := newKeyOutput(t, tt.prefix, tt.args...)
			if got, _, _ := strings.Cut(entry, "    sha256: "); got != tt.want {
				t.Errorf("entry:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
	r := flagpole(t, "", nil, "keys", "new", "--kind", "trigger", "--name", "t", "--env", "production", "--flag", "f", "--action", "clear")
	token := regexp.MustCompile(`(?m)^fp_trg_\S+$`).FindString(r.stdout)
	if token == "" || !strings.Contains(r.stdout, "\nPOST /v1/triggers/"+token+"\n") {
		t.Errorf("trigger output lacks its URL path:\n%s", r.stdout)
	}
}

func TestKeysNewUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"server without env", []string{"--kind", "server", "--name", "x"}, "--env is required"},
		{"client with two envs", []string{"--kind", "client", "--name", "x", "--env", "production,staging"}, "a client key has one environment"},
		{"empty env in list", []string{"--kind", "admin", "--name", "x", "--env", "production,"}, "an empty environment name"},
		{"admin with flag", []string{"--kind", "admin", "--name", "x", "--flag", "f"}, "--flag and --action are for --kind trigger"},
		{"trigger without action", []string{"--kind", "trigger", "--name", "x", "--env", "production", "--flag", "f"}, "needs --flag and --action"},
		{"trigger bad action", []string{"--kind", "trigger", "--name", "x", "--env", "production", "--flag", "f", "--action", "kill"}, `action "kill": use off, clear or serve <variant>`},
		{"trigger without env", []string{"--kind", "trigger", "--name", "x", "--flag", "f", "--action", "off"}, "--env is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := flagpole(t, "", nil, append([]string{"keys", "new"}, tt.args...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, want %d with %q\n%s", r.code, exitUsage, tt.want, r.stderr)
			}
			if strings.Contains(r.stdout, "fp_") {
				t.Errorf("a key was printed on a usage error:\n%s", r.stdout)
			}
		})
	}
}

// TestKeysNewEntriesValidate pastes what `keys new` prints into a
// repository made by `init`, which must then validate.
func TestKeysNewEntriesValidate(t *testing.T) {
	t.Parallel() // many short runs of the binary: overlap them with the other tests
	dir := t.TempDir()
	if r := flagpole(t, "", nil, "init", dir); r.code != exitOK {
		t.Fatalf("init: exit %d\n%s", r.code, r.stderr)
	}
	var keys, triggers strings.Builder
	for _, args := range [][]string{
		{"--kind", "server", "--name", "api", "--env", "production"},
		{"--kind", "admin", "--name", "oncall", "--env", "staging"},
		{"--kind", "viewer", "--name", "dash"},
	} {
		_, entry := newKeyOutput(t, "fp_[a-z]{3}_", args...)
		keys.WriteString(entry)
	}
	for _, action := range []string{"off", "serve on", "clear"} {
		_, entry := newKeyOutput(t, "fp_trg_", "--kind", "trigger", "--name", "t-"+strings.Fields(action)[0],
			"--env", "production", "--flag", "new-checkout", "--action", action)
		triggers.WriteString(entry)
	}
	settings := "version: 1\nenvironments: [production, staging]\nkeys:\n" + keys.String() + "triggers:\n" + triggers.String()
	if err := os.WriteFile(filepath.Join(dir, "flagpole.yaml"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := flagpole(t, "", nil, "validate", dir); r.code != exitOK {
		t.Fatalf("validate: exit %d\n%s%s\nflagpole.yaml:\n%s", r.code, r.stdout, r.stderr, settings)
	}
}
