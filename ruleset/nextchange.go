package ruleset

import (
	"math"
	"sort"
	"time"
)

// boundaries are the instants at which a RuleSet's results can change by
// the clock alone, precomputed by Compile: single instants, sorted, and
// the periodic steps of ramps and recovery ramps, computed on demand.
type boundaries struct {
	fixed    []time.Time // sorted, unique
	periodic []periodic
}

// periodic is a ramp's steps: start + j*every for j = 1..steps, the last
// one reaching 100 percent.
type periodic struct {
	start time.Time
	every time.Duration
	steps int64
}

// NextChange returns the earliest instant strictly after after at which
// some result of rs can change with the clock alone, with no new rule set:
// a schedule step, a step of a ramp until it reaches 100%, the start and
// steps of an override's recovery ramp and its expiry, and the datetime
// operands of conditions on "now" (an instant for lt and gte, the
// nanosecond after it for lte and gt, both for the other operators). It
// reports false when there is none. Results are the same for every time in
// [after, next) when evaluation reads the clock (a context's own "now"
// attribute is not the clock). Boundaries are precomputed by Compile: a
// call costs a binary search plus one division per distinct ramp.
func (rs *RuleSet) NextChange(after time.Time) (time.Time, bool) {
	if rs == nil || rs.clock == nil {
		return time.Time{}, false
	}
	return rs.clock.next(after)
}

// LastChange returns the latest instant at or before at at which some
// result of rs could change with the clock alone (see NextChange), and
// false when there is none. Two times with the same LastChange give the
// same results.
func (rs *RuleSet) LastChange(at time.Time) (time.Time, bool) {
	if rs == nil || rs.clock == nil {
		return time.Time{}, false
	}
	return rs.clock.last(at)
}

// ChangedBetween returns, sorted, the keys of the flags whose results can
// change with the clock alone at some instant in (after, upTo]: their own
// boundaries (see NextChange) and those of their prerequisites and of the
// audiences they use. SDKs name them when they tell listeners that a
// boundary passed.
func (rs *RuleSet) ChangedBetween(after, upTo time.Time) []string {
	if rs == nil {
		return nil
	}
	var keys []string
	for _, k := range rs.keys {
		if f := rs.flags.get(k); f != nil && f.clock != nil {
			if t, ok := f.clock.next(after); ok && !t.After(upTo) {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// next returns the first boundary of b after after.
func (b *boundaries) next(after time.Time) (time.Time, bool) {
	var next time.Time
	found := false
	if i := sort.Search(len(b.fixed), func(i int) bool { return b.fixed[i].After(after) }); i < len(b.fixed) {
		next, found = b.fixed[i], true
	}
	for i := range b.periodic {
		if t, ok := b.periodic[i].next(after); ok && (!found || t.Before(next)) {
			next, found = t, true
		}
	}
	return next, found
}

// last returns the last boundary of b at or before at.
func (b *boundaries) last(at time.Time) (time.Time, bool) {
	var last time.Time
	found := false
	if i := sort.Search(len(b.fixed), func(i int) bool { return b.fixed[i].After(at) }); i > 0 {
		last, found = b.fixed[i-1], true
	}
	for i := range b.periodic {
		if t, ok := b.periodic[i].last(at); ok && (!found || t.After(last)) {
			last, found = t, true
		}
	}
	return last, found
}

// next returns the first step of p after after.
func (p *periodic) next(after time.Time) (time.Time, bool) {
	if after.Before(p.start) {
		return p.start, true
	}
	j := int64(after.Sub(p.start)/p.every) + 1
	if j > p.steps || j > math.MaxInt64/int64(p.every) {
		return time.Time{}, false
	}
	return p.start.Add(time.Duration(j) * p.every), true
}

// last returns the last step of p at or before at (start counts).
func (p *periodic) last(at time.Time) (time.Time, bool) {
	if at.Before(p.start) {
		return time.Time{}, false
	}
	j := min(int64(at.Sub(p.start)/p.every), p.steps)
	return p.start.Add(time.Duration(j) * p.every), true
}

// addRamp adds a ramp's (or recovery ramp's) start and steps up to 100%.
func (b *boundaries) addRamp(start time.Time, from, step float64, every Duration) {
	b.fixed = append(b.fixed, start)
	if every <= 0 || step <= 0 || from >= 100 {
		return
	}
	// Compile bounds step below (MinRampStep) for ramps; recovery steps
	// are bounded here the same way.
	k := int64(math.Ceil((100 - from) / max(step, MinRampStep)))
	for k > 0 && from+step*float64(k-1) >= 100 {
		k--
	}
	for n := 0; from+step*float64(k) < 100 && n < 2; n++ {
		k++
	}
	b.periodic = append(b.periodic, periodic{start: start, every: time.Duration(every), steps: k})
}

// addConds adds the operands of conditions on "now" in cs and in the
// audiences they reference (each audience once: seen).
func (b *boundaries) addConds(cs []condition, seen map[*audience]bool) {
	for i := range cs {
		cond := &cs[i]
		if a := cond.audience; a != nil {
			if !seen[a] {
				seen[a] = true
				b.addConds(a.conds, seen)
			}
			continue
		}
		if !cond.isNow || cond.kind != kindDatetime {
			continue
		}
		for _, t := range cond.times {
			switch cond.op {
			case opLt, opGte:
				b.fixed = append(b.fixed, t)
			case opLte, opGt:
				b.fixed = append(b.fixed, t.Add(time.Nanosecond))
			default:
				b.fixed = append(b.fixed, t, t.Add(time.Nanosecond))
			}
		}
	}
}

// addState adds the boundaries of one state of a flag: its rules' ramps
// and conditions on "now", directly or through audiences.
func (b *boundaries) addState(f *flag, seen map[*audience]bool) {
	for i := range f.rules {
		r := &f.rules[i]
		b.addConds(r.conds, seen)
		for _, a := range r.audiences {
			if !seen[a] {
				seen[a] = true
				b.addConds(a.conds, seen)
			}
		}
		if r.ramp != nil {
			b.addRamp(r.ramp.src.Start, r.ramp.src.From, r.ramp.src.Step, r.ramp.src.Every)
		}
	}
}

// merge adds o's boundaries to b.
func (b *boundaries) merge(o *boundaries) {
	b.fixed = append(b.fixed, o.fixed...)
	b.periodic = append(b.periodic, o.periodic...)
}

// finish sorts b and drops duplicates; nil when b is empty.
func (b *boundaries) finish() *boundaries {
	if len(b.fixed) == 0 && len(b.periodic) == 0 {
		return nil
	}
	sort.Slice(b.fixed, func(i, j int) bool { return b.fixed[i].Before(b.fixed[j]) })
	out := b.fixed[:0]
	for i, t := range b.fixed {
		if i == 0 || !t.Equal(out[len(out)-1]) {
			out = append(out, t)
		}
	}
	b.fixed = out
	seen := map[periodic]bool{}
	ps := b.periodic[:0]
	for _, p := range b.periodic {
		if !seen[p] {
			seen[p] = true
			ps = append(ps, p)
		}
	}
	b.periodic = ps
	return b
}

// boundaries computes the clock boundaries of the flags of rs keyed in keys
// (their own, their prerequisites' and their audiences'), and of rs as a
// whole, and records in rs.clocked the keys of the flags that have any.
// keys is sorted, and holds every flag that has boundaries: all of rs's
// flags, or for CompileChanged those it compiled and those that had
// boundaries in the rule set it compiles from. Walking them in key order
// gives rs.clock the same order either way.
func (c *compiler) boundaries(rs *RuleSet, keys []string) *boundaries {
	seen := map[*audience]bool{} // per flag, cleared before each
	var flagBounds func(f *flag) *boundaries
	flagBounds = func(f *flag) *boundaries {
		if f.clockSet {
			// Done in this walk, or a flag CompileFrom shares with the
			// rule set it reuses, whose clock cannot differ.
			return f.clock
		}
		f.clockSet = true // before the walk below: a cycle (reported) ends here
		b := &boundaries{}
		clear(seen) // the walk of f's prerequisites below comes after f's states
		b.addState(f, seen)
		for _, ph := range f.steps {
			b.fixed = append(b.fixed, ph.at)
			b.addState(ph.f, seen)
		}
		if o := f.override; o != nil {
			if o.expires != nil {
				b.fixed = append(b.fixed, *o.expires)
			}
			if rec := o.recovery; rec != nil {
				b.addRamp(rec.StartAt, rec.Start, rec.Step, rec.Every)
			}
		}
		for _, p := range edges(f) {
			if pb := flagBounds(p.f); pb != nil {
				b.merge(pb)
			}
		}
		f.clock = b.finish()
		return f.clock
	}
	all := &boundaries{}
	rs.clocked = nil
	for _, key := range keys {
		if f := rs.flags.get(key); f != nil {
			if fb := flagBounds(f); fb != nil {
				all.merge(fb)
				rs.clocked = append(rs.clocked, key)
			}
		}
	}
	if out := all.finish(); out != nil {
		return out
	}
	return &boundaries{}
}
