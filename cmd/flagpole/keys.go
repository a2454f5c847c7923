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
)

// keyNameRE is what a key's name may look like: it appears in logs and status.
var keyNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

func runKeys(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "new" {
		fmt.Fprintln(stderr, "Usage: flagpole keys new --env E --kind server|client --name N")
		return exitUsage
	}
	fs := newFlagSet("keys new", "--env E --kind server|client --name N", stderr)
	env := fs.String("env", "", "environment the key reads (required)")
	kind := fs.String("kind", "server", "server (full rule set, local evaluation) or client (evaluated values of client flags)")
	name := fs.String("name", "", "name of the service or app that uses the key (required)")
	pos, err := parse(fs, args[1:])
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected argument %q", pos[0])
	}
	if err == nil {
		err = checkKeyFlags(*env, *kind, *name)
	}
	if err != nil {
		return usageError(fs, stderr, err)
	}
	key, sum, err := newKey(*kind)
	if err != nil {
		fmt.Fprintf(stderr, "flagpole keys new: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "# SDK key (shown once; store it as a secret, e.g. FLAGPOLE_KEY):\n%s\n\n", key)
	fmt.Fprintf(stdout, "# Add under keys: in flagpole.yaml (only the hash goes into git):\n")
	fmt.Fprintf(stdout, "  - name: %s\n    environment: %s\n    kind: %s\n    sha256: %s\n", *name, *env, *kind, sum)
	return exitOK
}

func checkKeyFlags(env, kind, name string) error {
	switch {
	case env == "":
		return errors.New("--env is required")
	case name == "":
		return errors.New("--name is required")
	case !keyNameRE.MatchString(name):
		return fmt.Errorf("--name %q: use lowercase letters, digits, '.', '_' and '-' (at most 63)", name)
	}
	return oneOf("--kind", kind, "server", "client")
}

// newKey returns a random SDK key of the given kind and its SHA-256 in hex.
// The prefix tells server keys from client keys at a glance (and to secret
// scanners); the 32 random bytes are what makes it secret.
func newKey(kind string) (key, sum string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("reading random bytes: %w", err)
	}
	prefix := "fp_srv_"
	if kind == "client" {
		prefix = "fp_cli_"
	}
	key = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(key))
	return key, hex.EncodeToString(h[:]), nil
}
