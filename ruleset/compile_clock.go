package ruleset

import (
	"math"
	"strings"
	"time"
)

// This file compiles what a flag adds to its rules: prerequisites,
// schedules, ramps and metadata.

// ramp compiles a rule's ramp: both variants known and different, from in
// 0..100, step in (0, 100], every at least MinRampEvery, start set.
func (c *compiler) ramp(path *fieldPath, src *Ramp, f *flag) *ramp {
	r := &ramp{src: src}
	r.serve = c.variantIndex(ptr(path.field("serve")), src.Serve, f)
	r.otherwise = c.variantIndex(ptr(path.field("otherwise")), src.Otherwise, f)
	if r.serve >= 0 && r.serve == r.otherwise {
		c.ps.add(ptr(path.field("otherwise")), "otherwise is %q, the variant the ramp serves: use serve for one variant", src.Otherwise)
	}
	if math.IsNaN(src.From) || src.From < 0 || src.From > 100 {
		c.ps.add(ptr(path.field("from")), "%g is outside 0..100 (percent)", src.From)
	}
	if math.IsNaN(src.Step) || src.Step < MinRampStep || src.Step > 100 {
		c.ps.add(ptr(path.field("step")), "%g is outside %g..100 (percent; a ramp that does not grow is a rollout)", src.Step, MinRampStep)
	}
	if time.Duration(src.Every) < MinRampEvery {
		c.ps.add(ptr(path.field("every")), "must be a duration of at least %s, such as 1h, not %s", MinRampEvery, time.Duration(src.Every))
	}
	if src.Start.IsZero() {
		c.ps.add(ptr(path.field("start")), "start is required: the RFC 3339 time the ramp begins at")
	} else if src.Start.Before(minClockTime) || src.Start.After(maxClockTime) {
		c.ps.add(ptr(path.field("start")), "%s is outside the years 1970 to 2200", src.Start.UTC().Format(time.RFC3339))
	}
	if r.serve < 0 || r.otherwise < 0 {
		return nil
	}
	r.start, r.every = src.Start.UnixNano(), max(int64(src.Every), 1)
	r.inv = 1 / float64(r.every)
	r.from, r.step = src.From, src.Step
	r.tabulate()
	return r
}

// tabulate fills r.bounds and r.limits when the ramp reaches 100% within
// maxRampTable steps (and its times stay within int64 nanoseconds).
func (r *ramp) tabulate() {
	if r.step <= 0 || r.every > math.MaxInt64/maxRampTable || r.start > math.MaxInt64-maxRampTable*r.every {
		return
	}
	for k := int64(0); k <= maxRampTable; k++ {
		at := r.start + k*r.every
		r.bounds = append(r.bounds, at)
		r.limits = append(r.limits, r.compute(at))
		if r.limits[k] >= 100000 {
			return
		}
	}
	r.bounds, r.limits = nil, nil // longer than the table
}

// metadata checks a flag's metadata against its bounds and value types.
func (c *compiler) metadata(path *fieldPath, md map[string]any) {
	if len(md) > MaxMetadataEntries {
		c.ps.add(path, "%d entries, over the limit of %d", len(md), MaxMetadataEntries)
		return
	}
	for _, k := range sortedKeys(md) {
		kp := path.field(k)
		switch v := md[k].(type) {
		case string:
			if len(v) > MaxMetadataStringBytes {
				c.ps.add(&kp, "string of %d bytes, over the limit of %d", len(v), MaxMetadataStringBytes)
			}
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				c.ps.add(&kp, "must be a finite number")
			}
		case bool:
		default:
			c.ps.add(&kp, "must be a string, number or boolean, not %T", v)
		}
		if k == "" || len(k) > MaxMetadataKeyBytes {
			c.ps.add(&kp, "key must have 1 to %d bytes", MaxMetadataKeyBytes)
		}
		if k == "version" || k == "rule" {
			c.ps.add(&kp, "metadata key %q is reserved: OpenFeature clients get the rule set's version and the matching rule's name under version and rule", k)
		}
	}
}

// requiresShape checks what can be checked of prerequisites before every
// flag exists: their count and that each lists a flag and variants.
func (c *compiler) requiresShape(path *fieldPath, reqs []Prerequisite) {
	if len(reqs) > MaxRequires {
		c.ps.add(path, "%d prerequisites, over the limit of %d", len(reqs), MaxRequires)
	}
	for i, r := range reqs {
		rp := path.index(i)
		if r.Flag == "" {
			c.ps.add(ptr(rp.field("flag")), "flag is required")
		}
		if len(r.Variants) == 0 {
			c.ps.add(ptr(rp.field("variants")), "list at least one variant of %s that lets this flag be evaluated", r.Flag)
		}
	}
}

// schedule compiles the states of src's schedule onto f, each step merged
// over the previous state. Problems of a state are reported at the step
// that set the field at fault; the fields a step inherits were checked
// where they were set. f is nil when the flag's own fields are broken: the
// steps are still checked. It reports false when a step is broken.
func (c *compiler) schedule(key string, src *Flag, f *flag, auds map[string]*audience) bool {
	if len(src.Schedule) == 0 {
		return true
	}
	flags := root("flags")
	path := flags.field(key)
	sp := path.field("schedule")
	if len(src.Schedule) > MaxScheduleSteps {
		c.ps.add(&sp, "%d steps, over the limit of %d", len(src.Schedule), MaxScheduleSteps)
		return false
	}
	ok := true
	cur := *src
	cur.Schedule = nil
	for i := range src.Schedule {
		st := &src.Schedule[i]
		stp := sp.index(i)
		if st.At.IsZero() {
			c.ps.add(ptr(stp.field("at")), "at is required: the RFC 3339 time the step takes effect")
			ok = false
		} else if st.At.Before(minClockTime) || st.At.After(maxClockTime) {
			c.ps.add(ptr(stp.field("at")), "%s is outside the years 1970 to 2200", st.At.UTC().Format(time.RFC3339))
			ok = false
		} else if i > 0 && !st.At.After(src.Schedule[i-1].At) {
			c.ps.add(ptr(stp.field("at")), "steps must be in time order: %s is not after step %d (%s)",
				st.At.UTC().Format(time.RFC3339), i-1, src.Schedule[i-1].At.UTC().Format(time.RFC3339))
			ok = false
		}
		next := cur
		set := map[string]bool{}
		if st.Enabled != nil {
			next.Enabled, set["enabled"] = *st.Enabled, true
		}
		if st.Off != "" {
			next.Off, set["off"] = st.Off, true
		}
		if st.Default != "" {
			next.Default, set["default"] = st.Default, true
		}
		if st.Rules != nil {
			next.Rules, set["rules"] = *st.Rules, true
		}
		if st.Requires != nil {
			next.Requires, set["requires"] = *st.Requires, true
		}
		if len(set) == 0 {
			c.ps.add(&stp, "the step sets nothing: give at least one of enabled, off, default, rules or requires")
			ok = false
		}
		cur = next
		state := cur
		sub := compiler{doc: c.doc, costs: c.costs}
		pf := sub.flagBody(key, &state, auds, true)
		for _, fe := range sub.ps.list {
			// fe.Path is {"flags", key, field, ...}.
			if len(fe.Path) < 3 {
				continue
			}
			if field, _ := fe.Path[2].(string); set[field] {
				at := append([]any{"flags", key, "schedule", i}, fe.Path[2:]...)
				c.ps.list = append(c.ps.list, FieldError{Path: at, Message: fe.Message})
			}
		}
		if pf == nil {
			ok = false
			continue
		}
		pf.stepSetsRequires, pf.stepIndex = st.Requires != nil, i
		if f != nil {
			f.steps = append(f.steps, phase{at: st.At, atNs: st.At.UnixNano(), f: pf})
		}
	}
	return ok
}

// requires resolves every prerequisite to its compiled flag, checks the
// flags and variants named, and reports cycles, chains longer than
// MaxRequiresDepth and flags whose prerequisites cost too much to evaluate.
func (c *compiler) requires(keys []string, flags *flagTable) {
	for _, key := range keys {
		f := flags.get(key)
		if f == nil {
			// Broken elsewhere: still report what its requires name, so
			// that every problem shows at once.
			if src := c.doc.Flags.Get(key); src != nil {
				c.resolve(key, &flag{}, src.Requires, []any{"flags", key, "requires"}, flags)
				for i, st := range src.Schedule {
					if st.Requires != nil {
						c.resolve(key, &flag{}, *st.Requires, []any{"flags", key, "schedule", i, "requires"}, flags)
					}
				}
			}
			continue
		}
		if len(f.src.Requires) == 0 && len(f.steps) == 0 {
			continue // most flags: nothing to resolve (f.requires is empty)
		}
		c.resolve(key, f, f.src.Requires, []any{"flags", key, "requires"}, flags)
		for _, ph := range f.steps {
			path := []any{"flags", key, "schedule", ph.f.stepIndex, "requires"}
			if !ph.f.stepSetsRequires {
				path = nil // inherited: reported where it was set
			}
			c.resolve(key, ph.f, ph.f.src.Requires, path, flags)
		}
	}
	g := requiresGraph{c: c, flags: flags, state: map[*flag]int{}, depth: map[*flag]int{}, cost: map[*flag]int{}}
	for _, key := range keys {
		if f := flags.get(key); f != nil {
			g.visit(f)
		}
	}
	folded := len(g.cyclic) == 0
	for _, key := range keys {
		f := flags.get(key)
		if f == nil || g.cyclic[key] {
			continue
		}
		if folded {
			fold(f)
		}
		if d := g.depth[f]; d > MaxRequiresDepth {
			c.ps.addPath([]any{"flags", key, "requires"}, "a chain of %d prerequisites, over the limit of %d", d, MaxRequiresDepth)
		} else if n := g.costOf(f); n > MaxFlagCost {
			c.ps.addPath([]any{"flags", key, "requires"}, "evaluating the flag with its prerequisites costs more than %d units, over the limit of %d", n, MaxFlagCost)
		}
	}
}

// fold folds the prerequisites of f (and its schedule's states) that are
// static flags into a constant: met ones are left out of hot, and one never
// met sets requiresFail. A flag whose requires all fold and that has no
// rules becomes static itself, so chains of such flags cost nothing. The
// graph has no cycles (fold is not called otherwise).
func fold(f *flag) {
	if f.folded {
		return
	}
	f.folded = true
	states := []*flag{f}
	for _, ph := range f.steps {
		states = append(states, ph.f)
	}
	for _, s := range states {
		s.folded = true
		s.hot = s.hot[:0]
		for _, p := range s.requires {
			fold(p.f)
			switch {
			case !p.f.static:
				s.hot = append(s.hot, p)
			case !p.allows(p.f.staticResult.Variant):
				s.requiresFail = true
			}
		}
		if s != f {
			s.setStatic() // a schedule state: its own constant, if any
		}
	}
	f.setStatic()
}

// resolve compiles reqs onto f; path (nil: do not report) locates them.
func (c *compiler) resolve(key string, f *flag, reqs []Prerequisite, path []any, flags *flagTable) {
	report := func(i int, field, format string, args ...any) {
		if path != nil {
			c.ps.addPath(append(append(path[:len(path):len(path)], i), field), format, args...)
		}
	}
	f.requires = make([]prereq, 0, len(reqs))
	for i, r := range reqs {
		src := c.doc.Flags.Get(r.Flag)
		if r.Flag == "" {
			continue // reported by requiresShape
		}
		if src == nil {
			report(i, "flag", "unknown flag %q", r.Flag)
			continue
		}
		if r.Flag == key {
			report(i, "flag", "a flag cannot require itself")
			continue
		}
		names := variantNames(src)
		for j, v := range r.Variants {
			if !contains(names, v) {
				if path != nil {
					c.ps.addPath(append(append(path[:len(path):len(path)], i), "variants", j),
						"unknown variant %q of flag %s (variants: %s)", v, r.Flag, strings.Join(names, ", "))
				}
			}
		}
		if p := flags.get(r.Flag); p != nil {
			f.requires = append(f.requires, prereq{f: p, variants: sameStrings(r.Variants, p.names)})
		}
	}
}

// sameStrings returns list with each string that is also in names
// replaced by names' own copy: results carry names' strings, so that
// prereq.allows then compares equal pointers instead of bytes.
func sameStrings(list, names []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s
		for _, n := range names {
			if n == s {
				out[i] = n
				break
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// requiresGraph walks prerequisites: every state of a flag (its own fields
// and each schedule step) contributes edges, so a cycle through any of them
// is reported even if the steps that form it are never in force together.
type requiresGraph struct {
	c      *compiler
	flags  *flagTable
	state  map[*flag]int // 0 unvisited, 1 on the stack, 2 done
	depth  map[*flag]int // longest chain below the flag
	cost   map[*flag]int
	cyclic map[string]bool
	stack  []*flag
}

// edges returns the prerequisites of every state of f.
func edges(f *flag) []*prereq {
	var out []*prereq
	for i := range f.requires {
		out = append(out, &f.requires[i])
	}
	for _, ph := range f.steps {
		for i := range ph.f.requires {
			out = append(out, &ph.f.requires[i])
		}
	}
	return out
}

func (g *requiresGraph) visit(f *flag) {
	es := edges(f)
	if len(es) == 0 {
		// A leaf: depth 0 (the zero value), and it can close no cycle.
		// Most flags are leaves; leaving them out of the maps keeps the
		// walk proportional to the flags with prerequisites.
		return
	}
	if g.state[f] != 0 {
		return
	}
	g.state[f] = 1
	g.stack = append(g.stack, f)
	d := 0
	for _, p := range es {
		switch g.state[p.f] {
		case 0:
			g.visit(p.f)
		case 1:
			g.reportCycle(p.f)
			continue
		}
		d = max(d, 1+g.depth[p.f])
	}
	g.depth[f] = d
	g.stack = g.stack[:len(g.stack)-1]
	g.state[f] = 2
}

// reportCycle reports the cycle from start to the top of the stack once,
// at the prerequisite of its alphabetically first flag.
func (g *requiresGraph) reportCycle(start *flag) {
	i := len(g.stack) - 1
	for g.stack[i] != start {
		i--
	}
	cyc := g.stack[i:]
	first := 0
	for j, f := range cyc {
		if f.key < cyc[first].key {
			first = j
		}
	}
	names := make([]string, 0, len(cyc)+1)
	for j := range cyc {
		names = append(names, cyc[(first+j)%len(cyc)].key)
	}
	names = append(names, names[0])
	if g.cyclic == nil {
		g.cyclic = map[string]bool{}
	}
	if g.cyclic[names[0]] {
		return
	}
	for _, n := range names {
		g.cyclic[n] = true
	}
	from, to := cyc[first], cyc[(first+1)%len(cyc)]
	path := []any{"flags", from.key, "requires"}
	for i, r := range from.src.Requires {
		if r.Flag == to.key {
			path = append(path, i, "flag")
			break
		}
	}
	g.c.ps.addPath(path, "prerequisite cycle: %s", strings.Join(names, " → "))
}

// costOf is the cost of evaluating f with its prerequisites: its costliest
// state, plus 1 and the cost of each prerequisite at every reference.
func (g *requiresGraph) costOf(f *flag) int {
	if len(f.steps) == 0 && len(f.requires) == 0 {
		return g.c.costs.flag(f) // a leaf: nothing to memoize
	}
	if n, ok := g.cost[f]; ok {
		return n
	}
	g.cost[f] = MaxFlagCost + 1 // a cycle (reported) or a guard while busy
	n := g.c.costs.flag(f)
	for _, ph := range f.steps {
		n = max(n, g.c.costs.flag(ph.f))
	}
	for _, p := range edges(f) {
		n += 1 + g.costOf(p.f)
		if n > MaxFlagCost {
			break
		}
	}
	g.cost[f] = n
	return n
}

// Ramps and schedule steps are computed in Unix nanoseconds, which hold
// the years 1678 to 2262; Compile keeps their times within these bounds.
var (
	minClockTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxClockTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// clockCap is the percentage a ramp (or recovery ramp) starting at start
// lets in at now: 0 before start, then min(100, from +
// step*floor((now-start)/every)).
func clockCap(start time.Time, from, step float64, every Duration, now time.Time) float64 {
	if now.Before(start) {
		return 0
	}
	steps := 0.0
	if every > 0 {
		steps = float64(int64(now.Sub(start)) / int64(every))
	}
	return min(100, from+step*steps)
}
