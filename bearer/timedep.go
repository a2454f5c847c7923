package bearer

import "github.com/flagpole/flagpole/ruleset"

// dependsOnTime reports whether evaluating doc may give different results
// at different times with the same rule set: an override that expires or
// has a recovery ramp, or a condition on the built-in "now" attribute.
// Evaluated streams re-evaluate at pings only then; otherwise a result can
// change only with the rule set.
func dependsOnTime(doc *ruleset.Document) bool {
	for _, o := range doc.Overrides {
		if o != nil && (o.Expires != nil || o.Recovery != nil) {
			return true
		}
	}
	for _, a := range doc.Audiences {
		if a != nil && onNow(a.Conditions) {
			return true
		}
	}
	for _, f := range doc.Flags {
		if f == nil {
			continue
		}
		for _, r := range f.Rules {
			if onNow(r.Conditions) {
				return true
			}
		}
	}
	return false
}

// onNow reports whether one of cs tests the "now" attribute.
func onNow(cs []ruleset.Condition) bool {
	for _, c := range cs {
		if c.Attribute == "now" {
			return true
		}
	}
	return false
}
