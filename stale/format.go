package stale

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Summary is a one-line account of the report, e.g. "3 of 13 flags are
// stale (1 expired, 1 past its kind's lifetime, 1 constant)".
func (rep *Report) Summary() string {
	counts := [3]int{}
	flags := map[string]bool{}
	for _, f := range rep.Findings {
		counts[f.Category]++
		flags[f.Flag] = true
	}
	if len(flags) == 0 {
		return fmt.Sprintf("no stale flags among %d", rep.Flags)
	}
	verb := "are"
	if len(flags) == 1 {
		verb = "is"
	}
	return fmt.Sprintf("%d of %d flags %s stale (%d expired, %d past their kind's lifetime, %d constant)",
		len(flags), rep.Flags, verb, counts[Expired], counts[PastLifetime], counts[Constant])
}

var headings = [3]string{
	Expired:      "Past their expires date",
	PastLifetime: "Past their kind's expected lifetime",
	Constant:     "Serving one variant to everyone, everywhere",
}

// WriteText writes the report for a terminal.
func (rep *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", rep.Dir, rep.Summary())
	for c := Expired; c <= Constant; c++ {
		first := true
		for _, f := range rep.Findings {
			if f.Category != c {
				continue
			}
			if first {
				fmt.Fprintf(&b, "\n%s:\n", headings[c])
				first = false
			}
			fmt.Fprintf(&b, "  %s (%s): %s\n", f.Flag, f.File, f.Why)
		}
	}
	if len(rep.AgeUnknown) > 0 {
		b.WriteString("\nAge unknown:\n")
		for _, u := range rep.AgeUnknown {
			fmt.Fprintf(&b, "  %s: %s\n", u.Flag, u.Why)
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "\nNote: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one JSON object.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteMarkdown writes the report as Markdown, for an issue or a pull
// request comment: the summary first, one table per category.
func (rep *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### Stale flags\n\n%s.\n", rep.Summary())
	for c := Expired; c <= Constant; c++ {
		first := true
		for _, f := range rep.Findings {
			if f.Category != c {
				continue
			}
			if first {
				fmt.Fprintf(&b, "\n**%s**\n\n| flag | kind | why |\n|---|---|---|\n", headings[c])
				first = false
			}
			kind := string(f.Kind)
			if kind == "" {
				kind = "–"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.Flag, kind, mdCell(f.Why))
		}
	}
	if len(rep.AgeUnknown) > 0 {
		b.WriteString("\n**Age unknown**\n\n")
		for _, u := range rep.AgeUnknown {
			fmt.Fprintf(&b, "- `%s`: %s\n", u.Flag, mdCell(u.Why))
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "\n> Note: %s\n", mdCell(n))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdCell makes text safe inside a Markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}
