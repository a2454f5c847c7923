package loader

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// testRepo is a small valid repository that test files are checked against.
var testRepo = map[string]string{
	"flagpole.yaml":   "version: 1\nenvironments: [production, staging]\n",
	"attributes.yaml": "attributes:\n  - {name: state, type: string}\n  - {name: student, type: boolean}\n  - {name: age, type: number}\n",
	"flags/banner.yaml": "key: banner\nrules:\n  - users: [audrey]\n    serve: on\n  - rollout: {on: 25, off: 75}\n" +
		"environments:\n  staging: {variants: {on: true, off: false, dark: false}}\n",
	"flags/color.yaml": "key: color\ntype: string\nvariants: {red: r, blue: b}\noff: red\n",
}

func withTests(tests map[string]string) map[string]string {
	files := map[string]string{}
	for k, v := range testRepo {
		files[k] = v
	}
	for k, v := range tests {
		files["tests/"+k] = v
	}
	return files
}

func loadTests(t *testing.T, tests map[string]string) ([]*TestFile, Diagnostics) {
	t.Helper()
	dir := writeRepo(t, withTests(tests))
	repo, err := Load(dir, Options{})
	if err != nil {
		t.Fatalf("the repository does not load: %v", err)
	}
	files, diags, err := LoadTests(dir, repo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return files, diags
}

func TestLoadTestsGood(t *testing.T) {
	files, diags := loadTests(t, map[string]string{
		"banner.yaml": "# yaml-language-server: $schema=../.flagpole/schema/test.schema.json\n" +
			"flag: banner\ncases:\n  - context: {key: audrey, age: 30}\n    at: 2026-12-01T10:00:00Z\n    expect: {variant: on, value: true, reason: TARGETING_MATCH}\n" +
			"  - name: sampled\n    context: {state: CA}\n    sample: {contexts: 1000, by: age}\n    expect: {share: {on: 25, off: 75}, tolerance: 2}\n",
		"color.yaml": "flag: color\nenvironment: staging\ncases:\n  - expect: {value: r}\n",
	})
	if len(diags) != 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	if len(files) != 2 {
		t.Fatalf("%d files, want 2", len(files))
	}
	b := files[0]
	if b.File != "tests/banner.yaml" || b.Flag != "banner" || strings.Join(b.Environments, ",") != "production,staging" || len(b.Cases) != 2 {
		t.Fatalf("banner: %+v", b)
	}
	c0, c1 := b.Cases[0], b.Cases[1]
	if c0.Line != 4 || c0.Column != 5 || c0.At.IsZero() || c0.Context["key"] != "audrey" || c0.Context["age"] != 30.0 ||
		c0.Expect.Variant != "on" || !c0.Expect.HasValue || c0.Expect.Value != true || c0.Expect.Reason != "TARGETING_MATCH" {
		t.Errorf("case 0: %+v", c0)
	}
	if c1.Name != "sampled" || c1.Sample == nil || c1.Sample.By != "age" || c1.Sample.ByType != "number" || c1.Sample.Contexts != 1000 ||
		len(c1.Expect.Share) != 2 || c1.Expect.Share[1] != (TestShare{"off", 75}) || c1.Expect.Tolerance != 2 {
		t.Errorf("case 1: %+v %+v", c1, c1.Sample)
	}
	if files[1].Environments[0] != "staging" || files[1].Cases[0].Sample != nil {
		t.Errorf("color: %+v", files[1])
	}
}

func TestLoadTestsBad(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
	}{
		{"missing flag", "flag: nope\ncases:\n  - expect: {variant: on}\n",
			[]string{`tests/t.yaml:1:7: flag: unknown flag "nope": there is no flags/nope.yaml`}},
		{"unknown environment", "flag: banner\nenvironment: prod\ncases:\n  - expect: {variant: on}\n",
			[]string{`tests/t.yaml:2:14: environment: unknown environment "prod" (declared in flagpole.yaml: production, staging)`}},
		{"unknown variant", "flag: banner\ncases:\n  - expect: {variant: dark}\n",
			[]string{`tests/t.yaml:3:23: cases[0].expect.variant: flag "banner" has no variant "dark" in production (variants: on, off)`}},
		{"unknown share variant", "flag: color\ncases:\n  - sample: {contexts: 10}\n    expect: {share: {green: 10}, tolerance: 1}\n",
			[]string{`tests/t.yaml:4:29: cases[0].expect.share.green: flag "color" has no variant "green" in production (variants: red, blue)`}},
		{"negative tolerance", "flag: banner\ncases:\n  - sample: {contexts: 10}\n    expect: {share: {on: 25}, tolerance: -1}\n",
			[]string{`tests/t.yaml:4:42: cases[0].expect.tolerance: must be >= 0 but found -1`}},
		{"tolerance over 100", "flag: banner\ncases:\n  - sample: {contexts: 10}\n    expect: {share: {on: 25}, tolerance: 101}\n",
			[]string{`tests/t.yaml:4:42: cases[0].expect.tolerance: must be <= 100 but found 101`}},
		{"shares over 100", "flag: color\ncases:\n  - sample: {contexts: 10}\n    expect: {share: {red: 60, blue: 60}, tolerance: 1}\n",
			[]string{`tests/t.yaml:4:21: cases[0].expect.share: the shares add up to 120%, more than 100%`}},
		{"all shares under 100", "flag: color\ncases:\n  - sample: {contexts: 10}\n    expect: {share: {red: 30, blue: 60}, tolerance: 1}\n",
			[]string{`tests/t.yaml:4:21: cases[0].expect.share: the shares of every variant of the flag (in production) add up to 90%, not 100%`}},
		{"share without tolerance", "flag: color\ncases:\n  - sample: {contexts: 10}\n    expect: {share: {red: 30}}\n",
			[]string{`tests/t.yaml:4:13: cases[0].expect: a share needs a tolerance in percentage points, such as tolerance: 1`}},
		{"share without sample", "flag: color\ncases:\n  - expect: {share: {red: 30}, tolerance: 1}\n",
			[]string{`tests/t.yaml:3:13: cases[0].expect: share and tolerance need a sample: add sample: {contexts: 10000, by: key}`}},
		{"variant in a sample", "flag: color\ncases:\n  - sample: {contexts: 10}\n    expect: {variant: red}\n",
			[]string{`a sampled case expects a share per variant, not variant, value or reason`, `a sampled case needs share`}},
		{"malformed clock", "flag: banner\ncases:\n  - at: 2026-13-01T10:00:00Z\n    expect: {variant: on}\n",
			[]string{`tests/t.yaml:3:9: cases[0].at: malformed clock '2026-13-01T10:00:00Z': want an RFC 3339 time such as 2026-12-01T10:00:00Z`}},
		{"date is no clock", "flag: banner\ncases:\n  - at: 2026-12-01\n    expect: {variant: on}\n",
			[]string{`tests/t.yaml:3:9: cases[0].at: malformed clock '2026-12-01': want an RFC 3339 time`}},
		{"empty expect", "flag: banner\ncases:\n  - context: {key: a}\n    expect: {}\n",
			[]string{`tests/t.yaml:4:13: cases[0].expect: minimum 1 properties allowed, but found 0`}},
		{"unknown field", "flag: banner\ncases:\n  - context: {key: a}\n    expect: {variant: on}\n    expected: {variant: on}\n",
			[]string{`tests/t.yaml:5:5: cases[0].expected: unknown field "expected"`}},
		{"duplicate key", "flag: banner\nflag: color\ncases:\n  - expect: {variant: on}\n",
			[]string{`tests/t.yaml:2:1`, `duplicate`}},
		{"second document", "flag: banner\ncases:\n  - expect: {variant: on}\n---\nflag: color\n",
			[]string{`tests/t.yaml:5:1: a second YAML document is not allowed`}},
		{"nested context", "flag: banner\ncases:\n  - context: {key: a, tags: [x]}\n    expect: {variant: on}\n",
			[]string{`tests/t.yaml:3:29: cases[0].context.tags: expected string or number or boolean or null, but got array`}},
		{"undeclared by", "flag: banner\ncases:\n  - sample: {contexts: 10, by: team}\n    expect: {share: {on: 25}, tolerance: 1}\n",
			[]string{`tests/t.yaml:3:32: cases[0].sample.by: undeclared attribute "team": declare it in attributes.yaml`}},
		{"boolean by", "flag: banner\ncases:\n  - sample: {contexts: 10, by: student}\n    expect: {share: {on: 25}, tolerance: 1}\n",
			[]string{`cannot generate boolean values for "student"`}},
		{"sample too large", "flag: banner\ncases:\n  - sample: {contexts: 100001}\n    expect: {share: {on: 25}, tolerance: 1}\n",
			[]string{`tests/t.yaml:3:24: cases[0].sample.contexts: must be <= 100000 but found 100001`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, diags := loadTests(t, map[string]string{"t.yaml": tt.file})
			if len(files) != 0 {
				t.Errorf("an invalid file was returned: %+v", files[0])
			}
			if !diags.HasErrors() {
				t.Fatalf("no errors")
			}
			got := diags.Error()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("diagnostics lack %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestLoadTestsBounds(t *testing.T) {
	many := map[string]string{}
	for i := range MaxTestFiles + 1 {
		many[fmt.Sprintf("f%04d.yaml", i)] = "flag: banner\ncases:\n  - expect: {variant: on}\n"
	}
	if len(many) <= MaxTestFiles {
		t.Fatalf("made only %d distinct names", len(many))
	}
	_, diags := loadTests(t, many)
	if !strings.Contains(diags.Error(), "test files, over the limit of 1000") {
		t.Errorf("no limit error: %.300s", diags.Error())
	}
	big := "flag: banner\ncases:\n  - sample: {contexts: 100000}\n    expect: {share: {on: 25}, tolerance: 1}\n"
	files := map[string]string{}
	for i := range 11 {
		files[string(rune('a'+i))+".yaml"] = big // 11 × 100,000 × 2 environments
	}
	_, diags = loadTests(t, files)
	if !strings.Contains(diags.Error(), "over the limit of 2000000 a run") {
		t.Errorf("no sample limit error: %s", diags.Error())
	}
}

func TestLoadTestsWithoutRepo(t *testing.T) {
	dir := writeRepo(t, withTests(map[string]string{"t.yaml": "flag: nope\ncases:\n  - expect: {variant: on}\n  - expect: {colour: red}\n"}))
	files, diags, err := LoadTests(dir, nil, Options{})
	if err != nil || len(files) != 0 {
		t.Fatalf("LoadTests = %v, %v", files, err)
	}
	if got := diags.Error(); !strings.Contains(got, `tests/t.yaml:4:14: cases[1].expect.colour: unknown field "colour"`) || strings.Contains(got, "unknown flag") {
		t.Errorf("want the schema error only:\n%s", got)
	}
	_, diags, err = LoadTests(t.TempDir(), nil, Options{})
	if err != nil || len(diags) != 0 {
		t.Errorf("a repository without tests/: %v, %v", diags, err)
	}
	var ds Diagnostics
	if errors.As(err, &ds) {
		t.Errorf("I/O error expected only")
	}
}

// TestModelineKeepsPositions checks that the schema modeline on the first
// line of a file is a plain comment: strict decoding accepts it and line
// numbers count it.
func TestModelineKeepsPositions(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"flagpole.yaml":                     "# yaml-language-server: $schema=.flagpole/schema/flagpole.schema.json\nversion: 1\nenvironments: [production]\n",
		"flags/banner.yaml":                 "# yaml-language-server: $schema=../.flagpole/schema/flag.schema.json\nkey: banner\nrules:\n  - serve: maybe\n",
		".flagpole/schema/flag.schema.json": "{}",
	})
	_, err := Load(dir, Options{})
	var ds Diagnostics
	if !errors.As(err, &ds) || ds.Error() != `flags/banner.yaml:4:12: rules[0].serve: unknown variant "maybe" (variants: on, off)` {
		t.Errorf("Load = %v", err)
	}
}
