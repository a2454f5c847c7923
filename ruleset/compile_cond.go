package ruleset

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// audiences compiles every audience and checks for cycles. Audiences are
// created first so that conditions can point at any of them.
func (c *compiler) audiences() map[string]*audience {
	auds := make(map[string]*audience, len(c.doc.Audiences))
	keys := sortedKeys(c.doc.Audiences)
	for _, key := range keys {
		auds[key] = &audience{key: key}
	}
	for _, key := range keys {
		src, path := c.doc.Audiences[key], "audiences."+key
		if src == nil {
			c.ps.add(path, "audience is null")
			continue
		}
		if src.Key != key {
			c.ps.add(path+".key", "%q does not match the audience's key %q", src.Key, key)
		}
		a := auds[key]
		a.matchAny = c.match(path+".match", src.Match)
		a.conds = c.conditions(path+".conditions", src.Conditions, auds)
	}
	c.cycles(keys, auds)
	return auds
}

// cycles reports every audience that is part of a reference cycle, once
// per cycle, naming the cycle.
func (c *compiler) cycles(keys []string, auds map[string]*audience) {
	const (
		unvisited = iota
		active
		done
	)
	state := make(map[*audience]int, len(auds))
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
				start := len(stack) - 1
				for stack[start] != next.key {
					start--
				}
				cycle := append(append([]string(nil), stack[start:]...), next.key)
				c.ps.add("audiences."+next.key, "audience cycle: %s", strings.Join(cycle, " → "))
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

// conditions compiles a list of conditions.
func (c *compiler) conditions(path string, srcs []Condition, auds map[string]*audience) []condition {
	if len(srcs) == 0 {
		return nil
	}
	out := make([]condition, len(srcs))
	for i := range srcs {
		c.condition(fmt.Sprintf("%s[%d]", path, i), &srcs[i], &out[i], auds)
	}
	return out
}

// condition compiles src into cond.
func (c *compiler) condition(path string, src *Condition, cond *condition, auds map[string]*audience) {
	cond.src = src
	if src.Audience != "" {
		if src.Attribute != "" || src.Operator != "" || len(src.Values) > 0 {
			c.ps.add(path, "an audience reference has no attribute, operator or values")
		}
		if a, ok := auds[src.Audience]; ok {
			cond.audience = a
		} else {
			c.ps.add(path+".audience", "unknown audience %q", src.Audience)
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
		c.ps.add(path+".type", "attribute %q has no type", src.Attribute)
		return
	}
	if !ok {
		c.ps.add(path+".type", "unknown attribute type %q (want string, boolean, number, semver or datetime)", typ)
		return
	}
	cond.kind = kind
	op, ok := opKinds[src.Operator]
	if !ok {
		c.ps.add(path+".operator", "unknown operator %q", src.Operator)
		return
	}
	if !opValid(kind, op) {
		c.ps.add(path+".operator", "%s is not an operator for %s attribute %q", src.Operator, typ, src.Attribute)
		return
	}
	cond.op = op
	if !c.operandCount(path, src, op) {
		return
	}
	for i, raw := range src.Values {
		if msg := cond.addOperand(raw); msg != "" {
			c.ps.add(fmt.Sprintf("%s.values[%d]", path, i), "%s", msg)
		}
	}
	if len(cond.strs) > maxScan && (op == opIn || op == opNotIn) {
		cond.strSet = make(map[string]struct{}, len(cond.strs))
		for _, s := range cond.strs {
			cond.strSet[s] = struct{}{}
		}
	}
}

// opValid reports whether op applies to attributes of kind.
func opValid(kind attrKind, op opKind) bool {
	switch op {
	case opEq, opNeq, opIn, opNotIn, opExists, opNotExists:
		return true
	case opContains, opNotContains, opStartsWith, opEndsWith, opMatches:
		return kind == kindString
	case opLt, opLte, opGt, opGte:
		return kind == kindNumber || kind == kindSemver || kind == kindDatetime
	}
	return false
}

// operandCount checks the number of operands op takes.
func (c *compiler) operandCount(path string, src *Condition, op opKind) bool {
	n := len(src.Values)
	switch op {
	case opExists, opNotExists:
		if n != 0 {
			c.ps.add(path+".values", "%s takes no value, got %d", src.Operator, n)
			return false
		}
	case opIn, opNotIn:
		if n == 0 {
			c.ps.add(path+".values", "%s needs at least one value", src.Operator)
			return false
		}
	default:
		if n != 1 {
			c.ps.add(path+".values", "%s takes exactly one value, got %d", src.Operator, n)
			return false
		}
	}
	return true
}

// addOperand decodes one operand by the condition's kind; it returns a
// message describing what is wrong, or "".
func (cond *condition) addOperand(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Sprintf("%s is not valid JSON: %v", clip(raw), err)
	}
	switch cond.kind {
	case kindBoolean:
		b, ok := v.(bool)
		if !ok {
			return fmt.Sprintf("%s is not a boolean", clip(raw))
		}
		cond.bools = append(cond.bools, b)
		return ""
	case kindNumber:
		f, ok := v.(float64)
		if !ok {
			return fmt.Sprintf("%s is not a number", clip(raw))
		}
		cond.nums = append(cond.nums, f)
		return ""
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Sprintf("%s is not a string", clip(raw))
	}
	switch cond.kind {
	case kindSemver:
		sv, ok := parseSemver(s)
		if !ok {
			return fmt.Sprintf("%q is not a semantic version such as 1.2.3 or 1.2.3-rc.1", s)
		}
		cond.vers = append(cond.vers, sv)
	case kindDatetime:
		t, ok := parseDatetime(s)
		if !ok {
			return fmt.Sprintf("%q is not an RFC 3339 date-time such as 2026-11-21T10:00:00Z", s)
		}
		cond.times = append(cond.times, t)
	default:
		if cond.op == opMatches {
			re, err := regexp.Compile(s)
			if err != nil {
				return fmt.Sprintf("bad regular expression: %v", err)
			}
			cond.re = re
		}
		cond.strs = append(cond.strs, s)
	}
	return ""
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
