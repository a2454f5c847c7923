package ruleset

import "time"

// CompileFrom compiles doc exactly as CompileWith does, reusing the
// compiled flags of prev, a RuleSet compiled earlier from another version
// of the same environment or from another environment (nothing compiled
// depends on the environment's name: overrides, which do, are compiled
// again), where that is certain to give the same result:
// a flag is reused when doc holds the very same *Flag (pointer) as prev's
// Document, it has no prerequisites and no schedule (those depend on other
// flags and on the clock), and none of the audiences it refers to,
// directly or through other audiences, is added, removed or another
// *Audience. A reused flag is a copy of prev's (its rules, conditions and
// values shared), so prev is never modified and keeps serving while the
// new RuleSet is built. Likewise an audience that is the same *Audience
// and refers to no changed audience keeps its compiled form. Prerequisites,
// overrides and the clock's boundaries are compiled again every time.
//
// This relies on Documents being immutable (see Document): a caller that
// builds the next Document from the last one shares the *Flag of every
// unchanged flag, and a one-flag change compiles one flag. A nil prev
// compiles everything.
func CompileFrom(prev *RuleSet, doc *Document, opts Options) (*RuleSet, error) {
	if prev == nil || prev.doc == nil || doc == nil {
		return CompileWith(doc, opts)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	c := compiler{doc: doc, costs: costs{aud: map[*audience]int{}, busy: map[*audience]bool{}}}
	changed := changedAudiences(prev.doc.Audiences, doc.Audiences)
	audiences := c.audiencesFrom(prev.auds, changed)
	rs := &RuleSet{doc: doc, flags: make(map[string]*flag, len(doc.Flags)), now: now, auds: audiences}
	rs.keys = prev.keys
	if !sameKeys(doc.Flags, prev.doc.Flags) {
		rs.keys = sortedKeys(doc.Flags)
	}
	// The flags requires must walk: all but the shared ones, which have no
	// prerequisites, are folded and whose cost was checked with the same
	// rules and audiences. Sorted, as rs.keys is.
	walk := make([]string, 0, 64)
	for _, key := range rs.keys {
		src := doc.Flags[key]
		if old := prev.flags[key]; old != nil && reusable(src, prev.doc.Flags[key], changed) {
			if shareable(old) && doc.Overrides[key] == nil {
				// Nothing below writes to it: share it.
				rs.flags[key] = old
				continue
			}
			walk = append(walk, key)
			cp := *old
			// Set again below, on the copy, as for a new flag.
			cp.override, cp.requires, cp.hot, cp.requiresFail, cp.folded = nil, nil, nil, false, false
			cp.clock, cp.clockSet = nil, false
			cp.setStatic()
			rs.flags[key] = &cp
			continue
		}
		walk = append(walk, key)
		if f := c.flag(key, src, audiences); f != nil {
			rs.flags[key] = f
		}
	}
	for _, key := range sortedKeys(doc.Overrides) {
		c.override(key, doc.Overrides[key], rs.flags)
	}
	c.requires(walk, rs.flags) // after overrides, as CompileWith does
	rs.clock = c.boundaries(rs)
	if err := c.ps.err(); err != nil {
		return nil, err
	}
	return rs, nil
}

// shareable reports whether a reused flag can be shared as it is by the
// new RuleSet, which then never writes to it (prev keeps serving from it,
// possibly concurrently): it has no override (the new Document has none
// either: the caller checks), no prerequisites and no schedule (so
// requires leaves it alone), its prerequisites are folded (fold returns at
// once) and its clock is computed (boundaries returns it). Most flags of
// a large repository are such, and sharing them keeps a one-flag change
// from copying every compiled flag.
func shareable(f *flag) bool {
	return f.override == nil && len(f.requires) == 0 && len(f.steps) == 0 && f.folded && f.clockSet
}

// reusable reports whether the compiled form of was can serve src.
func reusable(src, was *Flag, changedAuds map[string]bool) bool {
	return src != nil && src == was && len(src.Requires) == 0 && len(src.Schedule) == 0 && !usesAny(src, changedAuds)
}

// changedAudiences returns the keys of the audiences that differ between
// old and new (added, removed or another pointer), and of every audience
// that refers to one of them, directly or not.
func changedAudiences(old, new map[string]*Audience) map[string]bool {
	changed := map[string]bool{}
	for k, a := range new {
		if old[k] != a {
			changed[k] = true
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			changed[k] = true
		}
	}
	if len(changed) == 0 {
		return changed
	}
	// Propagate to the audiences that refer to a changed one, until nothing
	// more changes (at most one pass per level of nesting).
	for grew := true; grew; {
		grew = false
		for k, a := range new {
			if changed[k] || a == nil {
				continue
			}
			for i := range a.Conditions {
				if ref := a.Conditions[i].Audience; ref != "" && changed[ref] {
					changed[k], grew = true, true
					break
				}
			}
		}
	}
	return changed
}

// usesAny reports whether a flag's rules refer to an audience in set.
func usesAny(f *Flag, set map[string]bool) bool {
	if len(set) == 0 {
		return false
	}
	for i := range f.Rules {
		r := &f.Rules[i]
		for _, a := range r.Audiences {
			if set[a] {
				return true
			}
		}
		for j := range r.Conditions {
			if a := r.Conditions[j].Audience; a != "" && set[a] {
				return true
			}
		}
	}
	return false
}

// sameKeys reports whether a and b have the same keys, so that a sorted key
// list of one (never modified once built) serves the other: a lookup per
// key is cheaper than sorting them again.
func sameKeys(a, b map[string]*Flag) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}
