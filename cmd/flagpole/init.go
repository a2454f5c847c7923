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
	dir, err := dirArg(fs, args)
	if err != nil {
		return usageError(fs, stderr, err)
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
