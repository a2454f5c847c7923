package syncer

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/flagpole/flagpole/loader"
)

// Limits on what a failed sync records, so that no repository content can
// make the status, its copy in the store or a log line large: a
// 1 MiB file of YAML aliases has 340,000 errors. `flagpole validate` still
// reports every problem, in full.
const (
	// MaxProblems is how many validation errors a sync error lists.
	MaxProblems = 100
	// MaxProblemsPerFile is how many of them may come from one file, so
	// that one broken file does not hide the problems of the others.
	MaxProblemsPerFile = 20
	// MaxMessageBytes bounds each listed problem and the error's message;
	// longer ones are cut at a character boundary and end with "…".
	MaxMessageBytes = 1024
)

// problems lists the first validation errors of a loader.Diagnostics,
// within MaxProblems and MaxProblemsPerFile, each within MaxMessageBytes,
// as "file:line:col: path: message" and as "file:line:col: path" alone; and
// counts them all.
func problems(err error) (full, locations []string, count int) {
	var ds loader.Diagnostics
	if !errors.As(err, &ds) {
		return nil, nil, 0
	}
	perFile := map[string]int{}
	for _, d := range ds {
		if d.Severity != loader.SeverityError {
			continue
		}
		count++
		if len(full) == MaxProblems || perFile[d.File] == MaxProblemsPerFile {
			continue
		}
		perFile[d.File]++
		full = append(full, truncate(d.String(), MaxMessageBytes))
		d.Message = ""
		locations = append(locations, truncate(location(d), MaxMessageBytes))
	}
	return full, locations, count
}

// location formats d as "file:line:col: path", without its message.
func location(d loader.Diagnostic) string {
	s := d.File
	if d.Line > 0 {
		s += fmt.Sprintf(":%d:%d", d.Line, d.Column)
	}
	if d.Path != "" {
		if s != "" {
			s += ": "
		}
		s += d.Path
	}
	return s
}

// truncate cuts s to at most max bytes, at a character boundary, ending
// with "…" when it was cut.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "…"
	cut := max - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// invalidError is the message of a validation failure: a count, never the
// problems themselves, which are listed apart.
func invalidError(short string, listed, count int) error {
	if count == 0 {
		return fmt.Errorf("loading revision %s: invalid", short)
	}
	if count == 1 {
		return fmt.Errorf("loading revision %s: invalid: 1 error", short)
	}
	if listed == count {
		return fmt.Errorf("loading revision %s: invalid: %d errors", short, count)
	}
	return fmt.Errorf("loading revision %s: invalid: %d errors (the first %d listed)", short, count, listed)
}
