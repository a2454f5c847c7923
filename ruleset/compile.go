package ruleset

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// maxScan is the length up to which users and in/not_in lists are scanned;
// longer lists are looked up in a map.
const maxScan = 16

// Compile checks doc as if it came from the network and compiles it into a
// RuleSet that uses time.Now as its clock. See CompileWith.
func Compile(doc *Document) (*RuleSet, error) {
	return CompileWith(doc, Options{})
}

// CompileWith checks doc and compiles it into a RuleSet. It reports every
// problem at once as a *CompileError, sorted by path: unknown variants in
// off, default, serve, rollouts and overrides; rollout weights that do not
// sum to 100000; variant values not of the flag's type; unknown audiences
// and audience cycles; operators not valid for the attribute's type; bad
// regular expressions; operands that do not parse or are too many or too
// few; recovery ramps whose period is not positive or whose percentages are outside 0..100.
//
// A boolean flag without variants gets on: true and off: false, and an
// empty flag type means boolean. doc must not be modified afterwards: the
// RuleSet keeps it (see Document and Flag).
func CompileWith(doc *Document, opts Options) (*RuleSet, error) {
	if doc == nil {
		return nil, fmt.Errorf("compiling rule set: no document")
	}
	now, c := opts.clock(), newCompiler(doc)
	audiences := c.audiences()
	rs := &RuleSet{doc: doc, flags: newFlagTable(doc.Flags.Len()), now: now, auds: audiences}
	rs.keys = doc.Flags.Keys()
	for _, key := range rs.keys {
		if f := c.flag(key, doc.Flags.Get(key), audiences); f != nil {
			rs.flags.set(key, f)
		}
	}
	for _, key := range sortedKeys(doc.Overrides) {
		c.override(key, doc.Overrides[key], rs.flags)
	}
	c.requires(rs.keys, rs.flags) // after overrides: folding needs them
	rs.clock = c.boundaries(rs, rs.keys)
	rs.unshared = unshared(rs.keys, rs.flags)
	if err := c.ps.err(); err != nil {
		return nil, err
	}
	return rs, nil
}

// clock returns the clock the options give, time.Now when none.
func (o Options) clock() func() time.Time {
	if o.Now == nil {
		return time.Now
	}
	return o.Now
}

// newCompiler returns a compiler for one compilation of doc.
func newCompiler(doc *Document) compiler {
	return compiler{doc: doc, costs: costs{aud: map[*audience]int{}, busy: map[*audience]bool{}}}
}

// compiler holds the state of one compilation.
type compiler struct {
	doc   *Document
	ps    problems
	costs costs
}

// flag compiles one flag with its schedule; nil if it is too broken to
// evaluate (the problems are recorded). Prerequisites are resolved later,
// by requires, once every flag exists.
func (c *compiler) flag(key string, src *Flag, auds map[string]*audience) *flag {
	if src == nil {
		path := root("flags")
		c.ps.add(ptr(path.field(key)), "flag is null")
		return nil
	}
	f := c.flagBody(key, src, auds, len(src.Schedule) > 0)
	if !c.schedule(key, src, f, auds) || f == nil {
		return nil
	}
	f.setStatic()
	return f
}

// flagBody compiles the fields of src other than its schedule: the flag as
// it is when no step is in force, or as a step leaves it. scheduled says
// the flag has a schedule (so that no state of it is STATIC).
func (c *compiler) flagBody(key string, src *Flag, auds map[string]*audience, scheduled bool) *flag {
	flags := root("flags")
	path := flags.field(key)
	before := len(c.ps.list)
	if src.Key != key {
		c.ps.add(ptr(path.field("key")), "%q does not match the flag's key %q", src.Key, key)
	}
	if !src.Kind.Valid() {
		c.ps.add(ptr(path.field("kind")), "unknown kind %q: use one of release, experiment, operational, kill-switch, permission", src.Kind)
	}
	f := &flag{key: key, src: src, enabled: src.Enabled, salt: saltState(key), recoverySalt: saltState(key + "/recovery")}
	ok := c.variants(&path, src, f)
	f.off = c.variantIndex(ptr(path.field("off")), src.Off, f)
	f.def = c.variantIndex(ptr(path.field("default")), src.Default, f)
	c.metadata(ptr(path.field("metadata")), src.Metadata)
	c.requiresShape(ptr(path.field("requires")), src.Requires)
	rules := path.field("rules")
	if len(src.Rules) > MaxRules {
		c.ps.add(&rules, "%d rules, over the limit of %d a flag", len(src.Rules), MaxRules)
		return nil
	}
	f.rules = make([]rule, len(src.Rules))
	for i := range src.Rules {
		rp := rules.index(i)
		c.rule(&rp, f, &src.Rules[i], &f.rules[i], auds)
	}
	if !ok || f.off < 0 || f.def < 0 || len(c.ps.list) > before {
		return nil // a rule with an unknown variant cannot be evaluated
	}
	if cost := c.costs.flag(f); cost > MaxFlagCost {
		c.ps.add(&rules, "evaluating the rules costs more than %d units (a condition is 1, a regular expression its program size, an audience its conditions at every use), over the limit of %d: split the flag or share fewer costly audiences", cost, MaxFlagCost)
		return nil
	}
	f.offResult = f.result(f.off, ReasonDisabled, -1, "")
	if len(src.Requires) > 0 {
		r := f.result(f.off, ReasonPrerequisiteFailed, -1, "")
		f.prereqResult = &r
	}
	defReason := ReasonDefault
	if len(f.rules) == 0 && len(src.Requires) == 0 && !scheduled {
		defReason = ReasonStatic
	}
	f.defResult = f.result(f.def, defReason, -1, "")
	for i := range f.rules {
		r := &f.rules[i]
		switch {
		case r.ramp != nil:
			r.splits = make([]Result, len(f.names))
			r.splits[r.ramp.serve] = f.result(r.ramp.serve, ReasonSplit, i, r.name)
			r.splits[r.ramp.otherwise] = f.result(r.ramp.otherwise, ReasonSplit, i, r.name)
		case r.rollout == nil:
			r.result = f.result(r.serve, ReasonTargetingMatch, i, r.name)
		default:
			r.splits = make([]Result, len(f.names))
			for v := range f.names {
				r.splits[v] = f.result(v, ReasonSplit, i, r.name)
			}
		}
	}
	return f
}

// setStatic precomputes the result of a flag that ignores the context and
// the clock: without an override or schedule, and disabled, or enabled
// without rules and with prerequisites (if any) that fold to a constant.
func (f *flag) setStatic() {
	// A copied flag (CompileFrom) comes here too: point into its own
	// results, never the original's.
	f.static, f.staticResult = false, nil
	noRequires := len(f.src.Requires) == 0 || (f.folded && len(f.hot) == 0)
	switch {
	case f.override != nil, len(f.steps) > 0:
	case !f.enabled:
		f.static, f.staticResult = true, &f.offResult
	case f.folded && f.requiresFail:
		f.static, f.staticResult = true, f.prereqFailed()
	case len(f.rules) == 0 && noRequires:
		f.static, f.staticResult = true, &f.defResult
	}
}

// variants decodes the variant values of src into f.
func (c *compiler) variants(path *fieldPath, src *Flag, f *flag) bool {
	typ := src.Type
	if typ == "" {
		typ = TypeBoolean
	}
	vars := src.Variants
	if len(vars) == 0 && typ == TypeBoolean {
		vars = []Variant{{Name: "on", Value: json.RawMessage("true")}, {Name: "off", Value: json.RawMessage("false")}}
	}
	switch typ {
	case TypeBoolean, TypeString, TypeNumber, TypeJSON:
	default:
		c.ps.add(ptr(path.field("type")), "unknown flag type %q (want boolean, string, number or json)", src.Type)
		return false
	}
	vsp := path.field("variants")
	if len(vars) == 0 {
		c.ps.add(&vsp, "a %s flag needs variants", typ)
		return false
	}
	ok := true
	seen := make(map[string]bool, len(vars))
	for i, v := range vars {
		vpath := vsp.index(i)
		if v.Name == "" {
			c.ps.add(ptr(vpath.field("name")), "variant name is empty")
			ok = false
		} else if seen[v.Name] {
			c.ps.add(ptr(vpath.field("name")), "duplicate variant %q", v.Name)
			ok = false
		}
		seen[v.Name] = true
		val, err := decodeVariant(typ, v.Value)
		if err != nil {
			c.ps.add(ptr(vpath.field("value")), "variant %q of a %s flag %v", v.Name, typ, err)
			ok = false
		}
		f.names = append(f.names, v.Name)
		f.values = append(f.values, val)
	}
	return ok
}

// decodeVariant decodes a variant value, checking it against the flag type.
func decodeVariant(typ FlagType, raw json.RawMessage) (any, error) {
	var v any
	// Boolean flags are most flags, and json.Unmarshal is the slow part of
	// compiling ten thousand of them.
	switch string(raw) {
	case "true":
		v = true
	case "false":
		v = false
	default:
		// Unmarshal, unlike a Decoder, also refuses data after the value.
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("has a value that is not valid JSON: %s: %v", clip(raw), err)
		}
	}
	ok := true
	switch typ {
	case TypeBoolean:
		_, ok = v.(bool)
	case TypeString:
		_, ok = v.(string)
	case TypeNumber:
		_, ok = v.(float64)
	}
	if !ok {
		return nil, fmt.Errorf("must be a %s, not %s", typ, clip(raw))
	}
	return v, nil
}

// clip shortens raw JSON for an error message.
func clip(raw []byte) string {
	if len(raw) == 0 {
		return "(empty)"
	}
	if len(raw) > 40 {
		return string(raw[:40]) + "…"
	}
	return string(raw)
}

// variantIndex resolves a variant name; -1 (and a problem) if unknown.
func (c *compiler) variantIndex(path *fieldPath, name string, f *flag) int {
	for i, n := range f.names {
		if n == name {
			return i
		}
	}
	switch {
	case len(f.names) == 0:
		// no variants: reported already
	case name == "" && path.key == "off":
		c.ps.add(path, "off is required: no variant is named \"off\"")
	case name == "":
		c.ps.add(path, "no variant given")
	default:
		c.ps.add(path, "unknown variant %q (variants: %s)", name, strings.Join(f.names, ", "))
	}
	return -1
}

// ptr returns a pointer to p, so that a child path can be passed where a
// *fieldPath is wanted without a named variable.
func ptr(p fieldPath) *fieldPath { return &p }

// rule compiles src into r.
func (c *compiler) rule(path *fieldPath, f *flag, src *Rule, r *rule, auds map[string]*audience) {
	r.name, r.src, r.by = src.Name, src, src.By
	if r.by == "" {
		r.by = "key"
	}
	if len(src.Users) > maxScan {
		r.userSet = make(map[string]struct{}, len(src.Users))
		for _, u := range src.Users {
			r.userSet[u] = struct{}{}
		}
	} else {
		r.users = src.Users
	}
	for i, a := range src.Audiences {
		if p, ok := auds[a]; ok {
			r.audiences = append(r.audiences, p)
		} else {
			c.ps.add(ptr(ptr(path.field("audiences")).index(i)), "unknown audience %q", a)
		}
	}
	r.matchAny = c.match(ptr(path.field("match")), src.Match)
	r.conds = c.conditions(ptr(path.field("conditions")), src.Conditions, auds)
	r.selective = r.hasSelector()
	shapes := 0
	for _, set := range []bool{src.Serve != "", len(src.Rollout) > 0, src.Ramp != nil} {
		if set {
			shapes++
		}
	}
	switch {
	case shapes > 1 && src.Ramp == nil:
		c.ps.add(path, "a rule has serve or rollout, not both")
	case shapes > 1:
		c.ps.add(path, "a rule has one of serve, rollout or ramp, not several")
	case src.Serve != "":
		if src.By != "" {
			c.ps.add(ptr(path.field("by")), "by applies to rollout and ramp only")
		}
		r.serve = c.variantIndex(ptr(path.field("serve")), src.Serve, f)
	case len(src.Rollout) > 0:
		r.rollout = c.rollout(ptr(path.field("rollout")), src.Rollout, f)
	case src.Ramp != nil:
		r.ramp = c.ramp(ptr(path.field("ramp")), src.Ramp, f)
	default:
		c.ps.add(path, "a rule needs serve (one variant), rollout (a split) or ramp (a split growing by the clock)")
	}
}

// rollout compiles weights into cumulative buckets.
func (c *compiler) rollout(path *fieldPath, ws []Weight, f *flag) []bucket {
	out := make([]bucket, 0, len(ws))
	seen := make(map[string]bool, len(ws))
	sum := 0
	for i, w := range ws {
		wpath := path.index(i)
		if seen[w.Variant] {
			c.ps.add(ptr(wpath.field("variant")), "variant %q appears twice", w.Variant)
		}
		seen[w.Variant] = true
		idx := c.variantIndex(ptr(wpath.field("variant")), w.Variant, f)
		if w.Weight < 0 || w.Weight > 100000 {
			c.ps.add(ptr(wpath.field("weight")), "weight %d is outside 0..100000 (thousandths of a percent)", w.Weight)
			continue
		}
		sum += w.Weight
		out = append(out, bucket{upTo: sum, variant: idx})
	}
	if sum != 100000 {
		c.ps.add(path, "rollout percentages sum to %s, not 100", thousandths(sum))
	}
	return out
}

// thousandths formats a weight in thousandths of a percent as a percentage.
func thousandths(w int) string {
	s := fmt.Sprintf("%d.%03d", w/1000, w%1000)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

// match resolves a Match; true means any.
func (c *compiler) match(path *fieldPath, m Match) bool {
	switch m {
	case "", MatchAll:
		return false
	case MatchAny:
		return true
	}
	c.ps.add(path, "unknown match %q (want all or any)", m)
	return false
}

// override compiles an override onto its flag.
func (c *compiler) override(key string, src *Override, flags *flagTable) {
	path := []any{"overrides", key}
	n := len(c.ps.list)
	checkOverride(&c.ps, path, c.doc, src)
	if src == nil {
		return
	}
	if src.Flag != key {
		c.ps.addPath(append(path, "flag"), "%q does not match the override's key %q", src.Flag, key)
	}
	f := flags.get(key)
	if f == nil || len(c.ps.list) > n {
		return // reported, here or with the flag
	}
	o := &override{serve: -1, expires: src.Expires, recovery: src.Recovery, src: src}
	for i, name := range f.names {
		if name == src.Serve {
			o.serve = i
		}
	}
	if o.serve < 0 {
		return
	}
	o.result = f.result(o.serve, ReasonOverride, -1, "")
	f.override = o
	f.setStatic()
}
