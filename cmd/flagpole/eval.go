package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

func runEval(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("eval", "[DIR] --flag K [--env E] [--context JSON] [--at TIME] [--explain] [--format text|json]", stderr)
	env := fs.String("env", "", "environment (default: the first one declared in flagpole.yaml)")
	flagKey := fs.String("flag", "", "key of the flag to evaluate (required)")
	ctxJSON := fs.String("context", "{}", `evaluation context as a JSON object, e.g. '{"key":"user-1","state":"CA"}'`)
	explain := fs.Bool("explain", false, "show every rule and condition tried")
	format := fs.String("format", "text", "output format: text or json")
	atFlag := fs.String("at", "", "evaluate as of this RFC 3339 time, e.g. 2026-12-24T09:00:00Z (schedules, ramps, overrides; default: now)")
	pos, err := parse(fs, args)
	clock := time.Now
	switch {
	case err != nil:
	case len(pos) > 1:
		err = fmt.Errorf("expected at most one directory, got %d arguments", len(pos))
	case *flagKey == "":
		err = errors.New("--flag is required")
	default:
		err = oneOf("--format", *format, "text", "json")
	}
	if err == nil && *atFlag != "" {
		at, perr := time.Parse(time.RFC3339Nano, *atFlag)
		if perr != nil {
			err = fmt.Errorf("--at %q is not an RFC 3339 time such as 2026-12-24T09:00:00Z", *atFlag)
		}
		clock = func() time.Time { return at }
	}
	if err != nil {
		return usageError(fs, stderr, err)
	}
	evalCtx, err := ruleset.ParseContext([]byte(*ctxJSON))
	if err != nil {
		fmt.Fprintf(stderr, "flagpole eval: --context: %v\n", err)
		return exitUsage
	}
	dir := "."
	if len(pos) == 1 {
		dir = pos[0]
	}

	rs, err := loadRuleSetAt(dir, *env, clock)
	if err != nil {
		fmt.Fprintf(stderr, "flagpole eval: %v\n", err)
		return exitFailure
	}
	fl, ok := rs.Flag(*flagKey)
	if !ok {
		fmt.Fprintf(stderr, "flagpole eval: flag %q not found in environment %s (flags: %s)\n",
			*flagKey, rs.Environment(), abbreviate(rs.Keys(), 10))
		return exitFailure
	}

	var res ruleset.Result
	var trace ruleset.Trace
	if *explain {
		res, trace = rs.Explain(*flagKey, evalCtx)
	} else {
		res = rs.Evaluate(*flagKey, evalCtx)
	}
	if *format == "json" {
		return printEvalJSON(stdout, stderr, *flagKey, fl.Kind, res)
	}
	if *explain {
		fmt.Fprint(stdout, trace.String())
		if !strings.HasSuffix(trace.String(), "\n") {
			fmt.Fprintln(stdout)
		}
	}
	fmt.Fprintln(stdout, describeResult(*flagKey, rs.Environment(), res))
	if fl.Kind != "" {
		fmt.Fprintf(stdout, "kind: %s\n", describeKind(fl.Kind))
	}
	if len(res.Metadata) > 0 {
		md, _ := json.Marshal(res.Metadata) // string, number and bool values: always encodable
		fmt.Fprintf(stdout, "metadata: %s\n", md)
	}
	return exitOK
}

// loadRuleSetAt loads the repository in dir and returns the compiled rule
// set of env, evaluating (and warning) by the clock now; "" picks the
// first environment declared in flagpole.yaml.
func loadRuleSetAt(dir, env string, now func() time.Time) (*ruleset.RuleSet, error) {
	repo, err := loader.Load(dir, loader.Options{Now: now})
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid flags repository (run flagpole validate):\n%w", dir, err)
	}
	if env == "" {
		if len(repo.Settings.Environments) == 0 {
			return nil, fmt.Errorf("%s/flagpole.yaml declares no environments", dir)
		}
		env = repo.Settings.Environments[0]
	}
	rs, ok := repo.RuleSets[env]
	if !ok {
		return nil, fmt.Errorf("environment %q is not declared in %s/flagpole.yaml (declared: %s)",
			env, dir, strings.Join(repo.Settings.Environments, ", "))
	}
	return rs, nil
}

func describeResult(flagKey, env string, res ruleset.Result) string {
	value, err := json.Marshal(res.Value)
	if err != nil {
		value = []byte(fmt.Sprint(res.Value))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s = %s (environment %s, variant %q, reason %s", flagKey, value, env, res.Variant, res.Reason)
	if res.ErrorCode != ruleset.ErrorNone {
		fmt.Fprintf(&b, ", error %s", res.ErrorCode)
	}
	if res.Rule >= 0 {
		fmt.Fprintf(&b, ", rule[%d]", res.Rule)
		if res.RuleName != "" {
			fmt.Fprintf(&b, " %q", res.RuleName)
		}
	}
	b.WriteString(")")
	return b.String()
}

// describeKind says what a flag's kind means for its lifetime, e.g.
// "release (expected lifetime 40 days)".
func describeKind(k ruleset.Kind) string {
	if d, ok := k.Lifetime(); ok {
		return fmt.Sprintf("%s (expected lifetime %d days)", k, int(d.Hours()/24))
	}
	if k.Permanent() {
		return fmt.Sprintf("%s (permanent)", k)
	}
	return string(k)
}

// evalOutput is the one JSON object `flagpole eval --format json` prints.
// Rule is the matching rule's name, or "rule[i]" when it has none, or null.
type evalOutput struct {
	Flag      string         `json:"flag"`
	Value     any            `json:"value"`
	Variant   string         `json:"variant"`
	Reason    string         `json:"reason"`
	Rule      *string        `json:"rule"`
	ErrorCode string         `json:"errorCode,omitempty"`
	Kind      string         `json:"kind,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

func printEvalJSON(stdout, stderr io.Writer, flagKey string, kind ruleset.Kind, res ruleset.Result) int {
	out := evalOutput{Flag: flagKey, Value: res.Value, Variant: res.Variant,
		Reason: res.Reason.String(), ErrorCode: res.ErrorCode.String(), Kind: string(kind), Metadata: res.Metadata}
	if res.Rule >= 0 {
		name := res.RuleName
		if name == "" {
			name = fmt.Sprintf("rule[%d]", res.Rule)
		}
		out.Rule = &name
	}
	b, err := json.Marshal(out)
	if err != nil {
		fmt.Fprintf(stderr, "flagpole eval: encoding result: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, string(b))
	return exitOK
}

// abbreviate joins up to n items and says how many more there are.
func abbreviate(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
