package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/flagpole/flagpole/store"
)

// keyNameRE is what a key's name may look like: it appears in logs and status.
var keyNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

const keysArgs = "--kind server|client|admin|viewer|trigger --name N [--env E] [--flag F --action off|'serve V'|clear]"

// keyPrefixes tell the kinds apart at a glance (and to secret scanners);
// the 32 random bytes after them are what makes a key secret.
var keyPrefixes = map[string]string{
	"server":  "fp_srv_",
	"client":  "fp_cli_",
	"admin":   "fp_adm_",
	"viewer":  "fp_vwr_",
	"trigger": "fp_trg_",
}

// keyRequest is what `keys new` was asked for.
type keyRequest struct {
	kind, name, flag, action string
	envs                     []string
}

func runKeys(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "new" {
		fmt.Fprintln(stderr, "Usage: flagpole keys new "+keysArgs)
		return exitUsage
	}
	fs := newFlagSet("keys new", keysArgs, stderr)
	env := fs.String("env", "", "server, client, trigger: the environment (required); admin, viewer: comma-separated environments (default all)")
	kind := fs.String("kind", "server", "server (full rule set), client (evaluated values of client flags), admin (overrides), viewer (read-only dashboard) or trigger (an alert URL)")
	name := fs.String("name", "", "name of the service, app, person or alert that uses the key (required)")
	flagKey := fs.String("flag", "", "trigger: the flag it acts on")
	action := fs.String("action", "", "trigger: off, clear, or 'serve VARIANT'")
	pos, err := parse(fs, args[1:])
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected argument %q", pos[0])
	}
	req := keyRequest{kind: *kind, name: *name, flag: *flagKey, action: *action}
	if err == nil {
		req.envs, err = checkKeyFlags(req, *env)
	}
	if err != nil {
		return usageError(fs, stderr, err)
	}
	key, sum, err := newKey(req.kind)
	if err != nil {
		fmt.Fprintf(stderr, "flagpole keys new: %v\n", err)
		return exitFailure
	}
	printKey(stdout, req, key, sum)
	return exitOK
}

// checkKeyFlags checks the flags of `keys new` and returns the environments.
func checkKeyFlags(req keyRequest, env string) ([]string, error) {
	if err := oneOf("--kind", req.kind, "server", "client", "admin", "viewer", "trigger"); err != nil {
		return nil, err
	}
	switch {
	case req.name == "":
		return nil, errors.New("--name is required")
	case !keyNameRE.MatchString(req.name):
		return nil, fmt.Errorf("--name %q: use lowercase letters, digits, '.', '_' and '-' (at most 63)", req.name)
	case req.kind != "trigger" && (req.flag != "" || req.action != ""):
		return nil, errors.New("--flag and --action are for --kind trigger")
	}
	var envs []string
	if env != "" {
		for _, e := range strings.Split(env, ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				return nil, fmt.Errorf("--env %q: an empty environment name", env)
			}
			if !slices.Contains(envs, e) {
				envs = append(envs, e)
			}
		}
	}
	if req.kind == "admin" || req.kind == "viewer" {
		return envs, nil // none: every environment
	}
	switch {
	case len(envs) == 0:
		return nil, errors.New("--env is required")
	case len(envs) > 1:
		return nil, fmt.Errorf("--env %q: a %s key has one environment", env, req.kind)
	}
	if req.kind == "trigger" {
		if req.flag == "" || req.action == "" {
			return nil, errors.New("--kind trigger needs --flag and --action")
		}
		if _, _, err := store.ParseTriggerAction(req.action); err != nil {
			return nil, fmt.Errorf("--action: %w", err)
		}
	}
	return envs, nil
}

// printKey prints the new key and the entry of flagpole.yaml that declares
// it; only the hash goes into git.
func printKey(w io.Writer, req keyRequest, key, sum string) {
	switch req.kind {
	case "trigger":
		fmt.Fprintf(w, "# Trigger token (shown once; it is the secret part of the URL):\n%s\n\n", key)
		fmt.Fprintf(w, "# The URL to give your alerting tool, on the flagpole server:\nPOST /v1/triggers/%s\n\n", key)
		fmt.Fprintf(w, "# Add under triggers: in flagpole.yaml (only the hash goes into git):\n")
		fmt.Fprintf(w, "  - name: %s\n    flag: %s\n    environment: %s\n    action: %s\n    sha256: %s\n",
			req.name, req.flag, req.envs[0], req.action, sum)
		return
	case "admin":
		fmt.Fprintf(w, "# Admin key (shown once; store it as a secret, e.g. FLAGPOLE_ADMIN_TOKEN):\n%s\n\n", key)
	case "viewer":
		fmt.Fprintf(w, "# Viewer key (shown once; enter it in the dashboard):\n%s\n\n", key)
	default:
		fmt.Fprintf(w, "# SDK key (shown once; store it as a secret, e.g. FLAGPOLE_KEY):\n%s\n\n", key)
	}
	fmt.Fprintf(w, "# Add under keys: in flagpole.yaml (only the hash goes into git):\n")
	fmt.Fprintf(w, "  - name: %s\n", req.name)
	if req.kind == "server" || req.kind == "client" {
		fmt.Fprintf(w, "    environment: %s\n", req.envs[0])
	}
	fmt.Fprintf(w, "    kind: %s\n", req.kind)
	if (req.kind == "admin" || req.kind == "viewer") && len(req.envs) > 0 {
		fmt.Fprintf(w, "    environments: [%s]\n", strings.Join(req.envs, ", "))
	}
	fmt.Fprintf(w, "    sha256: %s\n", sum)
}

// newKey returns a random key of the given kind and its SHA-256 in hex.
func newKey(kind string) (key, sum string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("reading random bytes: %w", err)
	}
	key = keyPrefixes[kind] + base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(key))
	return key, hex.EncodeToString(h[:]), nil
}
