package loader

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/flagpole/flagpole/ruleset"
)

// compileAll compiles every Document. ruleset.Compile owns the semantic
// rules (operators and operand types, variants, rollouts, audience
// references and cycles, overrides): its problems, which carry field paths
// of the Document, are placed back at the file, line and column they come
// from. prev, when not nil, holds earlier rule sets by environment to
// compile from (ruleset.CompileFrom); changes, how a Document was made
// from the one its earlier rule set was compiled from
// (ruleset.CompileChanged).
func (c *checker) compileAll(docs map[string]*ruleset.Document, envs []string, opts ruleset.Options, prev map[string]*ruleset.RuleSet, changes map[string]*ruleset.Change) map[string]*ruleset.RuleSet {
	sets := make([]*ruleset.RuleSet, len(envs))
	errs := make([]error, len(envs))
	var wg sync.WaitGroup
	for i, env := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ch := changes[env]; ch != nil {
				if base := ch.Base.Value(); base != nil {
					sets[i], errs[i] = ruleset.CompileChanged(prev[env], base, docs[env], ch.Flags, opts)
					return
				}
			}
			sets[i], errs[i] = ruleset.CompileFrom(prev[env], docs[env], opts)
		}()
	}
	wg.Wait()
	out := make(map[string]*ruleset.RuleSet, len(docs))
	for i, env := range envs {
		rs, err := sets[i], errs[i]
		var ce *ruleset.CompileError
		switch {
		case errors.As(err, &ce):
			for _, fe := range ce.Problems {
				c.compileProblem(env, fe)
			}
		case err != nil:
			c.add(Diagnostic{Message: fmt.Sprintf("compiling environment %s: %v", env, err)})
		default:
			out[env] = rs
		}
	}
	return out
}

// compileProblem reports a Compile problem at the field of the flag,
// audience or override file it comes from. Problems of fields the loader
// fills itself (a condition's type, a default left out) are dropped: their
// cause is reported at its own place.
func (c *checker) compileProblem(env string, fe ruleset.FieldError) {
	fe.Message = c.prereqMessage(env, fe)
	f, path, atKey, ok := c.source(env, fe.Path)
	if fs := c.flags[pathKey(fe.Path, "flags")]; fs != nil && overlayOf(fs, env) != nil && overlayOf(fs, env).Variants.Kind != 0 {
		fe.Message = strings.Replace(fe.Message, "(variants: ", "(variants in environment "+env+": ", 1)
	}
	switch {
	case !ok:
	case f == nil:
		c.add(Diagnostic{Path: fe.PathString(), Message: fmt.Sprintf("environment %s: %s", env, fe.Message)})
	case atKey:
		c.addIn(f, f.atKey(SeverityError, fe.Message, path...))
	default:
		c.addIn(f, f.at(SeverityError, fe.Message, path...))
	}
}

// source maps a field path of env's Document to the file and field path it
// was built from; atKey says the problem is the mapping key itself (a
// variant's name, a rollout's variant). ok is false for problems to drop.
func (c *checker) source(env string, path []any) (f *yfile, out []any, atKey, ok bool) {
	if len(path) < 2 {
		return nil, nil, false, true
	}
	key, _ := path[1].(string)
	rest := path[2:]
	switch path[0] {
	case "flags":
		if fs := c.flags[key]; fs != nil {
			out, atKey, ok = flagSource(env, fs, rest)
			return fs.f, out, atKey, ok
		}
	case "audiences":
		if a := c.audiences[key]; a != nil {
			if len(rest) >= 2 && rest[0] == "conditions" {
				if j, _ := rest[1].(int); j < len(a.raw.Conditions) {
					out, ok = condSource(&a.raw.Conditions[j], rest[2:])
					return a.f, append(p("conditions", j), out...), false, ok
				}
			}
			return a.f, rest, false, true
		}
	case "overrides":
		if f := c.overrideFiles[env][key]; f != nil {
			return f, rest, false, true
		}
	}
	return nil, nil, false, true
}

// flagSource maps a field path of a Flag to the flag file, following the
// environment's overlay.
func flagSource(env string, fs *flagSrc, rest []any) ([]any, bool, bool) {
	e := mergeOverlay(env, &fs.form().overlayYAML, overlayOf(fs, env))
	field, _ := first(rest)
	switch field {
	case "variants":
		if e.variants.Kind == 0 {
			return p("type"), false, true
		}
		if len(rest) >= 2 {
			i, _ := rest[1].(int)
			if 2*i+1 < len(e.variants.Content) {
				name := e.variants.Content[2*i].Value
				return append(e.variantsAt[:len(e.variantsAt):len(e.variantsAt)], name), len(rest) > 2 && rest[2] == "name", true
			}
		}
		return e.variantsAt, false, true
	case "off":
		if e.off == "" {
			return e.variantsAt, false, true
		}
		return e.offAt, false, true
	case "default":
		return e.defAt, false, e.def != "" // else the default is off's, reported there
	case "rules":
		if len(rest) >= 2 {
			if i, _ := rest[1].(int); i < len(e.rules) {
				out, atKey, ok := ruleSource(&e.rules[i], rest[2:])
				return append(append(e.rulesAt[:len(e.rulesAt):len(e.rulesAt)], i), out...), atKey, ok
			}
		}
		return e.rulesAt, false, true
	case "requires":
		return append(e.requiresAt[:len(e.requiresAt):len(e.requiresAt)], rest[1:]...), false, true
	case "metadata":
		return append(e.metadataAt[:len(e.metadataAt):len(e.metadataAt)], rest[1:]...), false, true
	case "schedule":
		at := e.scheduleAt[:len(e.scheduleAt):len(e.scheduleAt)]
		if len(rest) >= 4 && rest[2] == "rules" {
			i, _ := rest[1].(int)
			j, _ := rest[3].(int)
			if i < len(e.schedule) && e.schedule[i].Rules != nil && j < len(*e.schedule[i].Rules) {
				out, atKey, ok := ruleSource(&(*e.schedule[i].Rules)[j], rest[4:])
				return append(append(at, i, "rules", j), out...), atKey, ok
			}
		}
		return append(at, rest[1:]...), false, true
	}
	return rest, false, true
}

func overlayOf(fs *flagSrc, env string) *overlayYAML {
	if ov, ok := fs.form().Environments[env]; ok {
		return &ov
	}
	return nil
}

// ruleSource maps a field path of a Rule to the rule in the file.
func ruleSource(ry *ruleYAML, rest []any) ([]any, bool, bool) {
	field, _ := first(rest)
	switch {
	case field == "rollout" && len(rest) >= 2:
		j, _ := rest[1].(int)
		if 2*j+1 < len(ry.Rollout.Content) {
			return p("rollout", ry.Rollout.Content[2*j].Value), len(rest) > 2 && rest[2] == "variant", true
		}
	case field == "conditions" && len(rest) >= 2:
		if j, _ := rest[1].(int); j < len(ry.Conditions) {
			out, ok := condSource(&ry.Conditions[j], rest[2:])
			return append(p("conditions", j), out...), false, ok
		}
	}
	return rest, false, true
}

// condSource maps a field path of a Condition to the condition in the
// file, where one operand is value and a list is values.
func condSource(cy *conditionYAML, rest []any) ([]any, bool) {
	field, _ := first(rest)
	switch {
	case field == "type":
		return nil, false // the loader fills it from attributes.yaml
	case field != "values":
		return rest, true
	case cy.Value.Kind != 0:
		return p("value"), true
	case cy.Values == nil:
		return nil, true // the condition itself: it lacks the operand
	}
	return rest, true
}

// pathKey returns the key of a path under kind ("flags", ...), or "".
func pathKey(path []any, kind string) string {
	if len(path) < 2 || path[0] != kind {
		return ""
	}
	k, _ := path[1].(string)
	return k
}

func first(path []any) (string, bool) {
	if len(path) == 0 {
		return "", false
	}
	s, ok := path[0].(string)
	return s, ok
}
