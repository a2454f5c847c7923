package ruleset

import (
	"fmt"
	"sort"
	"strings"
)

// CompileError lists every problem Compile found in a Document, sorted by
// path, then message.
type CompileError struct {
	Problems []FieldError
}

// Error returns the problems one per line.
func (e *CompileError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid rule set: %d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteByte('s')
	}
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// problems collects Problems during compilation.
type problems struct {
	list []FieldError
}

func (ps *problems) add(p *fieldPath, format string, args ...any) {
	ps.addPath(p.list(), format, args...)
}

func (ps *problems) addPath(path []any, format string, args ...any) {
	ps.list = append(ps.list, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	sort.SliceStable(ps.list, func(i, j int) bool {
		a, b := ps.list[i], ps.list[j]
		if pa, pb := a.PathString(), b.PathString(); pa != pb {
			return naturalLess(pa, pb)
		}
		return a.Message < b.Message
	})
	return &CompileError{Problems: ps.list}
}

// naturalLess orders strings with runs of digits compared by value, so that
// rules[2] sorts before rules[10].
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := leadingDigits(a), leadingDigits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func leadingDigits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
