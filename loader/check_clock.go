package loader

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flagpole/flagpole/ruleset"
)

// This file builds and checks the flag fields that ruleset evaluates with
// the clock or across flags: requires, schedule, ramp, metadata. Bounds,
// variants, cycles and time order are checked by ruleset.Compile and
// mapped back here by flagSource.

// prerequisites returns the wire form of a requires list.
func prerequisites(raw []prereqYAML) []ruleset.Prerequisite {
	if raw == nil {
		return nil
	}
	out := make([]ruleset.Prerequisite, len(raw))
	for i, r := range raw {
		out[i] = ruleset.Prerequisite{Flag: r.Flag, Variants: r.Variants}
	}
	return out
}

// parseTime parses an RFC 3339 time; the zero time when it does not parse
// (the schema reports that).
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// ramp returns the wire form of a rule's ramp, nil for none.
func ramp(raw *rampYAML) *ruleset.Ramp {
	if raw == nil {
		return nil
	}
	every, _ := time.ParseDuration(raw.Every) // the schema checks the pattern
	return &ruleset.Ramp{Serve: raw.Serve, Otherwise: raw.Otherwise, From: raw.From, Step: raw.Step,
		Every: ruleset.Duration(every), Start: parseTime(raw.Start)}
}

// schedule returns the wire form of a schedule found at path in f.
func (c *checker) schedule(f *yfile, path []any, raw []stepYAML) []ruleset.ScheduleStep {
	if raw == nil {
		return nil
	}
	out := make([]ruleset.ScheduleStep, len(raw))
	for i := range raw {
		st := &raw[i]
		out[i] = ruleset.ScheduleStep{At: parseTime(st.At), Enabled: st.Enabled, Off: st.Off, Default: st.Default}
		if st.Rules != nil {
			rules := make([]ruleset.Rule, 0, len(*st.Rules))
			for j := range *st.Rules {
				rules = append(rules, c.rule(f, append(path[:len(path):len(path)], i, "rules", j), &(*st.Rules)[j]))
			}
			out[i].Rules = &rules
		}
		if st.Requires != nil {
			reqs := prerequisites(*st.Requires)
			if reqs == nil {
				reqs = []ruleset.Prerequisite{}
			}
			out[i].Requires = &reqs
		}
	}
	return out
}

// metadata returns a flag's metadata with numbers as float64; nil for none.
func metadata(n *yaml.Node) map[string]any {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make(map[string]any, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		var v any
		if err := n.Content[i+1].Decode(&v); err != nil {
			continue // the schema has reported it
		}
		switch x := v.(type) {
		case int:
			v = float64(x)
		case int64:
			v = float64(x)
		case uint64:
			v = float64(x)
		}
		out[n.Content[i].Value] = v
	}
	return out
}

// checkSchedules checks what concerns the files of a flag's schedules, its
// own and each overlay's: fields a step cannot set (errors) and steps
// already in the past (warnings: still valid, but worth folding in).
func (c *checker) checkSchedules(fs *flagSrc) {
	check := func(at []any, steps *[]stepYAML) {
		if steps == nil {
			return
		}
		for i := range *steps {
			st := &(*steps)[i]
			sp := append(at[:len(at):len(at)], i)
			for _, fixed := range []struct {
				name string
				n    *yaml.Node
			}{{"key", &st.Key}, {"type", &st.Type}, {"variants", &st.Variants}} {
				if fixed.n.Kind != 0 {
					c.errorKey(fs.f, append(sp[:len(sp):len(sp)], fixed.name),
						"a schedule step cannot set %s: a flag's key, type and variants are fixed (a step may set enabled, off, default, rules and requires)", fixed.name)
				}
			}
			if t := parseTime(st.At); !t.IsZero() && !t.After(c.now) {
				c.warnf(fs.f, append(sp[:len(sp):len(sp)], "at"),
					"schedule step at %s is in the past: it is in force or superseded; fold it into the flag's fields and remove it", st.At)
			}
		}
	}
	raw := fs.form()
	check(p("schedule"), raw.Schedule)
	for _, env := range slices.Sorted(maps.Keys(raw.Environments)) {
		ov := raw.Environments[env]
		check(p("environments", env, "schedule"), ov.Schedule)
	}
}

// prereqMessage explains an unknown variant of a prerequisite: it names
// the environment when the prerequisite's variants differ by environment,
// and the environments that have the variant (through the prerequisite's
// overlay there). Other messages are returned as they are.
func (c *checker) prereqMessage(env string, fe ruleset.FieldError) string {
	hint := c.prereqHint(env, fe)
	if hint == "" {
		return fe.Message
	}
	i, j := strings.Index(fe.Message, " of flag "), strings.Index(fe.Message, " (variants: ")
	if i >= 0 && j > i {
		if fs := c.flags[fe.Message[i+len(" of flag "):j]]; fs != nil && overlayOf(fs, env) != nil && overlayOf(fs, env).Variants.Kind != 0 {
			fe.Message = strings.Replace(fe.Message, "(variants: ", "(variants in environment "+env+": ", 1)
		}
	}
	if hint == "-" {
		return fe.Message
	}
	return fe.Message + hint
}

// prereqHint returns "; <flag> has variant ... only in environment ..." for
// an unknown variant of a prerequisite that other environments have, "-"
// for another unknown variant of a prerequisite, and "" for other problems.
func (c *checker) prereqHint(env string, fe ruleset.FieldError) string {
	path := fe.Path
	n := len(path)
	if n < 6 || path[0] != "flags" || path[n-2] != "variants" || path[n-4] != "requires" {
		return ""
	}
	key, _ := path[1].(string)
	i, _ := path[n-3].(int)
	j, _ := path[n-1].(int)
	fs := c.flags[key]
	if fs == nil || fs.perEnv[env] == nil {
		return ""
	}
	reqs := fs.perEnv[env].Requires
	if n == 8 { // flags.k.schedule[s].requires[i].variants[j]
		s, _ := path[3].(int)
		if sch := fs.perEnv[env].Schedule; s < len(sch) && sch[s].Requires != nil {
			reqs = *sch[s].Requires
		} else {
			return ""
		}
	}
	if i >= len(reqs) || j >= len(reqs[i].Variants) {
		return ""
	}
	target, variant := c.flags[reqs[i].Flag], reqs[i].Variants[j]
	if target == nil {
		return ""
	}
	var in []string
	for _, other := range slices.Sorted(maps.Keys(target.perEnv)) {
		if other == env || target.perEnv[other] == nil {
			continue
		}
		for _, v := range target.perEnv[other].Variants {
			if v.Name == variant {
				in = append(in, other)
			}
		}
	}
	if len(in) == 0 {
		return "-"
	}
	return fmt.Sprintf("; %s has variant %q only in environment %s (through its overlay), not in %s",
		reqs[i].Flag, variant, strings.Join(in, ", "), env)
}
