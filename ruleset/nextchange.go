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
	b := rs.clock
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

// LastChange returns the latest instant at or before at at which some
// result of rs could change with the clock alone (see NextChange), and
// false when there is none. Two times with the same LastChange give the
// same results; the bearer puts it in OFREP ETags.
func (rs *RuleSet) LastChange(at time.Time) (time.Time, bool) {
	if rs == nil || rs.clock == nil {
		return time.Time{}, false
	}
	b := rs.clock
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

// boundaries collects the clock boundaries of rs.
func (c *compiler) boundaries(rs *RuleSet) *boundaries {
	b := &boundaries{}
	seen := map[periodic]bool{}
	ramp := func(start time.Time, from, step float64, every Duration) {
		b.fixed = append(b.fixed, start)
		if every <= 0 || step <= 0 || from >= 100 {
			return
		}
		k := int64(math.Ceil((100 - from) / step))
		for k > 0 && from+step*float64(k-1) >= 100 {
			k--
		}
		for from+step*float64(k) < 100 {
			k++
		}
		p := periodic{start: start, every: time.Duration(every), steps: k}
		if !seen[p] {
			seen[p] = true
			b.periodic = append(b.periodic, p)
		}
	}
	conds := func(cs []condition) {
		for i := range cs {
			cond := &cs[i]
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
	state := func(f *flag) {
		for i := range f.rules {
			r := &f.rules[i]
			conds(r.conds)
			if r.ramp != nil {
				ramp(r.ramp.src.Start, r.ramp.src.From, r.ramp.src.Step, r.ramp.src.Every)
			}
		}
	}
	for _, key := range rs.keys {
		f := rs.flags[key]
		if f == nil {
			continue
		}
		state(f)
		for _, ph := range f.steps {
			b.fixed = append(b.fixed, ph.at)
			state(ph.f)
		}
		if o := f.override; o != nil {
			if o.expires != nil {
				b.fixed = append(b.fixed, *o.expires)
			}
			if rec := o.recovery; rec != nil {
				ramp(rec.StartAt, rec.Start, rec.Step, rec.Every)
			}
		}
	}
	for _, a := range c.compiledAudiences {
		conds(a.conds)
	}
	sort.Slice(b.fixed, func(i, j int) bool { return b.fixed[i].Before(b.fixed[j]) })
	out := b.fixed[:0]
	for i, t := range b.fixed {
		if i == 0 || !t.Equal(out[len(out)-1]) {
			out = append(out, t)
		}
	}
	b.fixed = out
	return b
}
