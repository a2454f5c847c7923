package loader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/flagpole/flagpole/schema"
)

// yfile is one YAML file of the repository: its node tree (for positions),
// its value as JSON (for the schema) and the problems found so far.
type yfile struct {
	rel   string         // path relative to the repository root, slash-separated
	root  *yaml.Node     // the root mapping; nil when the file did not parse
	value map[string]any // root as JSON values
	diags Diagnostics
	ok    bool // parsed and converted: decoded, fields with schema errors aside
	// broken holds the field paths of schema violations and duplicate keys:
	// semantic errors at, above or below them are not reported, since they
	// follow from a value that cannot be trusted.
	broken []string
	// typed is the file decoded into its raw shape (*flagYAML, ...) when
	// ok; nil again once a Cache released it (release). key is a flag
	// file's key, kept when typed is released.
	typed     any
	key       string
	decodeErr error
	// src is the text root was parsed from, kept once root is dropped
	// (dropRoot, Cache.releaseRoots): rootNode parses it again when a
	// position is needed. schema is the name src was validated against.
	src    []byte
	schema string
	// rooted, for a file a Cache holds, logs rootNode's trees for
	// Cache.releaseRoots to drop.
	rooted *rootLog
}

// trusts reports whether a semantic error at path is worth reporting: it
// is neither at nor under a broken field, nor above one (the root aside).
func (f *yfile) trusts(path string) bool {
	for _, b := range f.broken {
		if _, ok := under(path, b); ok {
			return false
		}
		if _, ok := under(b, path); ok && path != "" {
			return false
		}
	}
	return true
}

// parseFile parses data as one YAML document holding a mapping and validates
// it against the named schema. It never panics on any input.
func parseFile(rel string, data []byte, schemaName string) (f *yfile) {
	f = &yfile{rel: rel}
	defer func() {
		// The YAML and schema libraries are fuzzed but not ours: a panic in
		// them must reject one file, not crash the syncer.
		if r := recover(); r != nil {
			f = &yfile{rel: rel}
			f.errorAt(0, 0, "", fmt.Sprintf("internal error reading the file: %v", r))
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			f.errorAt(1, 1, "", "file is empty")
		} else {
			f.yamlError(err, data)
		}
		return f
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case err == nil:
		line, col := second.Line, second.Column
		if len(second.Content) > 0 {
			line, col = second.Content[0].Line, second.Content[0].Column
		}
		f.errorAt(line, col, "", "a second YAML document is not allowed: one file holds one document")
	case !errors.Is(err, io.EOF):
		f.yamlError(err, data)
	}
	if len(doc.Content) == 0 {
		f.errorAt(1, 1, "", "file is empty")
		return f
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		f.errorAt(root.Line, root.Column, "", "file is empty")
		return f
	}
	if root.Kind != yaml.MappingNode {
		f.errorAt(root.Line, root.Column, "", fmt.Sprintf("the file must hold a mapping of fields, not %s", kindName(root)))
		return f
	}
	f.root = root
	c := converter{f: f}
	v, _ := c.convert(root).(map[string]any)
	f.value = v
	if c.blocking {
		return f
	}
	c.dropDuplicates()
	valid := len(f.diags) == 0
	for _, viol := range schema.Validate(schemaName, v) {
		f.schemaViolation(viol)
		valid = false
	}
	// Every field that decodes gets its semantic checks: a file with a
	// schema error still shows its other problems in the same run.
	f.ok = true
	f.typed, f.decodeErr = decodeTyped(schemaName, root)
	if fy, ok := f.typed.(*flagYAML); ok {
		f.key = fy.Key
	}
	if !valid {
		f.decodeErr = nil // type errors of fields the schema already reported
	}
	f.value = nil // only files that did not decode need it; less for the GC to scan
	return f
}

// dropRoot lets the GC have the file's node tree, keeping the bytes it
// was parsed from (src, a fraction of the tree's size) so that rootNode can
// parse them again when a diagnostic needs a position. The tree is most of
// a parsed file's memory: at 100,000 flags, holding every tree until the
// checks are done took gigabytes; a valid repository never parses again.
func (f *yfile) dropRoot(data []byte, schemaName string) {
	if f.root != nil {
		f.src, f.schema, f.root = data, schemaName, nil
	}
}

// release lets the GC have a valid flag file's decoded form, which a
// Cache holding 10,000 flags kept at about 16 MB (its yaml.Node values
// and slices) for flags whose checks it has cached anyway: the form is
// needed again only when a flag's checks run again with its file
// unchanged (attributes.yaml or flagpole.yaml changed, a new day), and
// decodeAgain then makes it from src. Files with problems keep theirs.
func (f *yfile) release() {
	if _, ok := f.typed.(*flagYAML); ok && f.src != nil && f.ok && len(f.diags) == 0 && f.decodeErr == nil {
		f.typed = nil
	}
}

// decodeAgain decodes src, which parseFile decoded into the same form
// before release dropped it: the file is the same, so is the result.
// It does not touch f (flag checks call it in parallel).
func (f *yfile) decodeAgain() any {
	if f.typed != nil {
		return f.typed
	}
	if root := parseRoot(f.src); root != nil {
		if v, err := decodeTyped(f.schema, root); err == nil {
			return v
		}
	}
	// Not reached: the file parsed and decoded when it was read.
	return &flagYAML{Key: f.key}
}

// parseRoot parses src, which parseFile read as a mapping, again for its
// node tree only: positions are all a diagnostic needs, not the schema or
// the decoded form. Repeated keys stay in the tree, which locates the same
// nodes as parseFile's (child finds a key's first occurrence; parseFile
// drops the later ones).
func parseRoot(src []byte) *yaml.Node {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(src)).Decode(&doc); err != nil || len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// decodeTyped decodes a schema-valid root into the raw shape of its file.
func decodeTyped(schemaName string, root *yaml.Node) (any, error) {
	var v any
	switch schemaName {
	case schema.Flagpole:
		v = &settingsYAML{}
	case schema.Attributes:
		v = &attributesYAML{}
	case schema.Audience:
		v = &audienceYAML{}
	case schema.Flag:
		v = &flagYAML{}
	case schema.Override:
		v = &overrideYAML{}
	case schema.Test:
		v = &testFileYAML{}
	default:
		return nil, fmt.Errorf("no shape for schema %q", schemaName)
	}
	return v, root.Decode(v)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are yaml.v3's parser (not scanner) error messages. For
// them the "line N" of the message is 0-based: the line where the
// unfinished construct (a flow mapping or list, a block mapping) starts,
// or, when that is the first line, the line of the unexpected token. The
// scanner's "line N" is 1-based.
var parserProblems = map[string]byte{
	"did not find expected ',' or '}'":       '{',
	"did not find expected ',' or ']'":       '[',
	"did not find expected key":              0,
	"did not find expected node content":     0,
	"did not find expected '-' indicator":    0,
	"did not find expected <document start>": 0,
	"did not find expected <stream-start>":   0,
}

// yamlError reports a YAML syntax error at the line the parser names,
// pointing at the unclosed bracket when the construct is a flow one.
func (f *yfile) yamlError(err error, data []byte) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	open, parserErr := parserProblems[msg]
	if parserErr {
		line++
	}
	col := 0
	if line > 0 {
		col = 1
		if text, ok := lineText(data, line); ok {
			col = len(text) - len(strings.TrimLeft(text, " ")) + 1
			if i := unclosed(text, open); i >= 0 {
				col = i + 1
			}
			if i := strings.IndexByte(text, '\t'); i >= 0 && strings.TrimLeft(text[:i], " ") == "" {
				col = i + 1
				msg = "tab character in indentation: YAML is indented with spaces only (" + msg + ")"
			}
		}
	}
	f.diags = append(f.diags, Diagnostic{File: f.rel, Line: line, Column: col, Message: "invalid YAML: " + msg})
}

// unclosed returns the index of the last bracket open ('{' or '[') in text
// that the line does not close, or -1.
func unclosed(text string, open byte) int {
	if open == 0 {
		return -1
	}
	closing := byte('}')
	if open == '[' {
		closing = ']'
	}
	var stack []int
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case open:
			stack = append(stack, i)
		case closing:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if len(stack) == 0 {
		return -1
	}
	return stack[len(stack)-1]
}

// lineText returns the 1-based line n of data.
func lineText(data []byte, n int) (string, bool) {
	for i := 1; len(data) > 0; i++ {
		j := bytes.IndexByte(data, '\n')
		line := data
		if j >= 0 {
			line, data = data[:j], data[j+1:]
		} else {
			data = nil
		}
		if i == n {
			return string(line), true
		}
	}
	return "", false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a mapping"
}

func (f *yfile) errorAt(line, col int, path, msg string) {
	f.diags = append(f.diags, Diagnostic{File: f.rel, Line: line, Column: col, Path: path, Message: msg})
}

// schemaViolation reports v at the node its JSON pointer names; an unknown
// field is reported at its key, a missing one at the mapping that lacks it.
func (f *yfile) schemaViolation(v schema.Violation) {
	tokens := pointerTokens(v.Path)
	path := make([]any, len(tokens))
	for i, t := range tokens {
		path[i] = t
	}
	loc := f.locate(path...)
	n := loc.value
	if strings.HasPrefix(v.Message, "unknown field ") && loc.key != nil {
		n = loc.key
	}
	f.errorAt(n.Line, n.Column, loc.path, v.Message)
	f.broken = append(f.broken, loc.path)
}

func pointerTokens(p string) []string {
	if p == "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

// location is where a field path leads in a file.
type location struct {
	path  string     // field path such as "rules[2].serve"
	key   *yaml.Node // the mapping key of the last element, if any
	value *yaml.Node // the deepest node found on the way (never nil)
}

// locate follows path (string keys and int indexes; strings of digits
// index lists too) from the root and formats it as a field path. When the
// path leaves the tree, the deepest node found stands in.
func (f *yfile) locate(path ...any) location {
	root := f.rootNode()
	loc := location{value: root}
	if loc.value == nil {
		loc.value = &yaml.Node{Line: 1, Column: 1}
	}
	var b strings.Builder
	found := root != nil
	for _, el := range path {
		var key string
		idx := -1
		switch el := el.(type) {
		case int:
			idx = el
		case string:
			key = el
			if found && loc.value.Kind == yaml.SequenceNode {
				if i, err := strconv.Atoi(el); err == nil {
					idx = i
				}
			}
		}
		if idx >= 0 {
			fmt.Fprintf(&b, "[%d]", idx)
		} else {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(key)
		}
		if !found {
			continue
		}
		k, v := child(loc.value, key, idx)
		if v == nil {
			found = false
			loc.key = nil
			continue
		}
		loc.key, loc.value = k, v
	}
	loc.path = b.String()
	return loc
}

// child returns the key and value nodes of n's field key or item idx.
func child(n *yaml.Node, key string, idx int) (*yaml.Node, *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		if idx >= 0 {
			key = strconv.Itoa(idx)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i], n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		if idx >= 0 && idx < len(n.Content) {
			return nil, n.Content[idx]
		}
	}
	return nil, nil
}

// at reports an error at path.
func (f *yfile) at(sev Severity, msg string, path ...any) Diagnostic {
	loc := f.locate(path...)
	return Diagnostic{File: f.rel, Line: loc.value.Line, Column: loc.value.Column, Path: loc.path, Message: msg, Severity: sev}
}

// atKey is like at but points at the mapping key of the last element.
func (f *yfile) atKey(sev Severity, msg string, path ...any) Diagnostic {
	loc := f.locate(path...)
	n := loc.value
	if loc.key != nil {
		n = loc.key
	}
	return Diagnostic{File: f.rel, Line: n.Line, Column: n.Column, Path: loc.path, Message: msg, Severity: sev}
}

// converter turns a node tree into JSON values, reporting what JSON cannot
// hold and what strict decoding forbids (duplicate keys).
type converter struct {
	dups     []dupKey // the repeated keys, to drop before decoding
	f        *yfile
	blocking bool   // a problem that makes the value unfit for the schema
	path     []step // where the conversion is, for error messages
}

// step is one element of a field path: a mapping key, or a list index when
// idx >= 0. Kept unboxed: paths are only formatted when there is an error.
type step struct {
	key string
	idx int
}

func (c *converter) fail(n *yaml.Node, msg string, blocking bool) {
	path := make([]any, len(c.path))
	for i, s := range c.path {
		if s.idx >= 0 {
			path[i] = s.idx
		} else {
			path[i] = s.key
		}
	}
	loc := c.f.locate(path...)
	c.f.errorAt(n.Line, n.Column, loc.path, msg)
	c.blocking = c.blocking || blocking
}

func (c *converter) convert(n *yaml.Node) any {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				c.fail(k, "mapping keys must be plain values, not "+kindName(k), true)
				continue
			}
			c.path = append(c.path, step{key: k.Value, idx: -1})
			if _, dup := m[k.Value]; dup {
				c.fail(k, fmt.Sprintf("duplicate key %q (first at line %d)", k.Value, firstKeyLine(n, k.Value)), false)
				c.f.broken = append(c.f.broken, c.f.diags[len(c.f.diags)-1].Path)
				c.dups = append(c.dups, dupKey{n, i})
			} else {
				m[k.Value] = c.convert(v)
			}
			c.path = c.path[:len(c.path)-1]
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, item := range n.Content {
			c.path = append(c.path, step{idx: i})
			s[i] = c.convert(item)
			c.path = c.path[:len(c.path)-1]
		}
		return s
	case yaml.AliasNode:
		c.fail(n, "YAML aliases are not supported: write the value out", true)
		return nil
	case yaml.ScalarNode:
		return c.scalar(n)
	}
	c.fail(n, "unsupported YAML node", true)
	return nil
}

// dupKey is a repeated key: the pair at Content[i] of mapping n.
type dupKey struct {
	n *yaml.Node
	i int
}

// dropDuplicates removes repeated keys from the tree, later ones first, so
// that the rest of the mapping decodes (yaml.v3 rejects the whole mapping).
func (c *converter) dropDuplicates() {
	for j := len(c.dups) - 1; j >= 0; j-- {
		d := c.dups[j]
		d.n.Content = append(d.n.Content[:d.i:d.i], d.n.Content[d.i+2:]...)
	}
}

// firstKeyLine returns the line of the first key of mapping n named key.
func firstKeyLine(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return k.Line
		}
	}
	return 0
}

func (c *converter) scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!str", "!!timestamp":
		return n.Value
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return b
		}
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i
		}
		var i int64
		if err := n.Decode(&i); err == nil {
			return i
		}
		var fl float64
		if err := n.Decode(&fl); err == nil && !math.IsInf(fl, 0) {
			return fl
		}
	case "!!float":
		var fl float64
		if err := n.Decode(&fl); err == nil {
			if math.IsNaN(fl) || math.IsInf(fl, 0) {
				c.fail(n, fmt.Sprintf("%s is not a number JSON can hold", n.Value), true)
				return nil
			}
			return fl
		}
	default:
		c.fail(n, fmt.Sprintf("unsupported YAML tag %s", n.Tag), true)
		return nil
	}
	c.fail(n, fmt.Sprintf("cannot read %q as %s", n.Value, strings.TrimPrefix(n.ShortTag(), "!!")), true)
	return nil
}

// under reports whether path is prefix or a field of it, and returns the
// rest without the separating dot.
func under(path, prefix string) (string, bool) {
	if path == prefix {
		return "", true
	}
	if strings.HasPrefix(path, prefix) {
		switch r := path[len(prefix):]; r[0] {
		case '.':
			return r[1:], true
		case '[':
			return r, true
		}
	}
	return "", false
}
