package review

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

// emptyRepo stands in for a side that has nothing to compare (an invalid
// BASE): everything HEAD holds then shows as added, in words.
var emptyRepo = &loader.Repo{Documents: map[string]*ruleset.Document{}}

// compare fills the report's changes from base to head.
func compare(rep *Report, base, head *loader.Repo, now time.Time) {
	if base == nil {
		base = emptyRepo
	}
	attrChanged := map[string]string{}
	rep.Repository = append(rep.Repository, compareEnvironments(base, head)...)
	rep.Repository = append(rep.Repository, compareAttributes(base.Attributes, head.Attributes, attrChanged)...)
	rep.Repository = append(rep.Repository, compareKeys(base.Settings.Keys, head.Settings.Keys)...)
	rep.Repository = append(rep.Repository, compareTriggers(base.Settings.Triggers, head.Settings.Triggers)...)
	for _, env := range environments(base, head) {
		er := compareEnv(env, base.Documents[env], head.Documents[env], attrChanged, now)
		rep.Environments = append(rep.Environments, er)
	}
	rep.Changed = len(rep.Repository) > 0
	for i := range rep.Environments {
		if !rep.Environments[i].Empty() {
			rep.Changed = true
		}
	}
}

// environments lists HEAD's environments in declaration order, then those
// only BASE has.
func environments(base, head *loader.Repo) []string {
	envs := slices.Clone(head.Settings.Environments)
	for _, e := range base.Settings.Environments {
		if !slices.Contains(envs, e) {
			envs = append(envs, e)
		}
	}
	return envs
}

func compareEnvironments(base, head *loader.Repo) []string {
	var out []string
	if base == emptyRepo {
		return nil
	}
	for _, e := range head.Settings.Environments {
		if !slices.Contains(base.Settings.Environments, e) {
			out = append(out, "environment "+e+" added")
		}
	}
	for _, e := range base.Settings.Environments {
		if !slices.Contains(head.Settings.Environments, e) {
			out = append(out, "environment "+e+" removed")
		}
	}
	if len(out) == 0 && len(base.Settings.Environments) > 0 && head.Settings.Environments[0] != base.Settings.Environments[0] {
		out = append(out, fmt.Sprintf("default environment %s → %s", base.Settings.Environments[0], head.Settings.Environments[0]))
	}
	return out
}

// compareAttributes reports declared attributes added, removed or retyped,
// and records in changed each attribute whose type changed.
func compareAttributes(base, head []loader.Attribute, changed map[string]string) []string {
	var out []string
	old := map[string]loader.Attribute{}
	for _, a := range base {
		old[a.Name] = a
	}
	seen := map[string]bool{}
	for _, a := range head {
		seen[a.Name] = true
		b, ok := old[a.Name]
		switch {
		case !ok && len(base) > 0:
			out = append(out, fmt.Sprintf("attribute %s (%s) declared", a.Name, a.Type))
		case ok && b.Type != a.Type:
			out = append(out, fmt.Sprintf("attribute %s: type %s → %s", a.Name, b.Type, a.Type))
			changed[a.Name] = fmt.Sprintf("%s → %s", b.Type, a.Type)
		}
	}
	for _, b := range base {
		if !seen[b.Name] {
			out = append(out, fmt.Sprintf("attribute %s no longer declared", b.Name))
		}
	}
	return out
}

// compareEnv compares one environment's documents; either may be nil.
func compareEnv(env string, b, h *ruleset.Document, attrChanged map[string]string, now time.Time) EnvReport {
	er := EnvReport{Environment: env}
	switch {
	case b == nil && h == nil:
		return er
	case b == nil:
		er.Status = Added
		b = &ruleset.Document{}
	case h == nil:
		er.Status = Removed
		h = &ruleset.Document{}
	}
	er.Audiences = compareAudiences(b, h)
	changedAud := map[string]bool{}
	for _, a := range er.Audiences {
		changedAud[a.Key] = true
	}
	er.Overrides = compareOverrides(b.Overrides, h.Overrides)
	overridden := map[string]bool{}
	for _, o := range er.Overrides {
		overridden[o.Flag] = true
	}
	er.Flags = compareFlags(b, h, changedAud, attrChanged, overridden, now)
	for i := range er.Audiences {
		er.Audiences[i].Flags = flagsUsing(er.Audiences[i].Key, b, h)
	}
	return er
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// compareFlags lists the flags added, removed, renamed, changed, and
// affected through a changed audience, attribute or override.
func compareFlags(b, h *ruleset.Document, changedAud map[string]bool, attrChanged map[string]string, overridden map[string]bool, now time.Time) []FlagChange {
	var out []FlagChange
	var added, removed []string
	for _, k := range h.Flags.Keys() {
		hf := h.Flags.Get(k)
		bf, ok := b.Flags.Lookup(k)
		if !ok {
			added = append(added, k)
			continue
		}
		fc := FlagChange{Key: k, Change: Changed}
		if !reflect.DeepEqual(bf, hf) { // the common case, unchanged, is cheap
			fc.Details = flagDetails(bf, hf, now)
		}
		fc.Via = via(bf, hf, b, h, changedAud, attrChanged)
		if overridden[k] {
			fc.Via = append(fc.Via, "override")
		}
		switch {
		case len(fc.Details) > 0:
			out = append(out, fc)
		case len(fc.Via) > 0:
			fc.Change = Affected
			out = append(out, fc)
		}
	}
	for _, k := range b.Flags.Keys() {
		if !h.Flags.Has(k) {
			removed = append(removed, k)
		}
	}
	out = append(out, throughPrerequisites(b, h, out)...)
	// A removed and an added flag that are the same but for the key are a
	// rename (typically of the file and the key together).
	renamedFrom := map[string]string{}
	for _, r := range removed {
		for _, a := range added {
			if _, taken := renamedFrom[a]; !taken && sameButKey(b.Flags.Get(r), h.Flags.Get(a)) {
				renamedFrom[a] = r
				break
			}
		}
	}
	gone := map[string]bool{}
	for _, a := range added {
		if r, ok := renamedFrom[a]; ok {
			gone[r] = true
			out = append(out, FlagChange{Key: a, Change: Renamed, RenamedFrom: r, Details: []string{
				fmt.Sprintf("renamed from %s, otherwise unchanged: code that asks for %s now gets FLAG_NOT_FOUND and its default", r, r)}})
			continue
		}
		out = append(out, FlagChange{Key: a, Change: Added, Details: ruleset.DescribeFlag(h.Flags.Get(a))})
	}
	for _, r := range removed {
		if !gone[r] {
			out = append(out, FlagChange{Key: r, Change: Removed, Details: append(
				[]string{"code that asks for it now gets FLAG_NOT_FOUND and its default; it did:"},
				ruleset.DescribeFlag(b.Flags.Get(r))...)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// via lists what changed under an unchanged part of a flag: audiences it
// reaches (directly or through audiences) that changed, and attributes of
// its conditions whose declared type changed.
func via(bf, hf *ruleset.Flag, b, h *ruleset.Document, changedAud map[string]bool, attrChanged map[string]string) []string {
	auds := map[string]bool{}
	attrs := map[string]bool{}
	collect := func(f *ruleset.Flag, doc *ruleset.Document) {
		for _, r := range allRules(f) {
			for _, a := range r.Audiences {
				reach(a, doc, auds, attrs)
			}
			for _, c := range r.Conditions {
				if c.Audience != "" {
					reach(c.Audience, doc, auds, attrs)
				} else {
					attrs[c.Attribute] = true
				}
			}
			if len(r.Rollout) > 0 || r.Ramp != nil {
				attrs[byOrKey(r.By)] = true
			}
		}
	}
	collect(bf, b)
	collect(hf, h)
	var out []string
	for _, a := range sortedKeys(auds) {
		if changedAud[a] {
			out = append(out, "audience "+a)
		}
	}
	for _, a := range sortedKeys(attrs) {
		if t, ok := attrChanged[a]; ok {
			out = append(out, "attribute "+a+" ("+t+")")
		}
	}
	return out
}

func byOrKey(by string) string {
	if by == "" {
		return "key"
	}
	return by
}

// reach adds audience key and the audiences and attributes it reaches.
func reach(key string, doc *ruleset.Document, auds, attrs map[string]bool) {
	if auds[key] {
		return
	}
	auds[key] = true
	a := doc.Audiences[key]
	if a == nil {
		return
	}
	for _, c := range a.Conditions {
		if c.Audience != "" {
			reach(c.Audience, doc, auds, attrs)
		} else {
			attrs[c.Attribute] = true
		}
	}
}

// flagsUsing lists the flags that reach audience key on either side.
func flagsUsing(key string, b, h *ruleset.Document) []string {
	set := map[string]bool{}
	for _, doc := range []*ruleset.Document{b, h} {
		for fk, f := range doc.Flags.All() {
			auds := map[string]bool{}
			for _, r := range allRules(f) {
				for _, a := range r.Audiences {
					reach(a, doc, auds, map[string]bool{})
				}
				for _, c := range r.Conditions {
					if c.Audience != "" {
						reach(c.Audience, doc, auds, map[string]bool{})
					}
				}
			}
			if auds[key] {
				set[fk] = true
			}
		}
	}
	return sortedKeys(set)
}

// compareAudiences lists the audiences added, removed and changed.
func compareAudiences(b, h *ruleset.Document) []AudienceChange {
	var out []AudienceChange
	for _, k := range sortedKeys(h.Audiences) {
		ha := h.Audiences[k]
		ba, ok := b.Audiences[k]
		if !ok {
			out = append(out, AudienceChange{Key: k, Change: Added, Details: []string{"matches " + ruleset.DescribeAudience(ha)}})
			continue
		}
		if reflect.DeepEqual(ba, ha) {
			continue
		}
		var d []string
		if ba.Name != ha.Name {
			d = append(d, fmt.Sprintf("name %q → %q", ba.Name, ha.Name))
		}
		d = append(d, conditionChanges(ba.Match, ba.Conditions, ha.Match, ha.Conditions)...)
		if len(d) > 0 {
			out = append(out, AudienceChange{Key: k, Change: Changed, Details: d})
		}
	}
	for _, k := range sortedKeys(b.Audiences) {
		if _, ok := h.Audiences[k]; !ok {
			out = append(out, AudienceChange{Key: k, Change: Removed, Details: []string{"matched " + ruleset.DescribeAudience(b.Audiences[k])}})
		}
	}
	return out
}

// compareOverrides lists the overrides set, cleared and changed.
func compareOverrides(b, h map[string]*ruleset.Override) []OverrideChange {
	var out []OverrideChange
	for _, k := range sortedKeys(h) {
		bo, ok := b[k]
		switch {
		case !ok:
			out = append(out, OverrideChange{Flag: k, Change: Set, After: ruleset.DescribeOverride(h[k])})
		case canonical(bo) != canonical(h[k]):
			out = append(out, OverrideChange{Flag: k, Change: Changed, Before: ruleset.DescribeOverride(bo), After: ruleset.DescribeOverride(h[k])})
		}
	}
	for _, k := range sortedKeys(b) {
		if _, ok := h[k]; !ok {
			out = append(out, OverrideChange{Flag: k, Change: Cleared, Before: ruleset.DescribeOverride(b[k])})
		}
	}
	return out
}

// joinNames joins names for a sentence, naming at most ten.
func joinNames(names []string) string {
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + fmt.Sprintf(" and %d more", len(names)-10)
	}
	return strings.Join(names, ", ")
}

// prerequisites lists the flags f requires, in its requires and in its
// schedule steps.
func prerequisites(f *ruleset.Flag) []string {
	var keys []string
	for _, p := range f.Requires {
		keys = append(keys, p.Flag)
	}
	for _, st := range f.Schedule {
		if st.Requires != nil {
			for _, p := range *st.Requires {
				keys = append(keys, p.Flag)
			}
		}
	}
	return keys
}

// throughPrerequisites finds the flags that are unchanged themselves but
// require, directly or through other flags, a flag in changed: their
// evaluation changes with it. It adds "prerequisite K" to the Via of
// changed entries that also qualify and returns the new Affected entries.
func throughPrerequisites(b, h *ruleset.Document, changed []FlagChange) []FlagChange {
	dirty := map[string]bool{}
	byKey := map[string]*FlagChange{}
	for i := range changed {
		dirty[changed[i].Key] = true
		byKey[changed[i].Key] = &changed[i]
	}
	var added []*FlagChange
	for grew := true; grew; {
		grew = false
		for _, k := range h.Flags.Keys() {
			bf, ok := b.Flags.Lookup(k)
			if !ok {
				continue
			}
			var via []string
			for _, p := range sortedSet(append(prerequisites(bf), prerequisites(h.Flags.Get(k))...)) {
				if dirty[p] {
					via = append(via, "prerequisite "+p)
				}
			}
			fc := byKey[k]
			if len(via) == 0 || fc != nil && len(setDiffOnly(via, fc.Via)) == 0 {
				continue
			}
			if fc == nil {
				fc = &FlagChange{Key: k, Change: Affected}
				byKey[k] = fc
				added = append(added, fc)
				dirty[k] = true
			}
			fc.Via = sortedSet(append(fc.Via, via...))
			grew = true
		}
	}
	out := make([]FlagChange, len(added))
	for i, fc := range added {
		out[i] = *fc
	}
	return out
}

// setDiffOnly returns the elements of a not in b.
func setDiffOnly(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// allRules is a flag's rules followed by those of its schedule steps.
func allRules(f *ruleset.Flag) []ruleset.Rule {
	rules := f.Rules
	for _, st := range f.Schedule {
		if st.Rules != nil {
			rules = append(slices.Clip(rules), *st.Rules...)
		}
	}
	return rules
}
