package ruleset

import (
	"fmt"
	"regexp/syntax"
	"time"
)

// Limits that bound the cost of evaluating one flag, whatever a repository
// holds and whatever a caller sends. Compile rejects a document over any
// but MaxContextString with an error at the field; ParseContext rejects a context
// over MaxContextString. docs/repository.md lists them for flag authors.
const (
	// MaxRules is the most rules a flag may have in one environment.
	MaxRules = 1000
	// MaxConditions is the most conditions of one rule or audience.
	MaxConditions = 100
	// MaxRegexBytes is the longest pattern of a matches condition.
	MaxRegexBytes = 1024
	// MaxRegexInstructions is the largest compiled program of a matches
	// pattern. RE2 matches in time linear in the input times the program,
	// so with MaxContextString it bounds one match (about 2M steps).
	MaxRegexInstructions = 1000
	// MaxFlagCost bounds the work of one evaluation of a flag, in cost
	// units: a condition costs 1, a matches condition its program size,
	// and an audience the sum of its conditions, counted again at every
	// reference (nested audiences multiply). Rules and audiences that
	// repeat a costly pattern are what this stops: 10,000 regex rules held
	// a request for 35 s before these limits.
	MaxFlagCost = 20000
	// MaxRequires is the most prerequisites of a flag (or schedule step).
	MaxRequires = 16
	// MaxRequiresDepth is the longest chain of prerequisites: a flag that
	// requires a flag that requires a flag ... counts each flag after the first.
	MaxRequiresDepth = 8
	// MaxScheduleSteps is the most steps of a flag's schedule.
	MaxScheduleSteps = 32
	// MinRampEvery is the shortest period of a ramp: results flip at most
	// once a second, which bearers and SDKs re-evaluate at.
	MinRampEvery = time.Second
	// MinRampStep is the smallest step of a ramp, in percent (the
	// precision of rollouts): a ramp has at most 100,000 steps.
	MinRampStep = 0.001
	// MaxMetadataEntries is the most metadata pairs of a flag.
	MaxMetadataEntries = 32
	// MaxMetadataKeyBytes is the longest metadata key.
	MaxMetadataKeyBytes = 64
	// MaxMetadataStringBytes is the longest metadata string value.
	MaxMetadataStringBytes = 1024
)

// regexProgramSize returns the instruction count of pattern's program.
func regexProgramSize(pattern string) (int, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, err
	}
	return len(prog.Inst), nil
}

// checkRegex returns why pattern is over the regex limits, or "".
func checkRegex(pattern string) string {
	if len(pattern) > MaxRegexBytes {
		return fmt.Sprintf("regular expression of %d bytes is over the limit of %d bytes", len(pattern), MaxRegexBytes)
	}
	if n, err := regexProgramSize(pattern); err == nil && n > MaxRegexInstructions {
		return fmt.Sprintf("regular expression compiles to %d instructions, over the limit of %d (repetition counts such as {1000} multiply the program)", n, MaxRegexInstructions)
	}
	return ""
}

// costs computes evaluation costs, memoizing audiences; cycles (reported
// elsewhere) count once.
type costs struct {
	aud  map[*audience]int
	busy map[*audience]bool
}

func (k *costs) conds(cs []condition) int {
	n := 0
	for i := range cs {
		switch c := &cs[i]; {
		case c.audience != nil:
			n += k.audience(c.audience)
		case c.re != nil:
			n += max(1, c.reCost)
		default:
			n++
		}
		if n > MaxFlagCost {
			return n // enough to know; nested audiences may be huge
		}
	}
	return n
}

func (k *costs) audience(a *audience) int {
	if n, ok := k.aud[a]; ok {
		return n
	}
	if k.busy[a] {
		return 1
	}
	k.busy[a] = true
	n := 1 + k.conds(a.conds)
	k.aud[a] = n
	return n
}

// flagCost is the cost of evaluating every rule of f.
func (k *costs) flag(f *flag) int {
	n := 0
	for i := range f.rules {
		r := &f.rules[i]
		n++
		for _, a := range r.audiences {
			n += k.audience(a)
		}
		n += k.conds(r.conds)
		if n > MaxFlagCost {
			break
		}
	}
	return n
}
