package loader

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flagpole/flagpole/ruleset"
)

// flagSrc is one flag file being checked, with its rule set per environment.
type flagSrc struct {
	f      *yfile
	raw    flagYAML
	perEnv map[string]*ruleset.Flag
}

// registerFlags decodes every flag file and indexes it by key.
func (c *checker) registerFlags(files []*yfile) {
	var decoded []*flagSrc
	for _, f := range files {
		var raw flagYAML
		if !c.decode(f, &raw) {
			c.markBroken("flag", f)
			continue
		}
		decoded = append(decoded, &flagSrc{f: f, raw: raw})
	}
	// Files named after their key claim it first, so that a duplicate is
	// reported in the file that is misnamed.
	sort.SliceStable(decoded, func(i, j int) bool {
		return decoded[i].raw.Key == baseName(decoded[i].f.rel) && decoded[j].raw.Key != baseName(decoded[j].f.rel)
	})
	for _, fs := range decoded {
		f, raw := fs.f, fs.raw
		if want := baseName(f.rel); raw.Key != want {
			c.errorf(f, p("key"), "key %q does not match the file name: %s must have key %q", raw.Key, f.rel, want)
		}
		if prev, dup := c.flags[raw.Key]; dup {
			c.errorf(f, p("key"), "duplicate flag key %q (also in %s)", raw.Key, prev.f.rel)
			continue
		}
		fs.perEnv = map[string]*ruleset.Flag{}
		c.flags[raw.Key] = fs
		c.flagOrder = append(c.flagOrder, fs)
	}
}

// checkFlag checks one flag and builds it for every environment.
func (c *checker) checkFlag(fs *flagSrc, envs []string) {
	f, raw := fs.f, &fs.raw
	for env := range raw.Environments {
		if c.settingsOK && !c.envs[env] {
			c.errorKey(f, p("environments", env), "overlay for undeclared environment %q", env)
		}
	}
	if raw.Expires != "" {
		if exp, err := time.Parse(time.DateOnly, raw.Expires); err == nil && !c.now.Before(exp.AddDate(0, 0, 1)) {
			c.warnf(f, p("expires"), "stale flag: it expired on %s; remove it or extend expires", raw.Expires)
		}
	}
	var shared *ruleset.Flag
	for _, env := range envs {
		ov, has := raw.Environments[env]
		if !has && shared != nil {
			cp := *shared
			fs.perEnv[env] = &cp
			continue
		}
		var ovp *overlayYAML
		if has {
			ovp = &ov
		}
		fl := c.buildFlag(fs, env, ovp)
		if !has {
			shared = fl
		}
		fs.perEnv[env] = fl
	}
}

func (c *checker) buildFlag(fs *flagSrc, env string, ov *overlayYAML) *ruleset.Flag {
	f, raw := fs.f, &fs.raw
	e := mergeOverlay(env, &raw.overlayYAML, ov)
	out := &ruleset.Flag{Key: raw.Key, Name: raw.Name, Description: raw.Description, Owner: raw.Owner,
		Type: ruleset.FlagType(raw.Type), Client: e.client, Enabled: e.enabled, Expires: raw.Expires}
	if out.Type == "" {
		out.Type = ruleset.TypeBoolean
	}
	out.Variants = c.variants(f, e.variantsAt, e.variants, out.Type)
	vc := variantCheck{c: c, f: f, known: map[string]bool{}}
	names := make([]string, len(out.Variants))
	for i, v := range out.Variants {
		vc.known[v.Name] = true
		names[i] = v.Name
	}
	vc.list = strings.Join(names, ", ")
	if e.variantsOverlaid {
		vc.note = " in environment " + env
	}
	switch {
	case e.off != "":
		out.Off = e.off
		vc.check(e.offAt, e.off)
	case vc.known["off"]:
		out.Off = "off"
	case len(out.Variants) > 0:
		c.errorf(f, e.variantsAt, "off is required: no variant is named \"off\"%s", vc.note)
	}
	out.Default = out.Off
	if e.def != "" {
		out.Default = e.def
		vc.check(e.defAt, e.def)
	}
	for i := range e.rules {
		if r, ok := c.rule(vc, append(e.rulesAt[:len(e.rulesAt):len(e.rulesAt)], i), &e.rules[i]); ok {
			out.Rules = append(out.Rules, r)
		}
	}
	out.Breaker = c.flagBreaker(f, env, raw.Breaker, ov)
	return out
}

// effective holds a flag's fields in one environment, each with the path
// of the field it came from (the flag's own, or its overlay's).
type effective struct {
	client, enabled  bool
	variants         *yaml.Node
	variantsAt       []any
	variantsOverlaid bool
	off, def         string
	offAt, defAt     []any
	rules            []ruleYAML
	rulesAt          []any
}

// mergeOverlay applies the overlay ov of environment env (nil: none) over
// the flag's own fields base.
func mergeOverlay(env string, base, ov *overlayYAML) effective {
	own := func(name string) []any { return p(name) }
	over := func(name string) []any { return p("environments", env, name) }
	e := effective{enabled: true, variants: &base.Variants, variantsAt: own("variants"),
		off: base.Off, offAt: own("off"), def: base.Default, defAt: own("default"), rulesAt: own("rules")}
	if base.Client != nil {
		e.client = *base.Client
	}
	if base.Enabled != nil {
		e.enabled = *base.Enabled
	}
	if base.Rules != nil {
		e.rules = *base.Rules
	}
	if ov == nil {
		return e
	}
	if ov.Client != nil {
		e.client = *ov.Client
	}
	if ov.Enabled != nil {
		e.enabled = *ov.Enabled
	}
	if ov.Variants.Kind != 0 {
		e.variants, e.variantsAt, e.variantsOverlaid = &ov.Variants, over("variants"), true
	}
	if ov.Off != "" {
		e.off, e.offAt = ov.Off, over("off")
	}
	if ov.Default != "" {
		e.def, e.defAt = ov.Default, over("default")
	}
	if ov.Rules != nil {
		e.rules, e.rulesAt = *ov.Rules, over("rules")
	}
	return e
}

func (c *checker) flagBreaker(f *yfile, env string, base *breakerYAML, ov *overlayYAML) *ruleset.Breaker {
	var over *breakerYAML
	if ov != nil {
		over = ov.Breaker
	}
	if !c.settings.BreakerDeclared && base == nil && over == nil {
		return nil
	}
	b := c.settings.Breaker
	if base != nil {
		c.mergeBreaker(f, p("breaker"), &b, base)
	}
	if over != nil {
		c.mergeBreaker(f, p("environments", env, "breaker"), &b, over)
	}
	return &b
}

// variants decodes the variants mapping, in file order, checking each value
// against the flag's type; boolean flags without variants get on and off.
func (c *checker) variants(f *yfile, path []any, n *yaml.Node, t ruleset.FlagType) []ruleset.Variant {
	if n.Kind == 0 {
		if t == ruleset.TypeBoolean {
			return []ruleset.Variant{{Name: "on", Value: json.RawMessage("true")}, {Name: "off", Value: json.RawMessage("false")}}
		}
		c.errorf(f, p("type"), "a %s flag needs variants", t)
		return nil
	}
	var out []ruleset.Variant
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, vn := n.Content[i].Value, n.Content[i+1]
		conv := converter{f: &yfile{rel: f.rel}}
		v := conv.convert(vn)
		raw, err := json.Marshal(v)
		if err != nil || conv.blocking {
			c.errorf(f, append(path, name), "value cannot be encoded as JSON")
			continue
		}
		ok := true
		switch t {
		case ruleset.TypeBoolean:
			_, ok = v.(bool)
		case ruleset.TypeString:
			_, ok = v.(string)
		case ruleset.TypeNumber:
			switch v.(type) {
			case int64, float64:
			default:
				ok = false
			}
		}
		if !ok {
			c.errorf(f, append(path, name), "variant %q of a %s flag must be a %s, not %s", name, t, t, string(raw))
			continue
		}
		out = append(out, ruleset.Variant{Name: name, Value: raw})
	}
	return out
}

// variantCheck checks variant references against a flag's variants.
type variantCheck struct {
	c     *checker
	f     *yfile
	known map[string]bool
	list  string
	note  string
}

func (vc variantCheck) check(path []any, name string) bool {
	return vc.report(path, name, vc.c.errorf)
}

// checkKey is check for a variant named by a mapping key (rollouts): the
// error points at the key.
func (vc variantCheck) checkKey(path []any, name string) bool {
	return vc.report(path, name, vc.c.errorKey)
}

func (vc variantCheck) report(path []any, name string, errorf func(*yfile, []any, string, ...any)) bool {
	if vc.known[name] {
		return true
	}
	if len(vc.known) == 0 {
		return false // no valid variants: already reported
	}
	errorf(vc.f, path, "unknown variant %q (variants%s: %s)", name, vc.note, vc.list)
	return false
}

// rule checks one rule and returns its wire form.
func (c *checker) rule(vc variantCheck, path []any, ry *ruleYAML) (ruleset.Rule, bool) {
	f := vc.f
	r := ruleset.Rule{Name: ry.Name, Users: ry.Users, Audiences: ry.Audiences, Match: ruleset.Match(ry.Match)}
	if r.Match == "" {
		r.Match = ruleset.MatchAll
	}
	ok := true
	for i, a := range ry.Audiences {
		if _, known := c.audiences[a]; !known && !c.broken["audience/"+a] {
			c.errorf(f, append(path, "audiences", i), "unknown audience %q", a)
			ok = false
		}
	}
	for i := range ry.Conditions {
		cond, cok := c.condition(f, append(path, "conditions", i), &ry.Conditions[i])
		ok = ok && cok
		r.Conditions = append(r.Conditions, cond)
	}
	hasRollout := ry.Rollout.Kind != 0
	switch {
	case ry.Serve != "" && hasRollout:
		c.errorf(f, path, "a rule has serve or rollout, not both")
		return r, false
	case ry.Serve == "" && !hasRollout:
		c.errorf(f, path, "a rule needs serve (one variant) or rollout (a split)")
		return r, false
	case ry.Serve != "":
		if ry.By != "" {
			c.errorf(f, append(path, "by"), "by applies to rollout only")
			ok = false
		}
		r.Serve = ry.Serve
		return r, vc.check(append(path, "serve"), ry.Serve) && ok
	}
	r.By = ry.By
	if r.By == "" {
		r.By = "key"
	} else if t, declared := c.attrs[r.By]; !declared {
		if c.attrsOK {
			c.errorf(f, append(path, "by"), "undeclared attribute %q: declare it in attributes.yaml", r.By)
		}
		ok = false
	} else if t != ruleset.AttrString && t != ruleset.AttrNumber {
		c.errorf(f, append(path, "by"), "cannot bucket by %s attribute %q: use a string or number attribute", t, r.By)
		ok = false
	}
	total := 0
	n := &ry.Rollout
	for i := 0; i+1 < len(n.Content); i += 2 {
		name := n.Content[i].Value
		var pct float64
		if err := n.Content[i+1].Decode(&pct); err != nil {
			c.errorf(f, append(path, "rollout", name), "percentage must be a number")
			ok = false
			continue
		}
		if !vc.checkKey(append(path, "rollout", name), name) {
			ok = false
		}
		w := int(math.Round(pct * 1000))
		total += w
		r.Rollout = append(r.Rollout, ruleset.Weight{Variant: name, Weight: w})
	}
	if total != 100000 {
		c.errorf(f, append(path, "rollout"), "rollout percentages sum to %s, not 100", formatThousandths(total))
		ok = false
	}
	return r, ok
}

// formatThousandths formats 12345 as "12.345" and 50000 as "50".
func formatThousandths(n int) string {
	s := fmt.Sprintf("%d.%03d", n/1000, n%1000)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}
