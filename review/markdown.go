package review

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Bounds of the Markdown, which is meant for a pull-request comment
// (GitHub takes up to 65,536 characters): the summary names at most
// maxSummary items, the details at most maxDetailFlags flags per
// environment, and at most maxErrors validation errors per side. The JSON
// format has everything.
const (
	maxSummary     = 20
	maxDetailFlags = 100
	maxErrors      = 50
)

// WriteMarkdown writes the report as Markdown for a pull-request comment:
// a short summary first (each change once, with the environments it
// applies to, and its exposure figures), then the details of each
// environment folded in <details> blocks.
func WriteMarkdown(w io.Writer, rep *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### flagpole diff: %s → %s\n\n", code(rep.Base.Label), code(rep.Head.Label))
	if !rep.Head.Valid {
		fmt.Fprintf(&b, "**HEAD is not a valid flags repository** (%d errors); nothing was compared.\n\n", len(rep.Head.Errors))
		writeErrors(&b, rep.Head.Errors)
		for _, n := range rep.Notes {
			b.WriteString("> " + text(n) + "\n\n")
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	for _, n := range rep.Notes {
		b.WriteString("> " + text(n) + "\n\n")
	}
	if !rep.Changed {
		b.WriteString("No semantic change: every environment evaluates every flag as before, and keys and triggers are unchanged.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString(countLine(rep) + "\n\n")
	items := summaryItems(rep)
	for i, it := range items {
		if i == maxSummary {
			fmt.Fprintf(&b, "- … and %d more below\n", len(items)-maxSummary)
			break
		}
		b.WriteString("- " + text(it) + "\n")
	}
	b.WriteString("\n")
	if len(rep.Repository) > 0 {
		b.WriteString("<details><summary>Repository: " + plural(len(rep.Repository), "change") + "</summary>\n\n")
		for _, c := range rep.Repository {
			b.WriteString("- " + text(c) + "\n")
		}
		b.WriteString("\n</details>\n\n")
	}
	writeEnvs(&b, rep.Environments)
	if !rep.Base.Valid {
		b.WriteString("<details><summary>BASE validation errors</summary>\n\n")
		writeErrors(&b, rep.Base.Errors)
		b.WriteString("</details>\n\n")
	}
	fmt.Fprintf(&b, "<sub>Exposure: %s sample contexts (%s), evaluated with the rule sets of both sides.</sub>\n",
		thousands(rep.Sample.Size), rep.Sample.Source)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeErrors(b *strings.Builder, errs []string) {
	b.WriteString("```\n")
	for i, e := range errs {
		if i == maxErrors {
			fmt.Fprintf(b, "… and %d more (run flagpole validate)\n", len(errs)-maxErrors)
			break
		}
		b.WriteString(e + "\n")
	}
	b.WriteString("```\n\n")
}

// countLine counts the distinct flags, audiences and overrides changed.
func countLine(rep *Report) string {
	byChange := map[Change]map[string]bool{}
	auds, overrides := map[string]bool{}, map[Change]int{}
	var envs []string
	for _, e := range rep.Environments {
		if !e.Empty() {
			envs = append(envs, e.Environment)
		}
		for _, f := range e.Flags {
			if byChange[f.Change] == nil {
				byChange[f.Change] = map[string]bool{}
			}
			byChange[f.Change][f.Key] = true
		}
		for _, a := range e.Audiences {
			auds[a.Key] = true
		}
		for _, o := range e.Overrides {
			overrides[o.Change]++
		}
	}
	var parts []string
	for _, c := range []Change{Added, Removed, Renamed, Changed, Affected} {
		if n := len(byChange[c]); n > 0 {
			word := string(c)
			if c == Affected {
				word = "affected indirectly"
			}
			parts = append(parts, plural(n, "flag")+" "+word)
		}
	}
	if n := len(auds); n > 0 {
		parts = append(parts, plural(n, "audience")+" changed")
	}
	for _, c := range []Change{Set, Cleared, Changed} {
		if n := overrides[c]; n > 0 {
			parts = append(parts, plural(n, "override")+" "+string(c))
		}
	}
	if n := len(rep.Repository); n > 0 {
		parts = append(parts, plural(n, "repository change"))
	}
	s := "**" + strings.Join(parts, ", ") + "**"
	if len(envs) > 0 {
		s += " in " + strings.Join(envs, ", ")
	}
	return s + "."
}

// summaryItems lists each change once, with the environments it applies
// to: a change that reads the same in several environments is one item.
func summaryItems(rep *Report) []string {
	var order []string
	envsOf := map[string][]string{}
	add := func(item, env string) {
		if _, ok := envsOf[item]; !ok {
			order = append(order, item)
		}
		envsOf[item] = append(envsOf[item], env)
	}
	for _, e := range rep.Environments {
		if e.Status != "" {
			add(fmt.Sprintf("environment %s", e.Status), e.Environment)
		}
		for _, a := range e.Audiences {
			s := fmt.Sprintf("audience %s %s", code(a.Key), a.Change)
			if len(a.Details) > 0 && a.Change == Changed {
				s = fmt.Sprintf("audience %s %s", code(a.Key), strings.Join(a.Details, "; "))
			}
			if len(a.Flags) > 0 {
				s += " — used by " + codeList(a.Flags)
			}
			add(s, e.Environment)
		}
		exposureOf := map[string]*Exposure{}
		for _, f := range e.Flags {
			exposureOf[f.Key] = f.Exposure
			if f.Change == Affected && len(f.Via) == 1 && f.Via[0] == "override" {
				continue // the override's item says it
			}
			add(flagSummary(f), e.Environment)
		}
		for _, o := range e.Overrides {
			s := fmt.Sprintf("override of %s %s", code(o.Flag), o.Change)
			if x := exposureLine(exposureOf[o.Flag]); x != "" {
				s += " — " + x
			}
			add(s, e.Environment)
		}
	}
	var out []string
	for _, item := range order {
		envs := envsOf[item]
		if len(envs) == len(rep.Environments) && len(envs) > 1 {
			out = append(out, item+" (every environment)")
		} else {
			out = append(out, item+" ("+strings.Join(envs, ", ")+")")
		}
	}
	return out
}

// flagSummary is one flag's change in a line.
func flagSummary(f FlagChange) string {
	var s string
	switch f.Change {
	case Changed:
		s = code(f.Key) + ": " + strings.Join(f.Details, "; ")
	case Affected:
		s = code(f.Key) + " affected through " + strings.Join(f.Via, ", ")
	case Renamed:
		s = code(f.RenamedFrom) + " renamed to " + code(f.Key)
	default:
		s = code(f.Key) + " " + string(f.Change)
	}
	switch {
	case f.Change == Added && f.Exposure != nil:
		s += ": " + shareLine(f.Exposure, false)
	case f.Change == Removed:
	default:
		if x := exposureLine(f.Exposure); x != "" {
			s += " — " + x
		}
	}
	return s
}

// shareLine words one side's shares, e.g. "on 25.0%, off 75.0% of 10,000
// sample contexts".
func shareLine(e *Exposure, before bool) string {
	var parts []string
	for _, v := range e.Variants {
		n := v.After
		if before {
			n = v.Before
		}
		if n > 0 && v.Variant != "" {
			parts = append(parts, variantName(v.Variant)+" "+pct(n, e.Samples))
		}
	}
	return strings.Join(parts, ", ") + " of " + thousands(e.Samples) + " sample contexts"
}

// exposureLine words the exposure, e.g. "on: 66.3% → 25.0% of 10,000
// sample contexts; 4,131 switch on → off".
func exposureLine(e *Exposure) string {
	if e == nil || e.Samples == 0 {
		return ""
	}
	var shares []string
	for _, v := range e.Variants {
		if v.Before != v.After {
			shares = append(shares, fmt.Sprintf("%s: %s → %s", variantName(v.Variant), pct(v.Before, e.Samples), pct(v.After, e.Samples)))
		}
	}
	if e.Switched == 0 {
		return "no sample context changes variant"
	}
	s := ""
	if len(shares) > 0 {
		s = "**" + strings.Join(shares, ", ") + "** of " + thousands(e.Samples) + " sample contexts; "
	} else {
		s = "shares unchanged on " + thousands(e.Samples) + " sample contexts, but "
	}
	var sw []string
	for i, x := range e.Switches {
		if i == 3 {
			sw = append(sw, fmt.Sprintf("%s more switch otherwise", thousands(e.Switched-sumSwitches(e.Switches[:3]))))
			break
		}
		sw = append(sw, fmt.Sprintf("%s switch %s → %s", thousands(x.Count), variantName(x.From), variantName(x.To)))
	}
	return s + strings.Join(sw, ", ")
}

func sumSwitches(s []Switch) int {
	n := 0
	for _, x := range s {
		n += x.Count
	}
	return n
}

func variantName(v string) string {
	if v == "" {
		return "(no flag)"
	}
	return v
}

// writeEnvs writes each environment's details, folded; environments whose
// details read the same share one block.
func writeEnvs(b *strings.Builder, envs []EnvReport) {
	var order []string
	names := map[string][]string{}
	for i := range envs {
		if envs[i].Empty() {
			continue
		}
		var eb strings.Builder
		writeEnv(&eb, &envs[i])
		body := eb.String()
		if _, ok := names[body]; !ok {
			order = append(order, body)
		}
		names[body] = append(names[body], envs[i].Environment)
	}
	for _, body := range order {
		b.WriteString("<details><summary>" + strings.Join(names[body], ", ") + body)
	}
}

// writeEnv writes one environment's details: the rest of its summary line,
// then the body, closing the <details> block writeEnvs opened.
func writeEnv(b *strings.Builder, e *EnvReport) {
	var counts []string
	if e.Status != "" {
		counts = append(counts, string(e.Status))
	}
	if n := len(e.Flags); n > 0 {
		counts = append(counts, plural(n, "flag"))
	}
	if n := len(e.Audiences); n > 0 {
		counts = append(counts, plural(n, "audience"))
	}
	if n := len(e.Overrides); n > 0 {
		counts = append(counts, plural(n, "override"))
	}
	fmt.Fprintf(b, ": %s</summary>\n\n", strings.Join(counts, ", "))
	if len(e.Flags) > 0 {
		b.WriteString("**Flags**\n\n")
		for i, f := range e.Flags {
			if i == maxDetailFlags {
				fmt.Fprintf(b, "- … and %d more flags (see --format json)\n", len(e.Flags)-maxDetailFlags)
				break
			}
			head := code(f.Key) + " " + string(f.Change)
			if f.Change == Renamed {
				head = code(f.Key) + " renamed from " + code(f.RenamedFrom)
			}
			if len(f.Via) > 0 {
				head += " (through " + strings.Join(f.Via, ", ") + ")"
			}
			b.WriteString("- " + head + "\n")
			for _, d := range f.Details {
				b.WriteString("  - " + text(d) + "\n")
			}
			writeExposureTable(b, f.Exposure)
		}
		b.WriteString("\n")
	}
	if len(e.Audiences) > 0 {
		b.WriteString("**Audiences**\n\n")
		for _, a := range e.Audiences {
			b.WriteString("- " + code(a.Key) + " " + string(a.Change))
			if len(a.Flags) > 0 {
				b.WriteString(", used by " + codeList(a.Flags))
			}
			b.WriteString("\n")
			for _, d := range a.Details {
				b.WriteString("  - " + text(d) + "\n")
			}
		}
		b.WriteString("\n")
	}
	if len(e.Overrides) > 0 {
		b.WriteString("**Overrides**\n\n")
		for _, o := range e.Overrides {
			switch o.Change {
			case Set:
				fmt.Fprintf(b, "- %s set: %s\n", code(o.Flag), text(o.After))
			case Cleared:
				fmt.Fprintf(b, "- %s cleared (was: %s)\n", code(o.Flag), text(o.Before))
			default:
				fmt.Fprintf(b, "- %s changed: %s → %s\n", code(o.Flag), text(o.Before), text(o.After))
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("</details>\n\n")
}

// writeExposureTable writes a flag's exposure as a nested table row list.
func writeExposureTable(b *strings.Builder, e *Exposure) {
	if e == nil || e.Samples == 0 {
		return
	}
	b.WriteString("  - exposure on " + thousands(e.Samples) + " sample contexts: ")
	var parts []string
	for _, v := range e.Variants {
		if v.Before == 0 && v.After == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s → %s", variantName(v.Variant), pct(v.Before, e.Samples), pct(v.After, e.Samples)))
	}
	b.WriteString(strings.Join(parts, ", "))
	if e.Switched > 0 {
		fmt.Fprintf(b, "; %s switch", thousands(e.Switched))
	}
	b.WriteString("\n")
}

func pct(n, total int) string {
	return strconv.FormatFloat(100*float64(n)/float64(total), 'f', 1, 64) + "%"
}

// thousands formats n with comma separators: 10000 is "10,000".
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return thousands(n) + " " + word + "s"
}

// text escapes what would turn a line of words into HTML in a comment.
func text(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func code(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

func codeList(names []string) string {
	if len(names) > 10 {
		out := make([]string, 10)
		for i := range out {
			out[i] = code(names[i])
		}
		return strings.Join(out, ", ") + fmt.Sprintf(" and %d more", len(names)-10)
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = code(n)
	}
	return strings.Join(out, ", ")
}
