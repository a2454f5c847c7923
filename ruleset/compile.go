package ruleset

import (
	"encoding/json"
	"fmt"
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
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	c := compiler{doc: doc}
	audiences := c.audiences()
	rs := &RuleSet{doc: doc, flags: make(map[string]*flag, len(doc.Flags)), now: now}
	rs.keys = sortedKeys(doc.Flags)
	for _, key := range rs.keys {
		if f := c.flag(key, doc.Flags[key], audiences); f != nil {
			rs.flags[key] = f
		}
	}
	for _, key := range sortedKeys(doc.Overrides) {
		c.override(key, doc.Overrides[key], rs.flags)
	}
	if err := c.ps.err(); err != nil {
		return nil, err
	}
	return rs, nil
}

// compiler holds the state of one compilation.
type compiler struct {
	doc *Document
	ps  problems
}

// flag compiles one flag; nil if it is too broken to evaluate (the
// problems are recorded).
func (c *compiler) flag(key string, src *Flag, auds map[string]*audience) *flag {
	path := "flags." + key
	if src == nil {
		c.ps.add(path, "flag is null")
		return nil
	}
	if src.Key != key {
		c.ps.add(path+".key", "%q does not match the flag's key %q", src.Key, key)
	}
	f := &flag{key: key, src: src, enabled: src.Enabled, salt: saltState(key), recoverySalt: saltState(key + "/recovery")}
	ok := c.variants(path, src, f)
	f.off = c.variantIndex(path+".off", src.Off, f)
	f.def = c.variantIndex(path+".default", src.Default, f)
	f.rules = make([]rule, len(src.Rules))
	for i := range src.Rules {
		c.rule(fmt.Sprintf("%s.rules[%d]", path, i), f, &src.Rules[i], &f.rules[i], auds)
	}
	if !ok || f.off < 0 || f.def < 0 {
		return nil
	}
	f.offResult = f.result(f.off, ReasonDisabled, -1, "")
	f.defResult = f.result(f.def, ReasonDefault, -1, "")
	for i := range f.rules {
		r := &f.rules[i]
		if r.rollout == nil {
			r.result = f.result(r.serve, ReasonTargetingMatch, i, r.name)
			continue
		}
		r.splits = make([]Result, len(f.names))
		for v := range f.names {
			r.splits[v] = f.result(v, ReasonSplit, i, r.name)
		}
	}
	f.setStatic()
	return f
}

// setStatic precomputes the result of a flag that ignores the context:
// disabled, or enabled without rules, and without an override.
func (f *flag) setStatic() {
	f.static = false
	switch {
	case f.override != nil:
	case !f.enabled:
		f.static, f.staticResult = true, f.offResult
	case len(f.rules) == 0:
		f.static, f.staticResult = true, f.defResult
	}
}

// variants decodes the variant values of src into f.
func (c *compiler) variants(path string, src *Flag, f *flag) bool {
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
		c.ps.add(path+".type", "unknown flag type %q (want boolean, string, number or json)", src.Type)
		return false
	}
	if len(vars) == 0 {
		c.ps.add(path+".variants", "a %s flag needs at least one variant", typ)
		return false
	}
	ok := true
	seen := make(map[string]bool, len(vars))
	for i, v := range vars {
		vpath := fmt.Sprintf("%s.variants[%d]", path, i)
		if v.Name == "" {
			c.ps.add(vpath+".name", "variant name is empty")
			ok = false
		} else if seen[v.Name] {
			c.ps.add(vpath+".name", "duplicate variant %q", v.Name)
			ok = false
		}
		seen[v.Name] = true
		val, err := decodeVariant(typ, v.Value)
		if err != nil {
			c.ps.add(vpath+".value", "%v", err)
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
			return nil, fmt.Errorf("value %s is not valid JSON: %v", clip(raw), err)
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
		return nil, fmt.Errorf("value %s is not a %s", clip(raw), typ)
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
func (c *compiler) variantIndex(path, name string, f *flag) int {
	for i, n := range f.names {
		if n == name {
			return i
		}
	}
	if name == "" {
		c.ps.add(path, "no variant given")
	} else if len(f.names) > 0 {
		c.ps.add(path, "unknown variant %q (variants: %v)", name, f.names)
	}
	return -1
}

// rule compiles src into r.
func (c *compiler) rule(path string, f *flag, src *Rule, r *rule, auds map[string]*audience) {
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
			c.ps.add(fmt.Sprintf("%s.audiences[%d]", path, i), "unknown audience %q", a)
		}
	}
	r.matchAny = c.match(path+".match", src.Match)
	r.conds = c.conditions(path+".conditions", src.Conditions, auds)
	r.selective = r.hasSelector()
	switch {
	case src.Serve != "" && len(src.Rollout) > 0:
		c.ps.add(path, "has both serve and rollout; give one")
	case src.Serve != "":
		r.serve = c.variantIndex(path+".serve", src.Serve, f)
	case len(src.Rollout) > 0:
		r.rollout = c.rollout(path+".rollout", src.Rollout, f)
	default:
		c.ps.add(path, "has neither serve nor rollout; give one")
	}
}

// rollout compiles weights into cumulative buckets.
func (c *compiler) rollout(path string, ws []Weight, f *flag) []bucket {
	out := make([]bucket, 0, len(ws))
	seen := make(map[string]bool, len(ws))
	sum := 0
	for i, w := range ws {
		wpath := fmt.Sprintf("%s[%d]", path, i)
		if seen[w.Variant] {
			c.ps.add(wpath+".variant", "variant %q appears twice", w.Variant)
		}
		seen[w.Variant] = true
		idx := c.variantIndex(wpath+".variant", w.Variant, f)
		if w.Weight < 0 || w.Weight > 100000 {
			c.ps.add(wpath+".weight", "weight %d is outside 0..100000 (thousandths of a percent)", w.Weight)
			continue
		}
		sum += w.Weight
		out = append(out, bucket{upTo: sum, variant: idx})
	}
	if sum != 100000 {
		c.ps.add(path, "weights sum to %s%%, not 100%%", thousandths(sum))
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
func (c *compiler) match(path string, m Match) bool {
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
func (c *compiler) override(key string, src *Override, flags map[string]*flag) {
	path := "overrides." + key
	if src == nil {
		c.ps.add(path, "override is null")
		return
	}
	if src.Flag != key {
		c.ps.add(path+".flag", "%q does not match the override's key %q", src.Flag, key)
	}
	if src.Environment != "" && c.doc.Environment != "" && src.Environment != c.doc.Environment {
		c.ps.add(path+".environment", "%q is not this rule set's environment %q", src.Environment, c.doc.Environment)
	}
	if r := src.Recovery; r != nil {
		if r.Every <= 0 {
			c.ps.add(path+".recovery.every", "must be a positive duration, not %s", time.Duration(r.Every))
		}
		if r.Start < 0 || r.Start > 100 {
			c.ps.add(path+".recovery.start", "%g is outside 0..100 (percent)", r.Start)
		}
		if r.Step < 0 || r.Step > 100 {
			c.ps.add(path+".recovery.step", "%g is outside 0..100 (percent)", r.Step)
		}
	}
	if _, ok := c.doc.Flags[key]; !ok {
		c.ps.add(path, "unknown flag %q", key)
		return
	}
	f := flags[key]
	if f == nil {
		return // the flag's own problems are reported
	}
	o := &override{serve: c.variantIndex(path+".serve", src.Serve, f), expires: src.Expires, recovery: src.Recovery, src: src}
	if o.serve < 0 {
		return
	}
	o.result = f.result(o.serve, ReasonOverride, -1, "")
	f.override = o
	f.setStatic()
}
