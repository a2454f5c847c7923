package loader

import (
	"sort"

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

// checkAudiences builds the wire form of every audience. Unknown
// audiences and cycles are found by ruleset.Compile.
func (c *checker) checkAudiences() {
	for _, a := range c.sortedAudiences() {
		c.checkAudience(a)
	}
}

// checkAudience builds the wire form of one audience.
func (c *checker) checkAudience(a *audienceSrc) {
	out := &ruleset.Audience{Key: a.raw.Key, Name: a.raw.Name, Match: ruleset.Match(a.raw.Match)}
	if out.Match == "" {
		out.Match = ruleset.MatchAll
	}
	for i := range a.raw.Conditions {
		out.Conditions = append(out.Conditions, c.condition(a.f, p("conditions", i), &a.raw.Conditions[i]))
	}
	a.out = out
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
