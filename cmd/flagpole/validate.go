package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/flagpole/flagpole/loader"
)

func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", "[DIR] [--format text|json|github]", stderr)
	format := fs.String("format", "text", "output format: text, json, or github (workflow annotations)")
	dir, err := dirArg(fs, args)
	if err == nil {
		err = oneOf("--format", *format, "text", "json", "github")
	}
	if err != nil {
		return usageError(fs, stderr, err)
	}

	repo, err := loader.Load(dir, loader.Options{Now: time.Now})
	var diags loader.Diagnostics
	switch {
	case err == nil:
		diags = repo.Warnings
	case errors.As(err, &diags):
	default:
		fmt.Fprintf(stderr, "flagpole validate: %v\n", err)
		return exitFailure
	}
	// Test files are checked too: that they decode and name existing
	// flags, environments and variants (flagpole test runs them).
	_, testDiags, err := loader.LoadTests(dir, repo, loader.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "flagpole validate: %v\n", err)
		return exitFailure
	}
	diags = append(diags, testDiags...)
	errs, warns := countSeverity(diags)

	switch *format {
	case "json":
		printValidateJSON(stdout, dir, repo, diags)
	case "github":
		printGitHub(stdout, dir, diags)
	default:
		for _, d := range diags {
			fmt.Fprintln(stdout, d.String())
		}
		if errs == 0 {
			fmt.Fprintf(stdout, "%s: valid (%s)%s\n", dir, repoSummary(repo), plural(warns, ", %d warning", ", %d warnings"))
		} else {
			fmt.Fprintf(stdout, "%s: invalid: %d error%s%s\n", dir, errs, pluralS(errs), plural(warns, ", %d warning", ", %d warnings"))
		}
	}
	if errs > 0 {
		return exitFailure
	}
	return exitOK
}

func countSeverity(diags loader.Diagnostics) (errs, warns int) {
	for _, d := range diags {
		if d.Severity == loader.SeverityWarning {
			warns++
		} else {
			errs++
		}
	}
	return errs, warns
}

// repoSummary says what a valid repository holds, e.g. "12 flags, 4
// audiences, 2 environments".
func repoSummary(repo *loader.Repo) string {
	if repo == nil {
		return ""
	}
	flags, audiences := 0, 0
	for _, doc := range repo.Documents {
		flags, audiences = doc.Flags.Len(), len(doc.Audiences)
		break
	}
	return fmt.Sprintf("%d flag%s, %d audience%s, %d environment%s",
		flags, pluralS(flags), audiences, pluralS(audiences), len(repo.Documents), pluralS(len(repo.Documents)))
}

type jsonDiagnostic struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Path     string `json:"path,omitempty"`
	Message  string `json:"message"`
	Severity string `json:"severity"`
}

func printValidateJSON(w io.Writer, dir string, repo *loader.Repo, diags loader.Diagnostics) {
	out := struct {
		Dir         string           `json:"dir"`
		Valid       bool             `json:"valid"`
		Errors      int              `json:"errors"`
		Warnings    int              `json:"warnings"`
		Diagnostics []jsonDiagnostic `json:"diagnostics"`
	}{Dir: dir, Diagnostics: []jsonDiagnostic{}}
	out.Errors, out.Warnings = countSeverity(diags)
	out.Valid = out.Errors == 0
	for _, d := range diags {
		out.Diagnostics = append(out.Diagnostics, jsonDiagnostic{
			File: d.File, Line: d.Line, Column: d.Column, Path: d.Path,
			Message: d.Message, Severity: d.Severity.String(),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

// printGitHub prints GitHub Actions workflow commands, which the runner turns
// into annotations on the pull request's files. Paths are relative to the
// directory validate ran from, as the checkout root usually is.
func printGitHub(w io.Writer, dir string, diags loader.Diagnostics) {
	for _, d := range diags {
		level := "error"
		if d.Severity == loader.SeverityWarning {
			level = "warning"
		}
		msg := d.Message
		if d.Path != "" {
			msg = d.Path + ": " + msg
		}
		fmt.Fprintf(w, "::%s file=%s,line=%d,col=%d,title=flagpole validate::%s\n",
			level, ghEscapeProperty(filepath.ToSlash(filepath.Join(dir, d.File))), d.Line, d.Column, ghEscapeData(msg))
	}
}

// ghEscapeData escapes a workflow command's message.
func ghEscapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghEscapeProperty escapes a workflow command's property value.
func ghEscapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// plural formats n with one or many, or returns "" when n is 0.
func plural(n int, one, many string) string {
	switch n {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf(one, n)
	}
	return fmt.Sprintf(many, n)
}
