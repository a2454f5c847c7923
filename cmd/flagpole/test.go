package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flagpole/flagpole/flagtest"
	"github.com/flagpole/flagpole/loader"
)

func runTest(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("test", "[DIR] [-v]", stderr)
	verbose := fs.Bool("v", false, "list every case, not only the failures")
	dir, err := dirArg(fs, args)
	if err != nil {
		return usageError(fs, stderr, err)
	}
	opts := loader.Options{Now: time.Now}
	repo, err := loader.Load(dir, opts)
	var diags loader.Diagnostics
	if err != nil {
		if errors.As(err, &diags) {
			printErrors(stdout, diags)
			fmt.Fprintf(stdout, "%s: invalid repository: run flagpole validate %s\n", dir, dir)
		} else {
			fmt.Fprintf(stderr, "flagpole test: %v\n", err)
		}
		return exitFailure
	}
	files, diags, err := loader.LoadTests(dir, repo, opts)
	if err != nil {
		fmt.Fprintf(stderr, "flagpole test: %v\n", err)
		return exitFailure
	}
	invalid := printErrors(stdout, diags)
	rep, err := flagtest.Run(repo, files, flagtest.Options{Now: time.Now})
	if err != nil {
		fmt.Fprintf(stderr, "flagpole test: %v\n", err)
		return exitFailure
	}
	for _, o := range rep.Outcomes {
		switch {
		case !o.Passed:
			fmt.Fprintf(stdout, "FAIL %s: %s\n", o.Label(), o.Problem)
			if o.Trace != "" {
				fmt.Fprint(stdout, indent(o.Trace, "    "))
			}
		case *verbose:
			fmt.Fprintf(stdout, "ok   %s\n", o.Label())
		}
	}
	failed := len(rep.Failed())
	if invalid == 0 && rep.Files == 0 {
		fmt.Fprintf(stdout, "%s: no test files in %s/\n", dir, loader.TestsDir)
		return exitOK
	}
	summary := fmt.Sprintf("%s: %d test file%s, %d case run%s: %d passed, %d failed",
		dir, rep.Files, pluralS(rep.Files), len(rep.Outcomes), pluralS(len(rep.Outcomes)), len(rep.Outcomes)-failed, failed)
	if invalid > 0 {
		summary += fmt.Sprintf("; %d invalid test file%s", invalid, pluralS(invalid))
	}
	fmt.Fprintln(stdout, summary)
	if failed > 0 || invalid > 0 {
		return exitFailure
	}
	return exitOK
}

// printErrors prints the diagnostics and returns how many files have errors.
func printErrors(w io.Writer, diags loader.Diagnostics) int {
	files := map[string]bool{}
	for _, d := range diags {
		fmt.Fprintln(w, d.String())
		if d.Severity == loader.SeverityError {
			files[d.File] = true
		}
	}
	return len(files)
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	s = strings.TrimRight(s, "\n")
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix) + "\n"
}
