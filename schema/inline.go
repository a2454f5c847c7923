package schema

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// inlineRefs returns the schema src with each local reference
// ("$ref": "#/$defs/NAME") replaced by a copy of the definition, wherever
// the object holding the reference has nothing else but annotations
// (description, title, $comment). The result accepts and rejects exactly
// what src does and reports the same violations (collect reads keyword
// locations by their last keyword only), but validates faster: the
// validator walks each $ref as one more level, with its own copy of the
// instance's property set, and the flag schema's rules, conditions and
// variants are all references. Source keeps the references for editors;
// only the compiled schemas are inlined. A reference that would recurse
// is left as it is.
func inlineRefs(src []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber() // keep numbers such as multipleOf 0.001 exactly as written
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	defs, _ := doc["$defs"].(map[string]any)
	var expand func(v any, stack []string) any
	expand = func(v any, stack []string) any {
		switch v := v.(type) {
		case map[string]any:
			if name, ok := inlinable(v, defs); ok && !slices.Contains(stack, name) {
				return expand(defs[name], append(stack, name))
			}
			out := make(map[string]any, len(v))
			for k, x := range v {
				if k == "$defs" {
					out[k] = x // definitions stay for references left in place
					continue
				}
				out[k] = expand(x, stack)
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i, x := range v {
				out[i] = expand(x, stack)
			}
			return out
		}
		return v
	}
	return json.Marshal(expand(doc, nil))
}

// inlinable returns the definition name of a local reference that v holds
// alongside annotations only.
func inlinable(v map[string]any, defs map[string]any) (string, bool) {
	ref, ok := v["$ref"].(string)
	if !ok {
		return "", false
	}
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok || defs[name] == nil || strings.Contains(name, "/") {
		return "", false
	}
	for k := range v {
		switch k {
		case "$ref", "description", "title", "$comment":
		default:
			return "", false
		}
	}
	return name, true
}
