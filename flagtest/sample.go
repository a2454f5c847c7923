package flagtest

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

// The fixed seed of every sample: the same case gives the same contexts on
// every run and machine.
const seed1, seed2 = 0x666c6167706f6c65, 0x73616d706c650001

// Values returns the n generated values of a sample's attribute, in order:
// 16 hex digits for a string attribute, integers below 10^12 for a number
// one. They are the same on every call.
func Values(n int, typ ruleset.AttrType) []any {
	rng := rand.New(rand.NewPCG(seed1, seed2))
	out := make([]any, n)
	for i := range out {
		if typ == ruleset.AttrNumber {
			out[i] = float64(rng.Int64N(1_000_000_000_000))
		} else {
			out[i] = fmt.Sprintf("%016x", rng.Uint64())
		}
	}
	return out
}

// sampleCase evaluates the generated contexts of c and compares the share
// of each expected variant. On failure the trace is that of the first
// context that explains the gap: one that got a variant served too often,
// or one that did not get a variant served too rarely.
func (r *runner) sampleCase(rs *ruleset.RuleSet, flag string, c loader.TestCase, o *Outcome) {
	s := c.Sample
	values := Values(s.Contexts, s.ByType)
	ctx := maps.Clone(c.Context)
	if ctx == nil {
		ctx = ruleset.Context{}
	}
	got := make([]string, len(values))
	counts := map[string]int{}
	for i, v := range values {
		ctx[s.By] = v
		got[i] = rs.Evaluate(flag, ctx).Variant
		counts[got[i]]++
	}
	pct := func(variant string) float64 { return 100 * float64(counts[variant]) / float64(len(values)) }
	var bad []string
	culprit := -1
	for _, sh := range c.Expect.Share {
		diff := pct(sh.Variant) - sh.Percent
		if math.Abs(diff) <= c.Expect.Tolerance+1e-9 {
			continue
		}
		bad = append(bad, fmt.Sprintf("%q %s%% (want %s%% ± %s)", sh.Variant, format(pct(sh.Variant)), format(sh.Percent), format(c.Expect.Tolerance)))
		if culprit < 0 {
			culprit = firstIndex(got, func(v string) bool { return (v == sh.Variant) == (diff > 0) })
		}
	}
	if len(bad) == 0 {
		return
	}
	o.Passed = false
	o.Problem = fmt.Sprintf("in a sample of %d contexts by %s: %s; the sample got %s",
		len(values), s.By, strings.Join(bad, ", "), shares(counts, len(values)))
	if culprit >= 0 {
		ctx[s.By] = values[culprit]
		_, tr := rs.Explain(flag, ctx)
		o.Trace = contextLine(ctx) + tr.String()
	}
}

func firstIndex(got []string, pred func(string) bool) int {
	for i, v := range got {
		if pred(v) {
			return i
		}
	}
	return -1
}

// shares formats every variant's share of a sample, largest first.
func shares(counts map[string]int, n int) string {
	names := make([]string, 0, len(counts))
	for v := range counts {
		names = append(names, v)
	}
	sort.Slice(names, func(i, j int) bool {
		if counts[names[i]] != counts[names[j]] {
			return counts[names[i]] > counts[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, v := range names {
		parts[i] = fmt.Sprintf("%q %s%%", v, format(100*float64(counts[v])/float64(n)))
	}
	return strings.Join(parts, ", ")
}

// format prints a percentage with up to 3 decimals.
func format(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}
