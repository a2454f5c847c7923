package loader

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/schema"
)

// Bounds of the tests/ directory (documented in docs/review.md).
const (
	// TestsDir is the directory of test files, relative to the repository root.
	TestsDir = "tests"
	// MaxTestFiles is the most files tests/ may hold.
	MaxTestFiles = 1000
	// MaxTestCases is the most cases one test file may hold (the schema says so too).
	MaxTestCases = 1000
	// MaxSampleContexts is the largest sample of one case (the schema says so too).
	MaxSampleContexts = 100_000
	// MaxSampledTotal bounds the generated contexts of all the samples of a
	// run, each counted once per environment it runs in.
	MaxSampledTotal = 2_000_000
)

// TestFile is one checked file of tests/: expectations about one flag.
type TestFile struct {
	// File is the path relative to the repository root, such as tests/checkout.yaml.
	File string
	// Flag is the key of the flag under test.
	Flag string
	// Environments are the environments the cases run in: the file's
	// environment, or every environment of the repository.
	Environments []string
	// Cases in file order.
	Cases []TestCase
}

// TestCase is one case of a test file.
type TestCase struct {
	// Index is the position of the case in the file, from 0.
	Index int
	// Name is the case's name, if it has one.
	Name string
	// Line and Column locate the case in its file.
	Line, Column int
	// Context is the evaluation context; for a sample, the attributes every
	// generated context has. Never nil.
	Context ruleset.Context
	// At is the clock of the case; zero means the time the test runs.
	At time.Time
	// Sample is set for a sampled case, nil for a single context.
	Sample *TestSample
	// Expect is what the case must get.
	Expect TestExpect
}

// TestSample is a case's generated sample of contexts.
type TestSample struct {
	// Contexts is how many contexts are generated.
	Contexts int
	// By is the attribute that gets a generated value in each context.
	By string
	// ByType is By's declared type (string or number).
	ByType ruleset.AttrType
}

// TestExpect is what a case expects. A single-context case sets any of
// Variant, Value (HasValue) and Reason; a sampled case sets Share and
// Tolerance.
type TestExpect struct {
	Variant string
	// Value is the expected value as decoded JSON (bool, float64, string,
	// nil, map[string]any, []any); meaningful when HasValue.
	Value    any
	HasValue bool
	// Reason is an OpenFeature reason name such as TARGETING_MATCH.
	Reason string
	// Share is the expected percentage of the sample per variant, in file order.
	Share []TestShare
	// Tolerance is the allowed difference of each share, in percentage points.
	Tolerance float64
}

// TestShare is the expected share of one variant in a sample.
type TestShare struct {
	Variant string
	Percent float64
}

type testFileYAML struct {
	Flag        string         `yaml:"flag"`
	Environment string         `yaml:"environment"`
	Cases       []testCaseYAML `yaml:"cases"`
}

type testCaseYAML struct {
	Name    string    `yaml:"name"`
	Context yaml.Node `yaml:"context"`
	At      string    `yaml:"at"`
	Sample  *struct {
		Contexts int    `yaml:"contexts"`
		By       string `yaml:"by"`
	} `yaml:"sample"`
	Expect struct {
		Variant   string    `yaml:"variant"`
		Value     yaml.Node `yaml:"value"`
		Reason    string    `yaml:"reason"`
		Share     yaml.Node `yaml:"share"` // ordered mapping
		Tolerance *float64  `yaml:"tolerance"`
	} `yaml:"expect"`
}

// LoadTests reads and checks the test files of the repository in dir
// (tests/*.yaml). repo is the loaded repository, or nil when it did not
// load: then only what a file holds by itself is checked, not that its
// flag, environment, variants and attributes exist.
//
// It returns the files without errors, and the diagnostics (errors and
// warnings, sorted) of all of them. The error is for I/O problems only.
// A repository without tests/ has no test files and no diagnostics.
func LoadTests(dir string, repo *Repo, opts Options) ([]*TestFile, Diagnostics, error) {
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	t, err := readTests(dir, opts.MaxFileSize)
	if err != nil {
		return nil, nil, err
	}
	tc := &testChecker{repo: repo, diags: t.diags}
	var out []*TestFile
	for _, raw := range t.flags {
		f := parseFile(raw.rel, raw.data, schema.Test)
		tc.diags = append(tc.diags, clockMessages(f.diags)...)
		if tf := tc.check(f); tf != nil && !f.hasErrors(tc.diags) {
			out = append(out, tf)
		}
	}
	return out, tc.diags.sort(), nil
}

// readTests reads tests/*.yaml (into tree.flags) with the reader's bounds.
func readTests(dir string, maxSize int64) (*tree, error) {
	r := &reader{maxSize: maxSize, t: &tree{}}
	root, err := resolveRoot(dir)
	if err != nil {
		return nil, err
	}
	r.root = root
	entries, _, err := r.listDir(TestsDir)
	if err != nil {
		return nil, err
	}
	if n := countYAML(entries); n > MaxTestFiles {
		r.fileError(TestsDir, fmt.Sprintf("%d test files, over the limit of %d", n, MaxTestFiles))
		return r.t, nil
	}
	if r.t.flags, err = r.readDir(TestsDir); err != nil {
		return nil, err
	}
	return r.t, nil
}

func countYAML(entries []dirEntry) int {
	n := 0
	for _, e := range entries {
		if !e.isDir() && isYAML(e.name) && !strings.HasPrefix(e.name, ".") {
			n++
		}
	}
	return n
}

// clockMessages rewrites the schema's date-time complaint about a case's
// clock into words a test author acts on.
func clockMessages(ds Diagnostics) Diagnostics {
	for i, d := range ds {
		if strings.HasPrefix(d.Path, "cases[") && strings.HasSuffix(d.Path, "].at") && strings.HasSuffix(d.Message, " is not valid 'date-time'") {
			ds[i].Message = fmt.Sprintf("malformed clock %s: want an RFC 3339 time such as 2026-12-01T10:00:00Z",
				strings.TrimSuffix(d.Message, " is not valid 'date-time'"))
		}
	}
	return ds
}

// hasErrors reports whether ds holds an error in f.
func (f *yfile) hasErrors(ds Diagnostics) bool {
	for _, d := range ds {
		if d.File == f.rel && d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// testChecker checks test files against a repository.
type testChecker struct {
	repo    *Repo
	diags   Diagnostics
	sampled int // generated contexts so far, per environment
}

func (tc *testChecker) errorf(f *yfile, path []any, format string, args ...any) {
	d := f.at(SeverityError, fmt.Sprintf(format, args...), path...)
	if f.trusts(d.Path) {
		tc.diags = append(tc.diags, d)
	}
}

// check checks one parsed test file and returns it, or nil when it did
// not decode.
func (tc *testChecker) check(f *yfile) *TestFile {
	if !f.ok {
		return nil
	}
	if f.decodeErr != nil {
		tc.diags = append(tc.diags, f.at(SeverityError, "cannot decode: "+f.decodeErr.Error()))
		return nil
	}
	raw := f.typed.(*testFileYAML)
	tf := &TestFile{File: f.rel, Flag: raw.Flag}
	docs := tc.environments(f, raw, tf)
	for i := range raw.Cases {
		if c, ok := tc.testCase(f, i, &raw.Cases[i], tf, docs); ok {
			tf.Cases = append(tf.Cases, c)
		}
	}
	return tf
}

// environments resolves the environments of a test file and checks that
// its flag exists in each; it returns the flag per environment (empty when
// the repository is unknown).
func (tc *testChecker) environments(f *yfile, raw *testFileYAML, tf *TestFile) map[string]*ruleset.Flag {
	flags := map[string]*ruleset.Flag{}
	if tc.repo == nil {
		if raw.Environment != "" {
			tf.Environments = []string{raw.Environment}
		}
		return flags
	}
	envs := tc.repo.Settings.Environments
	if raw.Environment != "" {
		if !slices.Contains(envs, raw.Environment) {
			tc.errorf(f, p("environment"), "unknown environment %q (declared in flagpole.yaml: %s)", raw.Environment, strings.Join(envs, ", "))
			return flags
		}
		envs = []string{raw.Environment}
	}
	tf.Environments = envs
	var missing []string
	for _, env := range envs {
		doc := tc.repo.Documents[env]
		if doc == nil {
			continue
		}
		if fl, ok := doc.Flags.Lookup(raw.Flag); ok {
			flags[env] = fl
		} else {
			missing = append(missing, env)
		}
	}
	if len(missing) > 0 {
		tc.errorf(f, p("flag"), "unknown flag %q: there is no flags/%s.yaml", raw.Flag, raw.Flag)
	}
	return flags
}

// testCase checks case i and converts it.
func (tc *testChecker) testCase(f *yfile, i int, cy *testCaseYAML, tf *TestFile, flags map[string]*ruleset.Flag) (TestCase, bool) {
	at := func(rest ...any) []any { return append(p("cases", i), rest...) }
	before := len(tc.diags)
	loc := f.locate(at()...)
	c := TestCase{Index: i, Name: cy.Name, Line: loc.value.Line, Column: loc.value.Column, Context: ruleset.Context{}}
	if cy.Context.Kind != 0 {
		conv := converter{f: &yfile{}}
		b, err := json.Marshal(conv.convert(&cy.Context))
		if err == nil {
			c.Context, err = ruleset.ParseContext(b)
		}
		if err != nil {
			tc.errorf(f, at("context"), "invalid context: %v", err)
		}
	}
	if cy.At != "" {
		t, err := time.Parse(time.RFC3339, cy.At)
		if err != nil {
			tc.errorf(f, at("at"), "malformed clock %q: want an RFC 3339 time such as 2026-12-01T10:00:00Z", cy.At)
		}
		c.At = t
	}
	e := &cy.Expect
	c.Expect = TestExpect{Variant: e.Variant, Reason: e.Reason}
	if e.Value.Kind != 0 {
		c.Expect.HasValue = true
		c.Expect.Value = (&converter{f: &yfile{}}).convert(&e.Value)
		if b, err := json.Marshal(c.Expect.Value); err == nil {
			_ = json.Unmarshal(b, &c.Expect.Value) // numbers as float64, like results
		}
	}
	if cy.Sample != nil {
		tc.sampleCase(f, at, cy, &c, tf, flags)
	} else {
		if e.Share.Kind != 0 || e.Tolerance != nil {
			tc.errorf(f, at("expect"), "share and tolerance need a sample: add sample: {contexts: 10000, by: key}")
		}
		if e.Variant == "" && !c.Expect.HasValue && e.Reason == "" {
			tc.errorf(f, at("expect"), "expect nothing to check: give variant, value or reason")
		}
		if e.Variant != "" {
			tc.checkVariant(f, at("expect", "variant"), e.Variant, flags)
		}
	}
	return c, len(tc.diags) == before
}

// sampleCase checks the sample and the expected shares of a sampled case.
func (tc *testChecker) sampleCase(f *yfile, at func(...any) []any, cy *testCaseYAML, c *TestCase, tf *TestFile, flags map[string]*ruleset.Flag) {
	e := &cy.Expect
	s := &TestSample{Contexts: cy.Sample.Contexts, By: cy.Sample.By, ByType: ruleset.AttrString}
	if s.By == "" {
		s.By = "key"
	}
	c.Sample = s
	if e.Variant != "" || e.Value.Kind != 0 || e.Reason != "" {
		tc.errorf(f, at("expect"), "a sampled case expects a share per variant, not variant, value or reason")
	}
	if e.Share.Kind == 0 {
		tc.errorf(f, at("expect"), "a sampled case needs share: {VARIANT: PERCENT, ...} and a tolerance")
		return
	}
	if e.Tolerance == nil {
		tc.errorf(f, at("expect"), "a share needs a tolerance in percentage points, such as tolerance: 1")
	} else {
		c.Expect.Tolerance = *e.Tolerance
	}
	sum := 0.0
	for j := 0; j+1 < len(e.Share.Content); j += 2 {
		name := e.Share.Content[j].Value
		var pct float64
		if err := e.Share.Content[j+1].Decode(&pct); err != nil {
			continue // the schema has reported it
		}
		sum += pct
		c.Expect.Share = append(c.Expect.Share, TestShare{Variant: name, Percent: pct})
		tc.checkVariant(f, at("expect", "share", name), name, flags)
	}
	tc.checkShareSum(f, at("expect", "share"), sum, c.Expect.Share, flags)
	if n := len(tf.Environments); n > 0 {
		tc.sampled += s.Contexts * n
		if tc.sampled > MaxSampledTotal {
			tc.errorf(f, at("sample", "contexts"), "the samples of the test files add up to %d contexts, over the limit of %d a run", tc.sampled, MaxSampledTotal)
		}
	}
	if tc.repo == nil || s.By == "key" {
		return
	}
	typ, declared := tc.attrType(s.By)
	switch {
	case !declared:
		tc.errorf(f, at("sample", "by"), "undeclared attribute %q: declare it in attributes.yaml", s.By)
	case !ruleset.CanBucketBy(typ):
		tc.errorf(f, at("sample", "by"), "cannot generate %s values for %q: sample by a string or number attribute", typ, s.By)
	default:
		s.ByType = typ
	}
}

// checkShareSum rejects shares that cannot all hold: listed shares over
// 100%, or the shares of every variant not summing to 100%.
func (tc *testChecker) checkShareSum(f *yfile, path []any, sum float64, shares []TestShare, flags map[string]*ruleset.Flag) {
	const slack = 0.001
	if sum > 100+slack {
		tc.errorf(f, path, "the shares add up to %s%%, more than 100%%", trimFloat(sum))
		return
	}
	for _, env := range sortedEnvs(flags) {
		fl := flags[env]
		if len(fl.Variants) != len(shares) || math.Abs(sum-100) <= slack {
			continue
		}
		all := true
		for _, s := range shares {
			all = all && hasVariant(fl, s.Variant)
		}
		if all {
			tc.errorf(f, path, "the shares of every variant of the flag (in %s) add up to %s%%, not 100%%", env, trimFloat(sum))
			return
		}
	}
}

// checkVariant reports a variant that the flag lacks in any environment.
func (tc *testChecker) checkVariant(f *yfile, path []any, name string, flags map[string]*ruleset.Flag) {
	for _, env := range sortedEnvs(flags) {
		fl := flags[env]
		if !hasVariant(fl, name) {
			names := make([]string, len(fl.Variants))
			for i, v := range fl.Variants {
				names[i] = v.Name
			}
			tc.errorf(f, path, "flag %q has no variant %q in %s (variants: %s)", fl.Key, name, env, strings.Join(names, ", "))
			return
		}
	}
}

// sortedEnvs returns the environments of flags in order, so that a
// problem found in several is reported for the same one on every run.
func sortedEnvs(flags map[string]*ruleset.Flag) []string {
	envs := make([]string, 0, len(flags))
	for env := range flags {
		envs = append(envs, env)
	}
	sort.Strings(envs)
	return envs
}

func (tc *testChecker) attrType(name string) (ruleset.AttrType, bool) {
	for _, a := range tc.repo.Attributes {
		if a.Name == name {
			return a.Type, true
		}
	}
	return "", false
}

func hasVariant(fl *ruleset.Flag, name string) bool {
	for _, v := range fl.Variants {
		if v.Name == name {
			return true
		}
	}
	return false
}

// trimFloat formats a percentage without trailing zeros.
func trimFloat(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}
