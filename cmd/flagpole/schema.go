package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/flagpole/flagpole/schema"
)

func runSchema(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("schema", "[NAME] [--out DIR]", stderr)
	out := fs.String("out", "", "write every schema into DIR as <name>.schema.json (a flags repository keeps them in "+schema.Dir+")")
	pos, err := parse(fs, args)
	if err == nil && len(pos) > 1 {
		err = fmt.Errorf("expected at most one schema name, got %d arguments", len(pos))
	}
	if err != nil {
		return usageError(fs, stderr, err)
	}
	names := schema.Names()
	switch {
	case len(pos) == 1:
		src := schema.Source(pos[0])
		if src == nil {
			fmt.Fprintf(stderr, "flagpole schema: no schema named %q (have: %s)\n", pos[0], strings.Join(names, ", "))
			return exitUsage
		}
		_, _ = stdout.Write(src)
	case *out != "":
		if err := os.MkdirAll(*out, 0o755); err != nil {
			fmt.Fprintf(stderr, "flagpole schema: %v\n", err)
			return exitFailure
		}
		for _, n := range names {
			path := filepath.Join(*out, n+".schema.json")
			if err := os.WriteFile(path, schema.Source(n), 0o644); err != nil {
				fmt.Fprintf(stderr, "flagpole schema: writing %s: %v\n", path, err)
				return exitFailure
			}
			fmt.Fprintln(stdout, path)
		}
	default:
		fmt.Fprintln(stdout, "JSON Schemas of the flags repository files (print one with 'flagpole schema NAME',")
		fmt.Fprintln(stdout, "write all with 'flagpole schema --out DIR'):")
		for _, n := range names {
			fmt.Fprintf(stdout, "  %s\n", n)
		}
	}
	return exitOK
}
