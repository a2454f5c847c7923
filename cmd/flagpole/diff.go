package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/flagpole/flagpole/review"
	"github.com/flagpole/flagpole/ruleset"
)

const diffArgs = "[--repo DIR] BASE [HEAD] [--format markdown|json] [--contexts FILE] [--samples N]"

// runDiff explains a change to a flags repository (package review). Exit 0
// with or without changes, 1 when HEAD is invalid or a side cannot be read,
// 2 on usage, an unknown revision or a bad contexts file.
func runDiff(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("diff", diffArgs, stderr)
	repo := fs.String("repo", ".", "the flags repository (a directory in a git work tree, or any directory)")
	format := fs.String("format", "markdown", "output format: markdown (for a pull-request comment) or json")
	contexts := fs.String("contexts", "", "sample contexts for the exposure figures: a file of JSON objects, one per line (default: generated)")
	samples := fs.Int("samples", review.DefaultSamples, fmt.Sprintf("how many contexts to generate without --contexts (at most %d)", review.MaxSamples))
	pos, err := parse(fs, args)
	switch {
	case err != nil:
	case len(pos) == 0:
		err = errors.New("BASE is required: a git revision (main, origin/main, HEAD~1, a commit) or a directory")
	case len(pos) > 2:
		err = fmt.Errorf("expected BASE and at most one HEAD, got %d arguments", len(pos))
	case *samples < 1 || *samples > review.MaxSamples:
		err = fmt.Errorf("--samples %d: must be between 1 and %d", *samples, review.MaxSamples)
	default:
		err = oneOf("--format", *format, "markdown", "json")
	}
	if err != nil {
		return usageError(fs, stderr, err)
	}
	req := review.Request{Repo: *repo, Base: pos[0], Samples: *samples}
	if len(pos) == 2 {
		req.Head = pos[1]
	}
	if *contexts != "" {
		ctxs, err := readContextsFile(*contexts)
		if err != nil {
			fmt.Fprintf(stderr, "flagpole diff: --contexts: %v\n", err)
			return exitUsage
		}
		req.Contexts, req.ContextsSource = ctxs, *contexts
	}
	rep, err := review.Diff(req)
	if rep == nil {
		fmt.Fprintf(stderr, "flagpole diff: %v\n", err)
		if errors.Is(err, review.ErrMissingRef) {
			return exitUsage
		}
		return exitFailure
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(rep); werr != nil {
			fmt.Fprintf(stderr, "flagpole diff: %v\n", werr)
			return exitFailure
		}
	} else if werr := review.WriteMarkdown(stdout, rep); werr != nil {
		fmt.Fprintf(stderr, "flagpole diff: %v\n", werr)
		return exitFailure
	}
	if err != nil { // an invalid HEAD: the report lists its errors
		fmt.Fprintf(stderr, "flagpole diff: %v\n", err)
		for _, e := range rep.Head.Errors {
			fmt.Fprintln(stderr, e)
		}
		return exitFailure
	}
	return exitOK
}

func readContextsFile(path string) ([]ruleset.Context, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return review.ReadContexts(f, path)
}
