package flagtest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

// Options tunes Run. The zero value is ready to use.
type Options struct {
	// Now is the clock of the cases without `at`. Zero: time.Now.
	Now func() time.Time
}

// Outcome is the result of one case in one environment.
type Outcome struct {
	File        string // tests/checkout.yaml
	Line        int    // of the case
	Column      int
	Flag        string
	Environment string
	Case        int    // index in the file, from 0
	Name        string // the case's name, if any
	Passed      bool
	// Problem says what differed, e.g. `got variant "off" (reason SPLIT),
	// want variant "on"`; "" when the case passed.
	Problem string
	// Trace is the ruleset trace (as `flagpole eval --explain` prints it)
	// of the failing context; "" when the case passed.
	Trace string
}

// Label names the case for a report: `tests/checkout.yaml:7:5 checkout-v2
// [production] case 2 "name"`.
func (o Outcome) Label() string {
	s := fmt.Sprintf("%s:%d:%d %s [%s] case %d", o.File, o.Line, o.Column, o.Flag, o.Environment, o.Case+1)
	if o.Name != "" {
		s += " " + fmt.Sprintf("%q", o.Name)
	}
	return s
}

// Report is the outcome of a run.
type Report struct {
	Files    int
	Outcomes []Outcome // in file, case and environment order
}

// Failed returns the outcomes that failed.
func (r *Report) Failed() []Outcome {
	var out []Outcome
	for _, o := range r.Outcomes {
		if !o.Passed {
			out = append(out, o)
		}
	}
	return out
}

// Run evaluates every case of files (from loader.LoadTests) against repo,
// in each environment of its file. It returns an error only when an
// environment's rule set cannot be compiled, which a loaded repository
// rules out.
func Run(repo *loader.Repo, files []*loader.TestFile, opts Options) (*Report, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &runner{repo: repo, opts: opts, sets: map[string]*ruleset.RuleSet{}}
	rep := &Report{Files: len(files)}
	for _, tf := range files {
		for _, c := range tf.Cases {
			for _, env := range tf.Environments {
				o, err := r.runCase(tf, c, env)
				if err != nil {
					return nil, err
				}
				rep.Outcomes = append(rep.Outcomes, o)
			}
		}
	}
	return rep, nil
}

// runner holds one compiled rule set per environment, all on one clock
// that each case sets.
type runner struct {
	repo *loader.Repo
	opts Options
	sets map[string]*ruleset.RuleSet
	at   time.Time // the clock of the running case; zero: opts.Now
}

func (r *runner) now() time.Time {
	if r.at.IsZero() {
		return r.opts.Now()
	}
	return r.at
}

func (r *runner) ruleSet(env string) (*ruleset.RuleSet, error) {
	if rs, ok := r.sets[env]; ok {
		return rs, nil
	}
	doc, ok := r.repo.Documents[env]
	if !ok {
		return nil, fmt.Errorf("environment %q is not in the repository", env)
	}
	rs, err := ruleset.CompileWith(doc, ruleset.Options{Now: r.now})
	if err != nil {
		return nil, fmt.Errorf("compiling environment %s: %w", env, err)
	}
	r.sets[env] = rs
	return rs, nil
}

func (r *runner) runCase(tf *loader.TestFile, c loader.TestCase, env string) (Outcome, error) {
	o := Outcome{File: tf.File, Line: c.Line, Column: c.Column, Flag: tf.Flag, Environment: env,
		Case: c.Index, Name: c.Name, Passed: true}
	rs, err := r.ruleSet(env)
	if err != nil {
		return o, err
	}
	r.at = c.At
	defer func() { r.at = time.Time{} }()
	if c.Sample != nil {
		r.sampleCase(rs, tf.Flag, c, &o)
		return o, nil
	}
	res, tr := rs.Explain(tf.Flag, c.Context)
	if problem := compare(c.Expect, res); problem != "" {
		o.Passed, o.Problem, o.Trace = false, problem, contextLine(c.Context)+tr.String()
	}
	return o, nil
}

// compare returns what differs between the expectation and the result.
func compare(e loader.TestExpect, res ruleset.Result) string {
	var want []string
	if e.Variant != "" && e.Variant != res.Variant {
		want = append(want, fmt.Sprintf("variant %q", e.Variant))
	}
	if e.HasValue && !reflect.DeepEqual(e.Value, normalize(res.Value)) {
		want = append(want, "value "+jsonText(e.Value))
	}
	if e.Reason != "" && e.Reason != res.Reason.String() {
		want = append(want, "reason "+e.Reason)
	}
	if len(want) == 0 {
		return ""
	}
	got := fmt.Sprintf("variant %q, value %s, reason %s", res.Variant, jsonText(res.Value), res.Reason)
	if res.ErrorCode != ruleset.ErrorNone {
		got += " (" + res.ErrorCode.String() + ")"
	}
	if res.Rule >= 0 {
		got += fmt.Sprintf(", rule[%d]", res.Rule)
		if res.RuleName != "" {
			got += fmt.Sprintf(" %q", res.RuleName)
		}
	}
	return "got " + got + "; want " + strings.Join(want, ", ")
}

// normalize turns a result value into what decoding its JSON gives, so that
// it compares with an expected value read from YAML.
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// contextLine is the first line of a failure's trace: the context evaluated.
func contextLine(ctx ruleset.Context) string {
	return "context: " + jsonText(map[string]any(ctx)) + "\n"
}
