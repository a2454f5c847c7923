package review

import (
	"fmt"
	"sort"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

// MaxExposureFlags is how many changed flags per environment get exposure
// figures, in key order; the others are listed without them (a note says
// so). It bounds the evaluations of one diff to MaxExposureFlags × samples ×
// 2 per environment.
const MaxExposureFlags = 200

// addExposure evaluates each changed flag on the sample contexts with the
// real rule sets of both sides.
func addExposure(rep *Report, base, head *loader.Repo, sample []ruleset.Context) {
	for i := range rep.Environments {
		er := &rep.Environments[i]
		var bs, hs *ruleset.RuleSet
		if base != nil {
			bs = base.RuleSets[er.Environment]
		}
		if head != nil {
			hs = head.RuleSets[er.Environment]
		}
		done := 0
		for j := range er.Flags {
			fc := &er.Flags[j]
			if done == MaxExposureFlags {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s: exposure computed for the first %d changed flags only (of %d).",
					er.Environment, MaxExposureFlags, len(er.Flags)))
				break
			}
			done++
			baseKey := fc.Key
			if fc.Change == Renamed {
				baseKey = fc.RenamedFrom
			}
			fc.Exposure = exposure(bs, baseKey, hs, fc.Key, sample)
		}
	}
}

// exposure evaluates one flag before (base rule set, key bk) and after
// (head, key hk) on every sample context. A nil rule set or a missing flag
// counts as the empty variant.
func exposure(bs *ruleset.RuleSet, bk string, hs *ruleset.RuleSet, hk string, sample []ruleset.Context) *Exposure {
	type pair struct{ from, to string }
	before, after := map[string]int{}, map[string]int{}
	switches := map[pair]int{}
	bHas := has(bs, bk)
	hHas := has(hs, hk)
	for _, ctx := range sample {
		var bv, hv string
		if bHas {
			bv = variantOf(bs.Evaluate(bk, ctx))
		}
		if hHas {
			hv = variantOf(hs.Evaluate(hk, ctx))
		}
		before[bv]++
		after[hv]++
		if bv != hv {
			switches[pair{bv, hv}]++
		}
	}
	e := &Exposure{Samples: len(sample)}
	seen := map[string]bool{}
	addVariant := func(v string) {
		if !seen[v] {
			seen[v] = true
			e.Variants = append(e.Variants, VariantShare{Variant: v, Before: before[v], After: after[v]})
		}
	}
	// Variants in the flag's declared order, then any others (errors, a
	// side without the flag).
	for _, rs := range []*ruleset.RuleSet{hs, bs} {
		key := hk
		if rs == bs {
			key = bk
		}
		if f, ok := flagOf(rs, key); ok {
			for _, v := range f.Variants {
				addVariant(v.Name)
			}
		}
	}
	for _, v := range sortedKeys(before) {
		addVariant(v)
	}
	for _, v := range sortedKeys(after) {
		addVariant(v)
	}
	for p, n := range switches {
		e.Switched += n
		e.Switches = append(e.Switches, Switch{From: p.from, To: p.to, Count: n})
	}
	sort.Slice(e.Switches, func(i, j int) bool {
		a, b := e.Switches[i], e.Switches[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.From+"\x00"+a.To < b.From+"\x00"+b.To
	})
	return e
}

func has(rs *ruleset.RuleSet, key string) bool {
	_, ok := flagOf(rs, key)
	return ok
}

func flagOf(rs *ruleset.RuleSet, key string) (*ruleset.Flag, bool) {
	if rs == nil {
		return nil, false
	}
	return rs.Flag(key)
}

// variantOf is the variant a result served; an error is shown by its code.
func variantOf(r ruleset.Result) string {
	if r.Reason == ruleset.ReasonError {
		return "error " + r.ErrorCode.String()
	}
	return r.Variant
}
