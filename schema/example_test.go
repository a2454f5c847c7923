package schema_test

import (
	"fmt"

	"github.com/flagpole/flagpole/schema"
)

func ExampleValidate() {
	flag := map[string]any{
		"key":     "checkout-v2",
		"enabled": "yes",
		"rules":   []any{map[string]any{"serve": "on", "colour": "red"}},
	}
	for _, v := range schema.Validate(schema.Flag, flag) {
		fmt.Println(v)
	}
	// Output:
	// /enabled: expected boolean, but got string
	// /rules/0/colour: unknown field "colour"
}

func ExampleNames() {
	for _, n := range schema.Names() {
		fmt.Println(n, len(schema.Source(n)) > 0)
	}
	// Output:
	// flagpole true
	// attributes true
	// audience true
	// flag true
	// override true
	// test true
}
