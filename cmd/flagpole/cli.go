package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes shared by every command.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and found a problem (invalid repository, server error)
	exitUsage   = 2 // the command line itself is wrong
)

// command is one subcommand of flagpole.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order `flagpole help` shows them.
func commands() []command {
	return []command{
		{"serve", "run the syncer and a bearer in one process (" + serveArgs + ")", runServe},
		{"sync", "run the syncer alone, publishing to Redis (split deployments)", runSync},
		{"bearer", "run a bearer alone, serving what Redis holds (split deployments)", runBearer},
		{"breaker", "run the circuit breaker alone, on what Redis holds (split deployments)", runBreaker},
		{"validate", "check a flags repository; exit 0 valid, 1 invalid, 2 usage", runValidate},
		{"eval", "evaluate a flag for a context, optionally explaining why", runEval},
		{"diff", "explain a change between two commits or directories, for a pull request", runDiff},
		{"test", "run the expectations in tests/*.yaml; exit 0 all pass, 1 a failure, 2 usage", runTest},
		{"stale", "list expired, outlived and constant flags; exit 0 none, 1 some, 2 usage, 3 invalid repository", runStale},
		{"init", "scaffold a new flags repository", runInit},
		{"override", "set, clear or list emergency overrides (through a server or a repo clone)", runOverride},
		{"status", "show a server's sync state, versions, last error, overrides, pending write-backs", runStatus},
		{"keys", "make SDK, admin and viewer keys and trigger tokens (keys new)", runKeys},
		{"schema", "print the JSON Schemas of the repository files", runSchema},
		{"version", "print the version", runVersion},
	}
}

// run dispatches args to a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "flagpole: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: flagpole <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'flagpole <command> -h' for a command's flags. Every flag can also be set")
	fmt.Fprintln(w, "through the environment as FLAGPOLE_<NAME> (e.g. --redis as FLAGPOLE_REDIS).")
}

// newFlagSet returns a FlagSet for a subcommand that reports errors to
// stderr instead of exiting.
func newFlagSet(name, args string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("flagpole "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: flagpole %s %s\n\nFlags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// dirArg parses args and returns the one optional DIR argument of a
// command, "." when there is none.
func dirArg(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parse(fs, args)
	switch {
	case err != nil:
		return "", err
	case len(pos) == 0:
		return ".", nil
	case len(pos) == 1:
		return pos[0], nil
	}
	return "", fmt.Errorf("expected at most one directory, got %d arguments", len(pos))
}

// parse parses flags that may come before, between or after positional
// arguments, then fills every flag not given on the command line from its
// FLAGPOLE_* environment variable. It returns the positional arguments, or
// an error that the caller reports as a usage error (exit 2).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" {
			positional = append(positional, rest[1:]...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil {
			return
		}
		name := envName(f.Name)
		if v, ok := os.LookupEnv(name); ok && v != "" {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("environment variable %s: %w", name, err)
			}
		}
	})
	return positional, envErr
}

// envName maps a flag name such as "log-level" to FLAGPOLE_LOG_LEVEL.
func envName(flagName string) string {
	return "FLAGPOLE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// usageError reports a command-line problem and returns exit code 2.
func usageError(fs *flag.FlagSet, stderr io.Writer, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
	}
	fs.Usage()
	return exitUsage
}

// oneOf returns an error unless v, the value of flag (e.g. "--format"), is
// one of allowed. The error names the environment variable too, since the
// value may have come from there.
func oneOf(flag, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	sorted := append([]string(nil), allowed...)
	sort.Strings(sorted)
	return fmt.Errorf("%s (or %s) must be one of %s, not %q",
		flag, envName(strings.TrimLeft(flag, "-")), strings.Join(sorted, ", "), v)
}
