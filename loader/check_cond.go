package loader

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flagpole/flagpole/ruleset"
)

// operatorTypes lists the attribute types each operator accepts; nil means
// every type.
var operatorTypes = map[string][]ruleset.AttrType{
	ruleset.OpEq: nil, ruleset.OpNeq: nil, ruleset.OpIn: nil, ruleset.OpNotIn: nil,
	ruleset.OpExists: nil, ruleset.OpNotExists: nil,
	ruleset.OpContains: {ruleset.AttrString}, ruleset.OpNotContains: {ruleset.AttrString},
	ruleset.OpStartsWith: {ruleset.AttrString}, ruleset.OpEndsWith: {ruleset.AttrString},
	ruleset.OpMatches: {ruleset.AttrString},
	ruleset.OpLt:      {ruleset.AttrNumber, ruleset.AttrSemver, ruleset.AttrDatetime},
	ruleset.OpLte:     {ruleset.AttrNumber, ruleset.AttrSemver, ruleset.AttrDatetime},
	ruleset.OpGt:      {ruleset.AttrNumber, ruleset.AttrSemver, ruleset.AttrDatetime},
	ruleset.OpGte:     {ruleset.AttrNumber, ruleset.AttrSemver, ruleset.AttrDatetime},
}

// semverRE is semver.org's grammar for MAJOR.MINOR.PATCH[-pre][+build].
var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// condition checks one condition at path and returns its wire form.
func (c *checker) condition(f *yfile, path []any, cy *conditionYAML) (ruleset.Condition, bool) {
	if cy.Audience != "" {
		if _, ok := c.audiences[cy.Audience]; !ok {
			if c.broken["audience/"+cy.Audience] {
				return ruleset.Condition{}, false
			}
			c.errorf(f, append(path, "audience"), "unknown audience %q", cy.Audience)
			return ruleset.Condition{}, false
		}
		return ruleset.Condition{Audience: cy.Audience}, true
	}
	t, declared := c.attrs[cy.Attribute]
	if !declared {
		if c.attrsOK {
			c.errorf(f, append(path, "attribute"), "undeclared attribute %q: declare it in attributes.yaml", cy.Attribute)
		}
		return ruleset.Condition{}, false
	}
	op := cy.Operator
	if types := operatorTypes[op]; types != nil && !hasType(types, t) {
		c.errorf(f, append(path, "operator"), "operator %s does not apply to %s attribute %q (it takes %s)", op, t, cy.Attribute, typeList(types))
		return ruleset.Condition{}, false
	}
	out := ruleset.Condition{Attribute: cy.Attribute, Type: t, Operator: op}
	hasValue, hasValues := cy.Value.Kind != 0, cy.Values != nil
	switch op {
	case ruleset.OpExists, ruleset.OpNotExists:
		if hasValue || hasValues {
			c.errorf(f, path, "operator %s takes no value", op)
			return out, false
		}
		return out, true
	case ruleset.OpIn, ruleset.OpNotIn:
		if hasValue {
			c.errorf(f, append(path, "value"), "operator %s takes values (a list), not value", op)
			return out, false
		}
		if !hasValues {
			c.errorf(f, path, "operator %s needs values: a list", op)
			return out, false
		}
		ok := true
		for i := range cy.Values {
			raw, vok := c.operand(f, append(path, "values", i), &cy.Values[i], cy.Attribute, t, op)
			ok = ok && vok
			out.Values = append(out.Values, raw)
		}
		return out, ok
	default:
		if hasValues {
			c.errorf(f, append(path, "values"), "operator %s takes one value, not values", op)
			return out, false
		}
		if !hasValue {
			c.errorf(f, path, "operator %s needs a value", op)
			return out, false
		}
		raw, ok := c.operand(f, append(path, "value"), &cy.Value, cy.Attribute, t, op)
		out.Values = []json.RawMessage{raw}
		return out, ok
	}
}

// operand checks one value against the attribute's type and returns it as JSON.
func (c *checker) operand(f *yfile, path []any, n *yaml.Node, attr string, t ruleset.AttrType, op string) (json.RawMessage, bool) {
	conv := converter{f: &yfile{rel: f.rel}}
	v := conv.convert(n)
	raw, err := json.Marshal(v)
	if err != nil || conv.blocking {
		c.errorf(f, path, "value cannot be encoded as JSON")
		return nil, false
	}
	s, isString := v.(string)
	var want string
	switch t {
	case ruleset.AttrString:
		if !isString {
			want = "a string (quote it)"
		} else if op == ruleset.OpMatches {
			if err := c.compileRegexp(s); err != nil {
				c.errorf(f, path, "invalid regular expression: %v", err)
				return nil, false
			}
		}
	case ruleset.AttrBoolean:
		if _, ok := v.(bool); !ok {
			want = "true or false"
		}
	case ruleset.AttrNumber:
		switch v.(type) {
		case int64, float64:
		default:
			want = "a number"
		}
	case ruleset.AttrSemver:
		if !isString || !semverRE.MatchString(s) {
			want = "a semantic version such as \"2.3.0\" (quoted when it has fewer than three parts)"
		}
	case ruleset.AttrDatetime:
		if !isString {
			want = "an RFC 3339 date-time such as 2026-01-02T15:04:05Z"
		} else if _, err := time.Parse(time.RFC3339, s); err != nil {
			want = "an RFC 3339 date-time such as 2026-01-02T15:04:05Z"
		}
	}
	if want != "" {
		c.errorf(f, path, "%s is a %s attribute: value %s must be %s", attr, t, raw, want)
		return nil, false
	}
	return raw, true
}

func (c *checker) compileRegexp(s string) error {
	if err, seen := c.regexpCache[s]; seen {
		return err
	}
	_, err := regexp.Compile(s)
	if err != nil {
		err = fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	c.regexpCache[s] = err
	return err
}

func hasType(ts []ruleset.AttrType, t ruleset.AttrType) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

func typeList(ts []ruleset.AttrType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	if len(s) == 1 {
		return s[0] + " attributes"
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1] + " attributes"
}
