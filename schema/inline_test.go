package schema

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestInlinedRefsReportTheSame validates every YAML file of the
// repository's fixtures and examples, and mutations of each, against the
// schemas as written and as inlined (inlineRefs), and requires the same
// violations.
func TestInlinedRefsReportTheSame(t *testing.T) {
	asWritten, err := compileSchemas(func(b []byte) ([]byte, error) { return b, nil })
	if err != nil {
		t.Fatal(err)
	}
	inlined, err := compileSchemas(inlineRefs)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, root := range []string{"../loader/testdata", "../flags.example", "../examples"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
				return err
			}
			name := schemaFor(filepath.ToSlash(p))
			b, err := os.ReadFile(p)
			if err != nil {
				return nil // dangling symlinks among the fixtures
			}
			var v any
			if yaml.Unmarshal(b, &v) != nil {
				return nil // YAML errors are the loader's
			}
			for i, doc := range append([]any{v}, mutations(v)...) {
				n++
				want, got := validateWith(asWritten, name, doc), validateWith(inlined, name, doc)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s (mutation %d) as %s: inlined %v, as written %v", p, i, name, got, want)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 100 {
		t.Fatalf("only %d documents compared", n)
	}
}

func schemaFor(p string) string {
	switch {
	case strings.Contains(p, "/flags/"):
		return Flag
	case strings.Contains(p, "/audiences/"):
		return Audience
	case strings.Contains(p, "/overrides/"):
		return Override
	case strings.Contains(p, "/tests/"):
		return Test
	case strings.HasSuffix(p, "/attributes.yaml"):
		return Attributes
	}
	return Flagpole
}

// mutations returns copies of v with one value replaced at a time, by
// values of other types and shapes, to reach every schema keyword.
func mutations(v any) []any {
	var out []any
	bad := []any{"", "x y", -1, 1000.0005, true, nil, []any{}, map[string]any{}, map[string]any{"bogus": 1}}
	var walk func(cur any, set func(any))
	walk = func(cur any, set func(any)) {
		for _, b := range bad {
			set(b)
			out = append(out, deepCopy(v))
		}
		set(cur)
		switch c := cur.(type) {
		case map[string]any:
			for k, x := range c {
				walk(x, func(n any) { c[k] = n })
			}
		case []any:
			for i, x := range c {
				walk(x, func(n any) { c[i] = n })
			}
		}
	}
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			walk(x, func(n any) { m[k] = n })
		}
	}
	return out
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}
