package ruleset

import (
	"slices"
)

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
	now, c := opts.clock(), newCompiler(doc)
	changed := changedAudiences(prev.doc.Audiences, doc.Audiences)
	audiences := c.audiencesFrom(prev.auds, changed)
	rs := &RuleSet{doc: doc, flags: newFlagTable(doc.Flags.Len()), now: now, auds: audiences}
	rs.keys = prev.keys
	if !sameKeys(doc.Flags, prev.doc.Flags) {
		rs.keys = doc.Flags.Keys()
	}
	// The flags requires must walk: all but the shared ones, which have no
	// prerequisites, are folded and whose cost was checked with the same
	// rules and audiences. Sorted, as rs.keys is.
	walk := make([]string, 0, 64)
	for _, key := range rs.keys {
		if c.place(key, prev, changed, rs) {
			walk = append(walk, key)
		}
	}
	return c.finish(rs, walk, rs.keys)
}

// CompileChanged compiles doc exactly as CompileFrom does, doing work in
// proportion to the flags named in changed (plus the few flags no rule set
// shares, see RuleSet.unshared) rather than to every flag of doc. It
// applies when doc's flags are base's with the flags keyed in changed
// replaced, added or removed (as base.Apply gives, changed being the
// patch's flag keys), and base's flags are the very map prev was compiled
// from; changed may name flags that did not change, in any order. When
// base's flags are not prev's, or an audience changed (which can change
// any flag), it is CompileFrom. Overrides are compiled again every time,
// as CompileFrom does.
//
// A caller that names too few keys gets a rule set that serves the old
// compiled form of a flag it did not name: changed must come from the
// change itself (the store's patch), never from a guess.
func CompileChanged(prev *RuleSet, base, doc *Document, changed []string, opts Options) (*RuleSet, error) {
	if prev == nil || prev.doc == nil || base == nil || doc == nil || !base.Flags.Same(prev.doc.Flags) ||
		!sameMap(doc.Audiences, prev.doc.Audiences) && len(changedAudiences(prev.doc.Audiences, doc.Audiences)) > 0 {
		return CompileFrom(prev, doc, opts)
	}
	now, c := opts.clock(), newCompiler(doc)
	rs := &RuleSet{doc: doc, flags: prev.flags.share(), now: now, auds: prev.auds, keys: prev.keys}
	changed = slices.Compact(slices.Sorted(slices.Values(changed)))
	var added, removed []string
	for _, key := range changed {
		is, was := doc.Flags.Has(key), prev.doc.Flags.Has(key)
		switch {
		case is && !was:
			added = append(added, key)
		case !is && was:
			removed = append(removed, key)
		}
	}
	if len(added) > 0 || len(removed) > 0 {
		rs.keys = mergeKeys(prev.keys, added, removed)
	}
	// What can differ from prev: the flags named, those prev could not
	// share, and those overridden now. Every other flag is prev's, shared.
	walk := mergeKeys(changed, prev.unshared, nil)
	var overridden []string
	for key := range doc.Overrides {
		if doc.Flags.Has(key) {
			overridden = append(overridden, key)
		}
	}
	slices.Sort(overridden)
	walk = mergeKeys(walk, overridden, nil)
	walk = slices.DeleteFunc(walk, func(key string) bool {
		ok := doc.Flags.Has(key)
		if !ok {
			rs.flags.del(key)
		}
		return !ok
	})
	for _, key := range walk {
		rs.flags.del(key) // placed again, or left out when it does not compile
		c.place(key, prev, nil, rs)
	}
	return c.finish(rs, walk, mergeKeys(prev.clocked, walk, nil))
}

// place sets key's compiled flag in rs for doc's flag key: prev's compiled flag when
// it can serve (see CompileFrom), shared when nothing below writes to it,
// else a copy of it or a new compilation. It reports whether requires must
// walk the flag.
func (c *compiler) place(key string, prev *RuleSet, changedAuds map[string]bool, rs *RuleSet) bool {
	src := c.doc.Flags.Get(key)
	if old := prev.flags.get(key); old != nil && reusable(src, prev.doc.Flags.Get(key), changedAuds) {
		if shareable(old) && c.doc.Overrides[key] == nil {
			// Nothing below writes to it: share it.
			rs.flags.set(key, old)
			return false
		}
		cp := *old
		// Set again below, on the copy, as for a new flag.
		cp.override, cp.requires, cp.hot, cp.requiresFail, cp.folded = nil, nil, nil, false, false
		cp.clock, cp.clockSet = nil, false
		cp.setStatic()
		rs.flags.set(key, &cp)
		return true
	}
	if f := c.flag(key, src, rs.auds); f != nil {
		rs.flags.set(key, f)
	}
	return true
}

// finish compiles the overrides and, for the flags keyed in walk (sorted),
// the prerequisites, and the clock's boundaries over the flags keyed in
// clocked (sorted; see boundaries), as CompileWith does after the flags.
func (c *compiler) finish(rs *RuleSet, walk, clocked []string) (*RuleSet, error) {
	for _, key := range sortedKeys(c.doc.Overrides) {
		c.override(key, c.doc.Overrides[key], rs.flags)
	}
	c.requires(walk, rs.flags) // after overrides, as CompileWith does
	rs.clock = c.boundaries(rs, clocked)
	rs.unshared = unshared(walk, rs.flags)
	if err := c.ps.err(); err != nil {
		return nil, err
	}
	return rs, nil
}

// unshared returns the keys in keys of the flags that are not shareable.
func unshared(keys []string, flags *flagTable) []string {
	var out []string
	for _, key := range keys {
		if f := flags.get(key); f == nil || !shareable(f) {
			out = append(out, key)
		}
	}
	return out
}

// mergeKeys returns the sorted union of the sorted lists a and b without
// the keys in the sorted list drop. It returns a itself when b and drop
// are empty (lists are never modified once built).
func mergeKeys(a, b, drop []string) []string {
	if len(b) == 0 && len(drop) == 0 {
		return a
	}
	out := make([]string, 0, len(a)+len(b))
	i, j, d := 0, 0, 0
	for i < len(a) || j < len(b) {
		var k string
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			k, i = a[i], i+1
		case i == len(a) || b[j] < a[i]:
			k, j = b[j], j+1
		default: // equal
			k, i, j = a[i], i+1, j+1
		}
		for d < len(drop) && drop[d] < k {
			d++
		}
		if d < len(drop) && drop[d] == k {
			continue
		}
		out = append(out, k)
	}
	return out
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
func sameKeys(a, b FlagMap) bool {
	if a.Len() != b.Len() {
		return false
	}
	for k := range a.All() {
		if !b.Has(k) {
			return false
		}
	}
	return true
}
