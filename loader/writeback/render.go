package writeback

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

// Path is the repository path of the override file of flag in env:
// overrides/<env>/<flag>.yaml.
func Path(env, flag string) string {
	return path.Join("overrides", env, flag+".yaml")
}

// namePattern is what an environment or flag must look like to name a
// file: it is the flag key pattern of the repository's schema.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// checkName rejects names that cannot be a file name in overrides/.
func checkName(what, name string) error {
	if !namePattern.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("invalid %s name %q", what, name)
	}
	return nil
}

// Render returns the override file of o in the repository format: the
// fields in the order of docs/repository.md, times in RFC 3339 (UTC, with
// fractions of a second only when o has them, so the loader reads back the
// same override), the reason always quoted, the recovery ramp on one line.
// o.Flag and o.Environment must be set.
func Render(o ruleset.Override) ([]byte, error) {
	if err := checkName("flag", o.Flag); err != nil {
		return nil, err
	}
	if err := checkName("environment", o.Environment); err != nil {
		return nil, err
	}
	if o.Serve == "" {
		return nil, fmt.Errorf("override of %s in %s: no variant to serve", o.Flag, o.Environment)
	}
	if o.At.IsZero() {
		return nil, fmt.Errorf("override of %s in %s: no time (at)", o.Flag, o.Environment)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "flag: %s\n", scalar(o.Flag))
	fmt.Fprintf(&b, "environment: %s\n", scalar(o.Environment))
	fmt.Fprintf(&b, "serve: %s\n", scalar(o.Serve))
	if o.Reason != "" {
		fmt.Fprintf(&b, "reason: %s\n", quoted(o.Reason))
	}
	if o.By != "" {
		fmt.Fprintf(&b, "by: %s\n", scalar(o.By))
	}
	fmt.Fprintf(&b, "at: %s\n", timestamp(o.At))
	if o.Expires != nil {
		fmt.Fprintf(&b, "expires: %s\n", timestamp(*o.Expires))
	}
	if r := o.Recovery; r != nil {
		fmt.Fprintf(&b, "recovery: {start_at: %s, start: %s, step: %s, every: %s}\n",
			timestamp(r.StartAt), number(r.Start), number(r.Step), duration(time.Duration(r.Every)))
	}
	return b.Bytes(), nil
}

// plainSafe matches strings that YAML reads back as the same string when
// written without quotes.
var plainSafe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._@/-]*$`)

// scalar writes s plain when that reads back as the same string, quoted
// otherwise. "on" and "off" stay plain, as in the repository's own files:
// the loader reads YAML 1.2, where they are strings.
func scalar(s string) string {
	switch strings.ToLower(s) {
	case "true", "false", "null", "yes", "no", "y", "n":
		return quoted(s)
	}
	if plainSafe.MatchString(s) {
		return s
	}
	return quoted(s)
}

// quoted writes s as a double-quoted YAML string. A JSON string is one.
func quoted(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func number(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// duration writes d the way people do: 1m rather than time's 1m0s.
func duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
