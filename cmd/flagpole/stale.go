package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/stale"
)

// exitStaleError is stale's exit code when it could not judge the
// repository (invalid, unreadable): 1 means stale flags were listed.
const exitStaleError = 3

func runStale(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("stale", "[DIR] [--format text|json|markdown]", stderr)
	format := fs.String("format", "text", "output format: text, json or markdown")
	dir, err := dirArg(fs, args)
	if err == nil {
		err = oneOf("--format", *format, "text", "json", "markdown")
	}
	if err != nil {
		return usageError(fs, stderr, err)
	}
	repo, err := loader.Load(dir, loader.Options{Now: time.Now})
	if err != nil {
		var diags loader.Diagnostics
		if errors.As(err, &diags) {
			printErrors(stderr, diags)
			fmt.Fprintf(stderr, "flagpole stale: %s is not a valid flags repository (run flagpole validate)\n", dir)
		} else {
			fmt.Fprintf(stderr, "flagpole stale: %v\n", err)
		}
		return exitStaleError
	}
	rep, err := stale.Find(ctx, repo, stale.Options{Now: time.Now})
	if err == nil {
		switch *format {
		case "json":
			err = rep.WriteJSON(stdout)
		case "markdown":
			err = rep.WriteMarkdown(stdout)
		default:
			err = rep.WriteText(stdout)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "flagpole stale: %v\n", err)
		return exitStaleError
	}
	if len(rep.Findings) > 0 {
		return exitFailure
	}
	return exitOK
}
