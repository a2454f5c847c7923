package loader

import (
	"sort"
	"strings"

	"github.com/flagpole/flagpole/ruleset"
)

// audienceSrc is one audience file being checked.
type audienceSrc struct {
	f   *yfile
	raw audienceYAML
	out *ruleset.Audience
}

// registerAudiences decodes every audience file and indexes it by key, so
// that conditions can refer to audiences in any file.
func (c *checker) registerAudiences(files []*yfile) {
	var decoded []*audienceSrc
	for _, f := range files {
		var raw audienceYAML
		if !c.decode(f, &raw) {
			c.markBroken("audience", f)
			continue
		}
		decoded = append(decoded, &audienceSrc{f: f, raw: raw})
	}
	// Files named after their key claim it first, so that a duplicate is
	// reported in the file that is misnamed.
	sort.SliceStable(decoded, func(i, j int) bool {
		return decoded[i].raw.Key == baseName(decoded[i].f.rel) && decoded[j].raw.Key != baseName(decoded[j].f.rel)
	})
	for _, a := range decoded {
		f, raw := a.f, a.raw
		if want := baseName(f.rel); raw.Key != want {
			c.errorf(f, p("key"), "key %q does not match the file name: %s must have key %q", raw.Key, f.rel, want)
		}
		if prev, dup := c.audiences[raw.Key]; dup {
			c.errorf(f, p("key"), "duplicate audience key %q (also in %s)", raw.Key, prev.f.rel)
			continue
		}
		c.audiences[raw.Key] = a
	}
}

// checkAudiences checks the conditions of every audience and looks for
// cycles of audiences that include each other.
func (c *checker) checkAudiences() {
	for _, a := range c.sortedAudiences() {
		out := &ruleset.Audience{Key: a.raw.Key, Name: a.raw.Name, Match: ruleset.Match(a.raw.Match)}
		if out.Match == "" {
			out.Match = ruleset.MatchAll
		}
		for i := range a.raw.Conditions {
			cond, _ := c.condition(a.f, p("conditions", i), &a.raw.Conditions[i])
			out.Conditions = append(out.Conditions, cond)
		}
		a.out = out
	}
	c.findCycles()
}

func (c *checker) sortedAudiences() []*audienceSrc {
	keys := make([]string, 0, len(c.audiences))
	for k := range c.audiences {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*audienceSrc, len(keys))
	for i, k := range keys {
		out[i] = c.audiences[k]
	}
	return out
}

// findCycles reports each cycle of audience references once, at the
// reference made by the cycle's alphabetically first audience.
func (c *checker) findCycles() {
	const (
		unvisited = iota
		active
		done
	)
	state := make(map[string]int, len(c.audiences))
	reported := map[string]bool{}
	var stack []string
	var visit func(key string)
	visit = func(key string) {
		state[key] = active
		stack = append(stack, key)
		a := c.audiences[key]
		for _, cond := range a.raw.Conditions {
			next := cond.Audience
			if _, known := c.audiences[next]; next == "" || !known {
				continue
			}
			switch state[next] {
			case unvisited:
				visit(next)
			case active:
				c.reportCycle(stack, next, reported)
			}
		}
		stack = stack[:len(stack)-1]
		state[key] = done
	}
	for _, a := range c.sortedAudiences() {
		if state[a.raw.Key] == unvisited {
			visit(a.raw.Key)
		}
	}
}

func (c *checker) reportCycle(stack []string, start string, reported map[string]bool) {
	i := len(stack) - 1
	for stack[i] != start {
		i--
	}
	cycle := append([]string(nil), stack[i:]...)
	first := 0
	for j, k := range cycle {
		if k < cycle[first] {
			first = j
		}
	}
	cycle = append(cycle[first:], cycle[:first]...)
	id := strings.Join(cycle, "\x00")
	if reported[id] {
		return
	}
	reported[id] = true
	a := c.audiences[cycle[0]]
	next := cycle[(1)%len(cycle)]
	for j, cond := range a.raw.Conditions {
		if cond.Audience == next {
			c.errorf(a.f, p("conditions", j, "audience"), "audience cycle: %s → %s", strings.Join(cycle, " → "), cycle[0])
			return
		}
	}
}
