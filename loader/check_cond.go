package loader

import (
	"encoding/json"

	"gopkg.in/yaml.v3"

	"github.com/flagpole/flagpole/ruleset"
)

// condition turns one condition into its wire form. Only what belongs to
// the repository is checked here: that the attribute is declared in
// attributes.yaml (which gives the condition its type) and that the file
// uses value for one operand and values for a list. Operators, operands,
// regular expressions and audience references are checked by
// ruleset.Compile, whose problems Load places back in the file.
func (c *checker) condition(f *yfile, path []any, cy *conditionYAML) ruleset.Condition {
	if cy.Audience != "" {
		return ruleset.Condition{Audience: cy.Audience}
	}
	t, declared := c.attrs[cy.Attribute]
	if !declared && c.attrsOK && cy.Attribute != "" {
		c.errorf(f, append(path, "attribute"), "undeclared attribute %q: declare it in attributes.yaml", cy.Attribute)
	}
	out := ruleset.Condition{Attribute: cy.Attribute, Type: t, Operator: cy.Operator}
	arity, known := ruleset.OperatorArity(cy.Operator)
	switch {
	case !known:
	case cy.Value.Kind != 0 && arity == ruleset.OperandList:
		c.errorf(f, append(path, "value"), "operator %s takes values (a list), not value", cy.Operator)
	case cy.Values != nil && arity == ruleset.OneOperand:
		c.errorf(f, append(path, "values"), "operator %s takes one value, not values", cy.Operator)
		if len(cy.Values) > 0 {
			out.Values = []json.RawMessage{operandJSON(&cy.Values[0])}
		}
		return out
	}
	if cy.Value.Kind != 0 {
		out.Values = append(out.Values, operandJSON(&cy.Value))
	}
	for i := range cy.Values {
		out.Values = append(out.Values, operandJSON(&cy.Values[i]))
	}
	return out
}

// operandJSON returns a value node as JSON; the file's conversion to JSON
// values has already reported what JSON cannot hold.
func operandJSON(n *yaml.Node) json.RawMessage {
	conv := converter{f: &yfile{}}
	raw, err := json.Marshal(conv.convert(n))
	if err != nil {
		return json.RawMessage("null")
	}
	return raw
}
