package main

import (
	"context"
	"fmt"
	"io"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/schema"
)

func runInit(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("init", "[DIR]", stderr)
	pos, err := parse(fs, args)
	if err == nil && len(pos) > 1 {
		err = fmt.Errorf("expected at most one directory, got %d arguments", len(pos))
	}
	if err != nil {
		return usageError(fs, stderr, err)
	}
	dir := "."
	if len(pos) == 1 {
		dir = pos[0]
	}
	if err := loader.Scaffold(dir); err != nil {
		fmt.Fprintf(stderr, "flagpole init: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "Created a flags repository in %s.\n", dir)
	fmt.Fprintf(stdout, "Next: edit flags/*.yaml, run 'flagpole validate %s' and 'flagpole test %s', and add SDK keys with 'flagpole keys new'.\n", dir, dir)
	fmt.Fprintf(stdout, "Editors with the YAML language server check each file against the schemas in %s/%s.\n", dir, schema.Dir)
	return exitOK
}
