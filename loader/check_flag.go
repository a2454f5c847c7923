package loader

import (
	"encoding/json"
	"math"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flagpole/flagpole/ruleset"
)

// flagSrc is one flag file being checked, with its rule set per environment.
type flagSrc struct {
	f   *yfile
	key string // the flag's key, as the file has it
	// raw is the file's decoded form (never modified): the Cache's own,
	// set at registration, or, when the Cache let it go (yfile.release),
	// decoded again on first use (form), once: checks of other flags read
	// it in parallel.
	raw    *flagYAML
	once   sync.Once
	perEnv map[string]*ruleset.Flag
	// decoded, for a flag a Cache may keep for the next load (flagState),
	// logs the forms form makes again for Cache.releaseRoots to drop.
	decoded *formLog
}

// form returns the flag file's decoded form.
func (fs *flagSrc) form() *flagYAML {
	fs.once.Do(func() {
		if fs.raw == nil {
			fs.raw = fs.f.decodeAgain().(*flagYAML)
			if fs.decoded != nil {
				fs.decoded.add(fs)
			}
		}
	})
	return fs.raw
}

// forget drops the flag's decoded form when its file let its own go
// (yfile.release), so that a flagSrc a Cache keeps between loads does not
// keep it: form decodes it again when it is needed. No check may run on
// fs meanwhile.
func (fs *flagSrc) forget() {
	if fs.f.typed == nil {
		fs.raw = nil
		fs.once = sync.Once{}
	}
}

// registerFlags decodes every flag file and indexes it by key.
func (c *checker) registerFlags(files []*yfile) {
	// Files named after their key claim it first, so that a duplicate is
	// reported in the file that is misnamed: named files in file order,
	// then the others in file order.
	decoded := make([]*flagSrc, 0, len(files))
	var misnamed []*flagSrc
	for _, f := range files {
		if !c.decodable(f) {
			c.markBroken("flag", f)
			continue
		}
		fs := &flagSrc{f: f, key: f.key, decoded: c.decoded}
		fs.raw, _ = f.typed.(*flagYAML)
		if fs.key == baseName(f.rel) {
			decoded = append(decoded, fs)
		} else {
			misnamed = append(misnamed, fs)
		}
	}
	decoded = append(decoded, misnamed...)
	for _, fs := range decoded {
		f, key := fs.f, fs.key
		if want := baseName(f.rel); key != want {
			c.errorf(f, p("key"), "key %q does not match the file name: %s must have key %q", key, f.rel, want)
		}
		if prev, dup := c.flags[key]; dup {
			c.errorf(f, p("key"), "duplicate flag key %q (also in %s)", key, prev.f.rel)
			continue
		}
		c.flags[key] = fs
		c.flagOrder = append(c.flagOrder, fs)
	}
}

// checkFlagsOn checks and builds the flags fss for envs on all CPUs and
// returns the diagnostics of each, in the order of fss. Checking a flag
// reads the checker's tables (settings, attributes, flags), which do not
// change meanwhile, and writes only the flag's own flagSrc, its file's
// node tree (rootNode) and diagnostics: each worker checks with a copy of
// c that collects its own diagnostics.
func (c *checker) checkFlagsOn(fss []*flagSrc, envs []string) [][]Diagnostic {
	out := make([][]Diagnostic, len(fss))
	onCPUs(len(fss), func() func(int) {
		w := *c
		return func(i int) {
			w.diags = nil
			w.checkFlag(fss[i], envs)
			out[i] = w.diags
		}
	})
	return out
}

// checkFlag checks one flag and builds it for every environment.
func (c *checker) checkFlag(fs *flagSrc, envs []string) {
	f, raw := fs.f, fs.form()
	for env := range raw.Environments {
		if c.settingsOK && !c.envs[env] {
			c.errorKey(f, p("environments", env), "overlay for undeclared environment %q", env)
		}
	}
	c.checkSchedules(fs)
	if raw.Expires != "" {
		if exp, err := time.Parse(time.DateOnly, raw.Expires); err == nil && !c.now.Before(exp.AddDate(0, 0, 1)) {
			c.warnf(f, p("expires"), "stale flag: it expired on %s; remove it or extend expires", raw.Expires)
		}
	}
	fs.perEnv = make(map[string]*ruleset.Flag, len(envs))
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
	f, raw := fs.f, fs.form()
	e := mergeOverlay(env, &raw.overlayYAML, ov)
	out := &ruleset.Flag{Key: raw.Key, Name: raw.Name, Description: raw.Description, Owner: raw.Owner,
		Type: ruleset.FlagType(raw.Type), Client: e.client, Enabled: e.enabled, Expires: raw.Expires,
		Kind: ruleset.Kind(raw.Kind)}
	if out.Type == "" {
		out.Type = ruleset.TypeBoolean
	}
	out.Variants = variants(e.variants, out.Type)
	out.Off = e.off
	if out.Off == "" {
		for _, v := range out.Variants {
			if v.Name == "off" {
				out.Off = "off"
			}
		}
	}
	out.Default = out.Off
	if e.def != "" {
		out.Default = e.def
	}
	for i := range e.rules {
		out.Rules = append(out.Rules, c.rule(f, append(e.rulesAt[:len(e.rulesAt):len(e.rulesAt)], i), &e.rules[i]))
	}
	out.Breaker = c.flagBreaker(f, env, raw.Breaker, ov)
	out.Requires = prerequisites(e.requires)
	out.Schedule = c.schedule(f, e.scheduleAt, e.schedule)
	out.Metadata = metadata(e.metadata)
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
	requires         []prereqYAML
	requiresAt       []any
	schedule         []stepYAML
	scheduleAt       []any
	metadata         *yaml.Node
	metadataAt       []any
}

// mergeOverlay applies the overlay ov of environment env (nil: none) over
// the flag's own fields base.
func mergeOverlay(env string, base, ov *overlayYAML) effective {
	own := func(name string) []any { return p(name) }
	over := func(name string) []any { return p("environments", env, name) }
	e := effective{enabled: true, variants: &base.Variants, variantsAt: own("variants"),
		off: base.Off, offAt: own("off"), def: base.Default, defAt: own("default"), rulesAt: own("rules"),
		requiresAt: own("requires"), scheduleAt: own("schedule"), metadata: &base.Metadata, metadataAt: own("metadata")}
	if base.Client != nil {
		e.client = *base.Client
	}
	if base.Enabled != nil {
		e.enabled = *base.Enabled
	}
	if base.Rules != nil {
		e.rules = *base.Rules
	}
	if base.Requires != nil {
		e.requires = *base.Requires
	}
	if base.Schedule != nil {
		e.schedule = *base.Schedule
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
	if ov.Requires != nil {
		e.requires, e.requiresAt = *ov.Requires, over("requires")
	}
	if ov.Schedule != nil {
		e.schedule, e.scheduleAt = *ov.Schedule, over("schedule")
	}
	if ov.Metadata.Kind != 0 {
		e.metadata, e.metadataAt = &ov.Metadata, over("metadata")
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

// variants returns the variants mapping in file order, each value as
// JSON; boolean flags without variants get on and off. Values are checked
// against the flag's type by ruleset.Compile.
func variants(n *yaml.Node, t ruleset.FlagType) []ruleset.Variant {
	if n.Kind == 0 {
		if t == ruleset.TypeBoolean {
			return []ruleset.Variant{{Name: "on", Value: json.RawMessage("true")}, {Name: "off", Value: json.RawMessage("false")}}
		}
		return nil
	}
	var out []ruleset.Variant
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, ruleset.Variant{Name: n.Content[i].Value, Value: operandJSON(n.Content[i+1])})
	}
	return out
}

// rule returns the wire form of a rule, checking what depends on
// attributes.yaml: that by names a declared attribute that can be bucketed.
// Variants, audiences, conditions and rollout sums are checked by
// ruleset.Compile.
func (c *checker) rule(f *yfile, path []any, ry *ruleYAML) ruleset.Rule {
	r := ruleset.Rule{Name: ry.Name, Users: ry.Users, Audiences: ry.Audiences, Match: ruleset.Match(ry.Match),
		Serve: ry.Serve, By: ry.By}
	if r.Match == "" {
		r.Match = ruleset.MatchAll
	}
	for i := range ry.Conditions {
		r.Conditions = append(r.Conditions, c.condition(f, append(path, "conditions", i), &ry.Conditions[i]))
	}
	r.Ramp = ramp(ry.Ramp)
	n := &ry.Rollout
	for i := 0; i+1 < len(n.Content); i += 2 {
		var pct float64
		if err := n.Content[i+1].Decode(&pct); err != nil {
			continue // the schema has reported it
		}
		r.Rollout = append(r.Rollout, ruleset.Weight{Variant: n.Content[i].Value, Weight: int(math.Round(pct * 1000))})
	}
	split := n.Kind != 0 || ry.Ramp != nil
	if !split || ry.By == "" {
		if split {
			r.By = "key"
		}
		return r
	}
	if t, declared := c.attrs[r.By]; !declared {
		if c.attrsOK {
			c.errorf(f, append(path, "by"), "undeclared attribute %q: declare it in attributes.yaml", r.By)
		}
	} else if !ruleset.CanBucketBy(t) {
		c.errorf(f, append(path, "by"), "cannot bucket by %s attribute %q: use a string or number attribute", t, r.By)
	}
	return r
}
