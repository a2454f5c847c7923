package ruleset

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// audiences compiles every audience and checks for cycles. Audiences are
// created first so that conditions can point at any of them.
func (c *compiler) audiences() map[string]*audience {
	return c.audiencesFrom(nil, nil)
}

// audiencesFrom compiles the audiences of c.doc, reusing the compiled
// audience of prev (a rule set compiled without problems from an earlier
// Document of the environment) for every key that changed (see
// changedAudiences) does not hold: such an audience has the same
// *Audience and refers only to audiences that did not change either, so
// its compiled form, shared and never modified, is what compiling it
// again would give, and its problems (none) and cycles (none: a cycle
// through an unchanged audience would be one of prev's) too. A nil prev
// compiles every audience.
func (c *compiler) audiencesFrom(prev map[string]*audience, changed map[string]bool) map[string]*audience {
	auds := make(map[string]*audience, len(c.doc.Audiences))
	keys := sortedKeys(c.doc.Audiences)
	todo := keys
	if prev != nil {
		todo = make([]string, 0, len(changed))
	}
	for _, key := range keys {
		if prev != nil {
			if a := prev[key]; a != nil && !changed[key] {
				auds[key] = a
				continue
			}
			todo = append(todo, key)
		}
		auds[key] = &audience{key: key}
	}
	all := root("audiences")
	for _, key := range todo {
		src, path := c.doc.Audiences[key], all.field(key)
		if src == nil {
			c.ps.add(&path, "audience is null")
			continue
		}
		if src.Key != key {
			c.ps.add(ptr(path.field("key")), "%q does not match the audience's key %q", src.Key, key)
		}
		a := auds[key]
		a.matchAny = c.match(ptr(path.field("match")), src.Match)
		a.conds = c.conditions(ptr(path.field("conditions")), src.Conditions, auds)
	}
	c.cycles(todo, auds)
	return auds
}

// cycles reports each cycle of audiences that include each other once, at
// the reference made by the cycle's alphabetically first audience, naming
// the cycle from there.
func (c *compiler) cycles(keys []string, auds map[string]*audience) {
	const (
		unvisited = iota
		active
		done
	)
	state := make(map[*audience]int, len(auds))
	reported := map[string]bool{}
	var stack []string
	var visit func(a *audience)
	visit = func(a *audience) {
		state[a] = active
		stack = append(stack, a.key)
		for _, cond := range a.conds {
			next := cond.audience
			if next == nil {
				continue
			}
			switch state[next] {
			case unvisited:
				visit(next)
			case active:
				c.reportCycle(stack, next.key, reported)
			}
		}
		stack = stack[:len(stack)-1]
		state[a] = done
	}
	for _, key := range keys {
		if a := auds[key]; state[a] == unvisited {
			visit(a)
		}
	}
}

// reportCycle reports the cycle from start to the top of stack, unless a
// rotation of it was reported already.
func (c *compiler) reportCycle(stack []string, start string, reported map[string]bool) {
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
	next := cycle[1%len(cycle)]
	for j, cond := range c.doc.Audiences[cycle[0]].Conditions {
		if cond.Audience == next {
			c.ps.addPath([]any{"audiences", cycle[0], "conditions", j, "audience"},
				"audience cycle: %s → %s", strings.Join(cycle, " → "), cycle[0])
			return
		}
	}
}

// conditions compiles a list of conditions.
func (c *compiler) conditions(path *fieldPath, srcs []Condition, auds map[string]*audience) []condition {
	if len(srcs) == 0 {
		return nil
	}
	if len(srcs) > MaxConditions {
		c.ps.add(path, "%d conditions, over the limit of %d", len(srcs), MaxConditions)
		return nil
	}
	out := make([]condition, len(srcs))
	for i := range srcs {
		c.condition(ptr(path.index(i)), &srcs[i], &out[i], auds)
	}
	return out
}

// condition compiles src into cond.
func (c *compiler) condition(path *fieldPath, src *Condition, cond *condition, auds map[string]*audience) {
	cond.src = src
	if src.Audience != "" {
		if src.Attribute != "" || src.Operator != "" || len(src.Values) > 0 {
			c.ps.add(path, "an audience reference has no attribute, operator or values")
		}
		if a, ok := auds[src.Audience]; ok {
			cond.audience = a
		} else {
			c.ps.add(ptr(path.field("audience")), "unknown audience %q", src.Audience)
		}
		return
	}
	if src.Attribute == "" {
		c.ps.add(path, "needs an attribute or an audience")
		return
	}
	cond.attr, cond.isNow = src.Attribute, src.Attribute == "now"
	typ := src.Type
	switch {
	case typ == "" && src.Attribute == "key":
		typ = AttrString
	case typ == "" && cond.isNow:
		typ = AttrDatetime
	}
	kind, ok := attrKinds[typ]
	if typ == "" {
		c.ps.add(ptr(path.field("type")), "attribute %q has no type", src.Attribute)
		return
	}
	if !ok {
		c.ps.add(ptr(path.field("type")), "unknown attribute type %q (want string, boolean, number, semver or datetime)", typ)
		return
	}
	cond.kind = kind
	op, ok := operators[src.Operator]
	if !ok {
		c.ps.add(ptr(path.field("operator")), "unknown operator %q", src.Operator)
		return
	}
	if op.types&(1<<kind) == 0 {
		c.ps.add(ptr(path.field("operator")), "operator %s does not apply to %s attribute %q (it takes %s)",
			src.Operator, typ, src.Attribute, op.types.describe())
		return
	}
	cond.op = op.kind
	if !c.operandCount(path, src, op.arity) {
		return
	}
	values := path.field("values")
	for i, raw := range src.Values {
		var v any
		msg := ""
		if err := json.Unmarshal(raw, &v); err != nil {
			msg = fmt.Sprintf("%s is not valid JSON: %v", clip(raw), err)
		} else {
			msg = cond.addOperand(v)
		}
		if msg != "" {
			c.ps.add(ptr(values.index(i)), "%s", msg)
		}
	}
	if len(cond.strs) > maxScan && (cond.op == opIn || cond.op == opNotIn) {
		cond.strSet = make(map[string]struct{}, len(cond.strs))
		for _, s := range cond.strs {
			cond.strSet[s] = struct{}{}
		}
	}
}

// operandCount checks the number of operands against the operator's arity.
func (c *compiler) operandCount(path *fieldPath, src *Condition, arity Arity) bool {
	n := len(src.Values)
	at := path.field("values")
	switch {
	case arity == NoOperand && n != 0:
		c.ps.add(&at, "operator %s takes no value", src.Operator)
	case arity == OperandList && n == 0:
		c.ps.add(&at, "operator %s needs values: a list", src.Operator)
	case arity == OneOperand && n == 0:
		c.ps.add(&at, "operator %s needs a value", src.Operator)
	case arity == OneOperand && n > 1:
		c.ps.add(&at, "operator %s takes one value, not %d", src.Operator, n)
	default:
		return true
	}
	return false
}

// toTime converts a datetime context value: time.Time or an RFC 3339 string.
func toTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		return parseDatetime(x)
	}
	return time.Time{}, false
}
