package loader

import (
	"fmt"
	"strings"
	"time"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/store"
)

// checker runs the semantic checks over the parsed files and builds the
// repository; every problem lands in diags.
type checker struct {
	now   time.Time
	diags Diagnostics

	settings     Settings
	settingsOK   bool
	settingsFile *yfile // flagpole.yaml, nil when missing
	envs         map[string]bool
	attrs        map[string]ruleset.AttrType
	attributes   []Attribute
	attrsOK      bool
	audiences    map[string]*audienceSrc // by key
	flags        map[string]*flagSrc     // by key
	flagOrder    []*flagSrc              // in file order
	// broken holds "audience/KEY" and "flag/KEY" for files that failed to
	// parse, so that references to them are not reported a second time.
	broken    map[string]bool
	overrides map[string]map[string]*ruleset.Override
	// overrideFiles holds the file of each override, by environment and flag.
	overrideFiles map[string]map[string]*yfile
	// decoded, when set, is the log registerFlags gives each flagSrc
	// (flagSrc.decoded).
	decoded *formLog
}

func (c *checker) add(d Diagnostic) { c.diags = append(c.diags, d) }

// addIn adds a semantic error found in f, unless it follows from a field
// of f that has a schema error (see yfile.trusts).
func (c *checker) addIn(f *yfile, d Diagnostic) {
	if f.trusts(d.Path) {
		c.add(d)
	}
}

func (c *checker) errorf(f *yfile, path []any, format string, args ...any) {
	c.addIn(f, f.at(SeverityError, fmt.Sprintf(format, args...), path...))
}

func (c *checker) errorKey(f *yfile, path []any, format string, args ...any) {
	c.addIn(f, f.atKey(SeverityError, fmt.Sprintf(format, args...), path...))
}

func (c *checker) warnf(f *yfile, path []any, format string, args ...any) {
	c.add(f.at(SeverityWarning, fmt.Sprintf(format, args...), path...))
}

// p builds a field path.
func p(els ...any) []any { return els }

// loadSettings checks flagpole.yaml.
func (c *checker) loadSettings(f *yfile) {
	var raw settingsYAML
	if !c.decode(f, &raw) {
		return
	}
	s := Settings{Breaker: DefaultBreaker(), Writeback: Writeback{Author: Author{Name: "flagpole", Email: "flagpole@localhost"}}}
	ok := true
	for i, env := range raw.Environments {
		if c.envs[env] {
			c.errorf(f, p("environments", i), "duplicate environment %q", env)
			ok = false
			continue
		}
		c.envs[env] = true
		s.Environments = append(s.Environments, env)
	}
	hashes := map[string]string{}
	if !c.checkKeys(f, raw.Keys, &s, hashes) {
		ok = false
	}
	c.checkTriggerFields(f, raw.Triggers, &s, hashes)
	if raw.Breaker != nil {
		s.BreakerDeclared = true
		if !c.mergeBreaker(f, p("breaker"), &s.Breaker, raw.Breaker) {
			ok = false
		}
	}
	if w := raw.Writeback; w != nil {
		s.Writeback.Branch = w.Branch
		if w.Author != nil {
			s.Writeback.Author = Author{Name: w.Author.Name, Email: w.Author.Email}
		}
	}
	for _, n := range raw.Notify {
		events := n.Events
		if len(events) == 0 {
			events = append([]string(nil), NotifyEvents...)
		}
		s.Notify = append(s.Notify, Notify{URL: n.URL, Format: n.Format, Secret: n.Secret, Events: events})
	}
	c.settings = s
	c.settingsOK = ok && f.trusts("environments")
	c.settingsFile = f
}

// checkKeys checks the keys of flagpole.yaml and adds them to s: unique
// names and hashes (hashes, shared with the triggers, maps each to who has
// it), one declared environment for an SDK key, a list of declared ones
// for an admin or viewer key.
func (c *checker) checkKeys(f *yfile, keys []keyYAML, s *Settings, hashes map[string]string) bool {
	ok := true
	bad := func(path []any, format string, args ...any) {
		c.errorf(f, path, format, args...)
		ok = false
	}
	envKnown := func(env string) bool { return c.envs[env] || !f.trusts("environments") }
	names := map[string]bool{}
	for i, k := range keys {
		kind := store.KeyKind(k.Kind)
		switch kind {
		case store.KeyServer, store.KeyClient:
			switch {
			case k.Environments != nil:
				bad(p("keys", i, "environments"), "a %s key reads one environment: use environment, not environments", kind)
			case k.Environment == "":
				bad(p("keys", i), "%s key %q needs an environment", kind, k.Name)
			case !envKnown(k.Environment):
				bad(p("keys", i, "environment"), "key %q is for undeclared environment %q", k.Name, k.Environment)
			}
		case store.KeyAdmin, store.KeyViewer:
			if k.Environment != "" {
				bad(p("keys", i, "environment"), "admin and viewer keys take environments (a list; default all), not environment")
			}
			for j, env := range k.Environments {
				if !envKnown(env) {
					bad(p("keys", i, "environments", j), "key %q is for undeclared environment %q", k.Name, env)
				}
			}
		} // other kinds are schema errors
		if names[k.Name] {
			bad(p("keys", i, "name"), "duplicate key name %q", k.Name)
		}
		names[k.Name] = true
		if other, dup := hashes[k.SHA256]; dup {
			bad(p("keys", i, "sha256"), "key %q has the same sha256 as %s: every key must be unique", k.Name, other)
		} else {
			hashes[k.SHA256] = fmt.Sprintf("key %q", k.Name)
		}
		s.Keys = append(s.Keys, store.Key{Name: k.Name, Environment: k.Environment, Environments: k.Environments, Kind: kind, SHA256: k.SHA256})
	}
	return ok
}

// checkTriggerFields checks what a trigger says by itself (unique name
// and hash, a declared environment, an action that parses) and adds the
// triggers to s. checkTriggers checks their flags and variants once the
// Documents exist.
func (c *checker) checkTriggerFields(f *yfile, triggers []triggerYAML, s *Settings, hashes map[string]string) {
	names := map[string]bool{}
	for i, t := range triggers {
		if names[t.Name] {
			c.errorf(f, p("triggers", i, "name"), "duplicate trigger name %q", t.Name)
		}
		names[t.Name] = true
		if other, dup := hashes[t.SHA256]; dup {
			c.errorf(f, p("triggers", i, "sha256"), "trigger %q has the same sha256 as %s: every token must be unique", t.Name, other)
		} else {
			hashes[t.SHA256] = fmt.Sprintf("trigger %q", t.Name)
		}
		if !c.envs[t.Environment] && f.trusts("environments") {
			c.errorf(f, p("triggers", i, "environment"), "trigger %q is for undeclared environment %q", t.Name, t.Environment)
		}
		action, variant, err := store.ParseTriggerAction(t.Action)
		if err != nil {
			c.errorf(f, p("triggers", i, "action"), "%v", err)
		}
		s.Triggers = append(s.Triggers, store.Trigger{Name: t.Name, Flag: t.Flag, Environment: t.Environment,
			Action: action, Variant: variant, SHA256: t.SHA256})
	}
}

// checkTriggers checks that each trigger's flag exists in its environment
// and that the variant it serves is one of the flag's: the checks of an
// override (ruleset.CheckOverride), since a trigger sets one.
func (c *checker) checkTriggers(docs map[string]*ruleset.Document) {
	f := c.settingsFile
	for i, t := range c.settings.Triggers {
		doc := docs[t.Environment]
		if doc == nil || t.Action == 0 {
			continue // reported by checkTriggerFields
		}
		if _, known := c.flags[t.Flag]; !known {
			if !c.broken["flag/"+t.Flag] {
				c.errorf(f, p("triggers", i, "flag"), "unknown flag %q", t.Flag)
			}
			continue
		}
		fl := doc.Flags.Get(t.Flag)
		if fl == nil {
			continue // the flag's own errors say why
		}
		serve := t.Variant
		if t.Action != store.TriggerServe {
			serve = fl.Off // off and clear serve no variant of their own
		}
		for _, fe := range ruleset.CheckOverride(doc, &ruleset.Override{Flag: t.Flag, Environment: t.Environment, Serve: serve, At: c.now}) {
			switch field, _ := first(fe.Path); field {
			case "serve":
				if t.Action == store.TriggerServe {
					c.errorf(f, p("triggers", i, "action"), "%s", fe.Message)
				}
			case "flag", "environment":
				c.errorf(f, p("triggers", i, field), "%s", fe.Message)
			default:
				c.errorf(f, p("triggers", i), "%s", fe.Message)
			}
		}
	}
}

// mergeBreaker sets the fields of b that raw has.
func (c *checker) mergeBreaker(f *yfile, at []any, b *ruleset.Breaker, raw *breakerYAML) bool {
	ok := true
	dur := func(dst *ruleset.Duration, s *string, path []any) {
		if s == nil {
			return
		}
		d, err := time.ParseDuration(*s)
		if err != nil || d <= 0 {
			c.errorf(f, path, "must be a positive duration such as 60s or 5m")
			ok = false
			return
		}
		*dst = ruleset.Duration(d)
	}
	dur(&b.Window, raw.Window, append(at, "window"))
	if raw.MinRequests != nil {
		b.MinRequests = *raw.MinRequests
	}
	if raw.ErrorRate != nil {
		b.ErrorRate = *raw.ErrorRate
	}
	if raw.OnTrip != nil {
		b.OnTrip = *raw.OnTrip
	}
	if sl := raw.Slow; sl != nil {
		// A slow block merges over the one it overrides; a new one needs
		// both fields.
		merged := ruleset.SlowPolicy{}
		if b.Slow != nil {
			merged = *b.Slow
		}
		dur(&merged.Duration, sl.Duration, append(at, "slow", "duration"))
		if sl.Rate != nil {
			merged.Rate = *sl.Rate
		}
		switch {
		case merged.Duration <= 0:
			if sl.Duration == nil { // else dur reported it
				c.errorf(f, append(at, "slow"), "slow needs a duration (such as 800ms)")
			}
			ok = false
		case merged.Rate <= 0:
			c.errorf(f, append(at, "slow"), "slow needs a rate (percent of calls, such as 50)")
			ok = false
		default:
			b.Slow = &merged
		}
	}
	if r := raw.Recovery; r != nil {
		dur(&b.Recovery.Delay, r.Delay, append(at, "recovery", "delay"))
		dur(&b.Recovery.Every, r.Every, append(at, "recovery", "every"))
		if r.Start != nil {
			b.Recovery.Start = *r.Start
		}
		if r.Step != nil {
			b.Recovery.Step = *r.Step
		}
	}
	return ok
}

// builtins are the attributes every context has.
var builtins = []Attribute{
	{Name: "key", Type: ruleset.AttrString, Description: "the stable id of the user or entity", Builtin: true},
	{Name: "now", Type: ruleset.AttrDatetime, Description: "the evaluation time", Builtin: true},
}

// loadAttributes checks attributes.yaml (f may be nil: only built-ins).
func (c *checker) loadAttributes(f *yfile) {
	c.attributes = append([]Attribute(nil), builtins...)
	for _, b := range builtins {
		c.attrs[b.Name] = b.Type
	}
	c.attrsOK = true
	if f == nil {
		return
	}
	var raw attributesYAML
	if !c.decode(f, &raw) {
		c.attrsOK = false
		return
	}
	declared := map[string]bool{}
	for i, a := range raw.Attributes {
		t := ruleset.AttrType(a.Type)
		if declared[a.Name] {
			c.errorf(f, p("attributes", i, "name"), "duplicate attribute %q", a.Name)
			continue
		}
		declared[a.Name] = true
		if bt, builtin := c.attrs[a.Name]; builtin {
			if t != bt {
				c.errorf(f, p("attributes", i, "type"), "built-in attribute %q is a %s, not a %s", a.Name, bt, t)
			}
			continue
		}
		c.attrs[a.Name] = t
		c.attributes = append(c.attributes, Attribute{Name: a.Name, Type: t, Description: a.Description})
	}
}

// markBroken remembers the key of a file that did not decode.
func (c *checker) markBroken(kind string, f *yfile) {
	c.broken[kind+"/"+baseName(f.rel)] = true
	if k, ok := f.value["key"].(string); ok {
		c.broken[kind+"/"+k] = true
	}
}

// decode copies the typed form of a schema-valid file (decoded by
// parseFile, in parallel) into v, which must point to the type
// decodeTyped makes for the file's schema.
func (c *checker) decode(f *yfile, v any) bool {
	if !c.decodable(f) {
		return false
	}
	switch v := v.(type) {
	case *settingsYAML:
		*v = *f.typed.(*settingsYAML)
	case *attributesYAML:
		*v = *f.typed.(*attributesYAML)
	case *audienceYAML:
		*v = *f.typed.(*audienceYAML)
	case *flagYAML:
		*v = *f.typed.(*flagYAML)
	case *overrideYAML:
		*v = *f.typed.(*overrideYAML)
	default:
		panic(fmt.Sprintf("loader: decode into %T", v))
	}
	return true
}

// decodable reports whether f decoded, reporting why it did not.
func (c *checker) decodable(f *yfile) bool {
	if f == nil || !f.ok {
		return false
	}
	if f.decodeErr != nil {
		msg := strings.ReplaceAll(strings.TrimPrefix(f.decodeErr.Error(), "yaml: unmarshal errors:\n  "), "\n  ", "; ")
		c.add(f.at(SeverityError, "cannot decode: "+msg))
		return false
	}
	return true
}
