package bearer

import (
	"fmt"
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

// This file is the bearer's only contact with the ruleset package's
// compilation and evaluation API.

// compiled is an evaluable rule set.
type compiled = *ruleset.RuleSet

// compileFrom compiles doc with the server's clock, reusing what prev
// (nil: nothing) compiled for the flags the two Documents share. base and
// changed, when base is not nil, say that doc's flags are base's but for
// the flags keyed in changed (see ruleset.CompileChanged): when base's
// flags are prev's, only those are compiled. shared, when not nil, is a
// rule set the publisher in this process compiled
// (store.Snapshot.Compiled): served as it is when doc has its flags,
// audiences and overrides (an empty override layer changes only the
// version), else the base to compile from, so that the flags the layer
// leaves alone stay shared.
func compileFrom(shared, prev compiled, base *ruleset.Document, changed []string, doc *ruleset.Document, now func() time.Time) (compiled, error) {
	if shared != nil {
		if rs, ok := shared.Rebind(doc, now); ok {
			return rs, nil
		}
		if shared.Environment() == doc.Environment {
			prev = shared
			if doc.SameFlags(shared.Document()) {
				base, changed = shared.Document(), nil
			}
		}
	}
	opts := ruleset.Options{Now: now}
	var rs *ruleset.RuleSet
	var err error
	if base != nil {
		rs, err = ruleset.CompileChanged(prev, base, doc, changed, opts)
	} else {
		rs, err = ruleset.CompileFrom(prev, doc, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("compiling rule set %s of environment %s: %w", doc.Version, doc.Environment, err)
	}
	return rs, nil
}

// evaluate evaluates one flag of rs for c.
func evaluate(rs compiled, flag string, c ruleset.Context) ruleset.Result {
	return rs.Evaluate(flag, c)
}

// parseContext decodes the JSON object of an evaluation context.
func parseContext(b []byte) (ruleset.Context, error) {
	return ruleset.ParseContext(b)
}
