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

	settings   Settings
	settingsOK bool
	envs       map[string]bool
	attrs      map[string]ruleset.AttrType
	attributes []Attribute
	attrsOK    bool
	audiences  map[string]*audienceSrc // by key
	flags      map[string]*flagSrc     // by key
	flagOrder  []*flagSrc              // in file order
	// broken holds "audience/KEY" and "flag/KEY" for files that failed to
	// parse, so that references to them are not reported a second time.
	broken    map[string]bool
	overrides map[string]map[string]*ruleset.Override
	// overrideFiles holds the file of each override, by environment and flag.
	overrideFiles map[string]map[string]*yfile
	regexpCache   map[string]error
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
	names := map[string]bool{}
	hashes := map[string]string{}
	for i, k := range raw.Keys {
		if !c.envs[k.Environment] && f.trusts("environments") {
			c.errorf(f, p("keys", i, "environment"), "key %q is for undeclared environment %q", k.Name, k.Environment)
			ok = false
		}
		if names[k.Name] {
			c.errorf(f, p("keys", i, "name"), "duplicate key name %q", k.Name)
			ok = false
		}
		names[k.Name] = true
		if other, dup := hashes[k.SHA256]; dup {
			c.errorf(f, p("keys", i, "sha256"), "key %q has the same sha256 as key %q: every key must be unique", k.Name, other)
			ok = false
		} else {
			hashes[k.SHA256] = k.Name
		}
		s.Keys = append(s.Keys, store.Key{Name: k.Name, Environment: k.Environment, Kind: store.KeyKind(k.Kind), SHA256: k.SHA256})
	}
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
	if f == nil || !f.ok {
		return false
	}
	if f.decodeErr != nil {
		msg := strings.ReplaceAll(strings.TrimPrefix(f.decodeErr.Error(), "yaml: unmarshal errors:\n  "), "\n  ", "; ")
		c.add(f.at(SeverityError, "cannot decode: "+msg))
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
