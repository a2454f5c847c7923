package sdk

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"

	"github.com/flagpole/flagpole/ruleset"
)

// changedFlags lists, sorted, the flags whose evaluation may differ between
// prev and next: every flag of next when prev is nil; otherwise flags
// added, removed or edited, flags whose override changed, and flags whose
// rules use a changed audience (directly or through other audiences). When
// p is the patch that turned prev into next, only what it names is compared.
func changedFlags(prev, next *snapshot, p *ruleset.Patch) []string {
	if prev == nil {
		return next.doc.Flags.Keys()
	}
	old, cur := prev.doc, next.doc
	flagKeys, overrideKeys, audienceKeys := candidates(old, cur, p)
	changed := map[string]bool{}
	for k := range flagKeys {
		if !sameJSON(old.Flags.Get(k), cur.Flags.Get(k)) {
			changed[k] = true
		}
	}
	for k := range overrideKeys {
		if !sameJSON(old.Overrides[k], cur.Overrides[k]) {
			changed[k] = true
		}
	}
	audiences := map[string]bool{}
	for k := range audienceKeys {
		if !sameJSON(old.Audiences[k], cur.Audiences[k]) {
			audiences[k] = true
		}
	}
	if len(audiences) > 0 {
		closeOverIncludes(cur, audiences)
		for k, f := range cur.Flags.All() {
			if usesAudience(f, audiences) {
				changed[k] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(changed))
}

// candidates returns the keys to compare: those the patch names, or the
// union of both documents' keys when there is no patch.
func candidates(old, cur *ruleset.Document, p *ruleset.Patch) (flags, overrides, audiences map[string]struct{}) {
	flags, overrides, audiences = map[string]struct{}{}, map[string]struct{}{}, map[string]struct{}{}
	if p != nil {
		for k := range p.Flags {
			flags[k] = struct{}{}
		}
		for k := range p.Overrides {
			overrides[k] = struct{}{}
		}
		for k := range p.Audiences {
			audiences[k] = struct{}{}
		}
		return flags, overrides, audiences
	}
	for _, d := range []*ruleset.Document{old, cur} {
		for k := range d.Flags.All() {
			flags[k] = struct{}{}
		}
		for k := range d.Overrides {
			overrides[k] = struct{}{}
		}
		for k := range d.Audiences {
			audiences[k] = struct{}{}
		}
	}
	return flags, overrides, audiences
}

// closeOverIncludes adds to set every audience of doc that includes one of
// set, until nothing more is added.
func closeOverIncludes(doc *ruleset.Document, set map[string]bool) {
	for grew := true; grew; {
		grew = false
		for k, a := range doc.Audiences {
			if set[k] || a == nil {
				continue
			}
			for _, cond := range a.Conditions {
				if cond.Audience != "" && set[cond.Audience] {
					set[k], grew = true, true
					break
				}
			}
		}
	}
}

// usesAudience reports whether a rule of f refers to an audience in set.
func usesAudience(f *ruleset.Flag, set map[string]bool) bool {
	if f == nil {
		return false
	}
	for _, r := range f.Rules {
		for _, a := range r.Audiences {
			if set[a] {
				return true
			}
		}
		for _, cond := range r.Conditions {
			if cond.Audience != "" && set[cond.Audience] {
				return true
			}
		}
	}
	return false
}

// sameJSON reports whether a and b encode alike (nil pointers included).
func sameJSON[T any](a, b *T) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
