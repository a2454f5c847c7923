package writeback

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// disableIn returns the flag file data with environments.<env>.enabled
// set to false, creating the environments mapping and the environment's
// overlay when missing. It splices the least text it can into the file, so
// that comments, quoting and layout stay byte for byte: a value replaced,
// one line or one flow entry inserted, or an environments block appended.
// When no splice fits (an empty overlay written as null, unusual layouts)
// it re-encodes the node tree, which keeps comments but not every detail
// of layout. Either way the result is checked to decode to the file's
// value with only that field changed.
func disableIn(data []byte, env string) ([]byte, error) {
	root, err := parseRoot(data)
	if err != nil {
		return nil, err
	}
	var want any
	if err := root.Decode(&want); err != nil {
		return nil, err
	}
	want, ok := withDisabled(want, env)
	if !ok {
		return nil, errors.New("the flag file's fields are not a mapping of names")
	}
	if out, ok := splice(data, root, env); ok && decodesTo(out, want) {
		return out, nil
	}
	out, err := reencode(root, env)
	if err != nil {
		return nil, err
	}
	if !decodesTo(out, want) {
		return nil, errors.New("the edited file does not read back as the flag with only enabled changed")
	}
	return out, nil
}

// parseRoot parses data as one YAML document holding a mapping.
func parseRoot(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parsing the flag file: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the flag file does not hold a mapping")
	}
	if hasAlias(&doc) {
		return nil, errors.New("the flag file has YAML anchors or aliases, which the repository does not allow")
	}
	return doc.Content[0], nil
}

// hasAlias reports whether n or a node below it is an alias or has an
// anchor: the loader rejects them, and expanding them could be costly.
func hasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c) {
			return true
		}
	}
	return false
}

// withDisabled returns the decoded file v with environments.<env>.enabled
// false: what the edited file must decode to; false when v is not a
// mapping of names.
func withDisabled(v any, env string) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return v, false
	}
	envs, _ := m["environments"].(map[string]any)
	if envs == nil {
		envs = map[string]any{}
	}
	overlay, _ := envs[env].(map[string]any)
	if overlay == nil {
		overlay = map[string]any{}
	}
	overlay["enabled"] = false
	envs[env] = overlay
	m["environments"] = envs
	return m, true
}

func decodesTo(data []byte, want any) bool {
	var got any
	if err := yaml.Unmarshal(data, &got); err != nil {
		return false
	}
	return reflect.DeepEqual(got, want)
}

// lookup returns the key and value nodes of key in mapping m.
func lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// otherBreaks reports whether data has line breaks other than "\n" and
// "\r\n" that YAML counts as lines: a lone "\r", NEL, LS or PS.
func otherBreaks(data []byte) bool {
	return bytes.Count(data, []byte("\r")) != bytes.Count(data, []byte("\r\n")) ||
		bytes.ContainsAny(data, "\u0085\u2028\u2029")
}

// text is a file as lines, for splicing at the positions yaml.v3 reports
// (1-based lines, columns in characters).
type text struct {
	data []byte
	nl   string
	ends []int // ends[i] is the offset just past line i+1's text (before its newline)
	offs []int // offs[i] is the offset of line i+1
}

func newText(data []byte) *text {
	t := &text{data: data, nl: "\n"}
	if bytes.Contains(data, []byte("\r\n")) {
		t.nl = "\r\n"
	}
	off := 0
	for {
		t.offs = append(t.offs, off)
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			t.ends = append(t.ends, len(data))
			return t
		}
		end := off + i
		if end > off && data[end-1] == '\r' {
			end--
		}
		t.ends = append(t.ends, end)
		off += i + 1
	}
}

// offset converts a node's line and column into a byte offset.
func (t *text) offset(line, col int) (int, bool) {
	if line < 1 || line > len(t.offs) || col < 1 {
		return 0, false
	}
	off := t.offs[line-1]
	for range col - 1 {
		if off >= t.ends[line-1] {
			return 0, false
		}
		_, n := utf8.DecodeRune(t.data[off:])
		off += n
	}
	return off, true
}

func (t *text) insert(off int, s string) []byte {
	out := make([]byte, 0, len(t.data)+len(s))
	out = append(out, t.data[:off]...)
	out = append(out, s...)
	return append(out, t.data[off:]...)
}

// splice edits data as text; false when the layout is not one it handles.
func splice(data []byte, root *yaml.Node, env string) ([]byte, bool) {
	if otherBreaks(data) {
		return nil, false // lines would not be counted as YAML counts them
	}
	t := newText(data)
	_, envs := lookup(root, "environments")
	if envs == nil {
		if root.Style&yaml.FlowStyle != 0 || len(root.Content) == 0 || root.Content[0].Column != 1 {
			return nil, false // appended at column 1, the block must start there
		}
		// Append an environments block at the end of the file.
		out := append([]byte(nil), data...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, t.nl...)
		}
		out = append(out, "environments:"+t.nl+strings.Repeat(" ", indentOf(root))+
			scalar(env)+": {enabled: false}"+t.nl...)
		return out, true
	}
	if envs.Kind != yaml.MappingNode {
		return nil, false
	}
	_, overlay := lookup(envs, env)
	if overlay == nil {
		return insertEntry(t, envs, scalar(env)+": {enabled: false}")
	}
	if overlay.Kind != yaml.MappingNode {
		return nil, false
	}
	_, enabled := lookup(overlay, "enabled")
	if enabled == nil {
		return insertEntry(t, overlay, "enabled: false")
	}
	if enabled.Kind != yaml.ScalarNode || enabled.Style != 0 || enabled.ShortTag() != "!!bool" {
		return nil, false
	}
	off, ok := t.offset(enabled.Line, enabled.Column)
	if !ok || !bytes.HasPrefix(data[off:], []byte(enabled.Value)) {
		return nil, false
	}
	if enabled.Value == "false" {
		return data, true
	}
	out := append([]byte(nil), data[:off]...)
	out = append(out, "false"...)
	return append(out, data[off+len(enabled.Value):]...), true
}

// insertEntry adds "key: value" entry as the first entry of mapping m:
// after its "{" when it is a flow mapping, else as a line of its own above
// its first key, at the same indentation.
func insertEntry(t *text, m *yaml.Node, entry string) ([]byte, bool) {
	if m.Style&yaml.FlowStyle != 0 {
		off, ok := t.offset(m.Line, m.Column)
		if !ok || off >= len(t.data) || t.data[off] != '{' {
			return nil, false
		}
		if len(m.Content) > 0 {
			entry += ", "
		}
		return t.insert(off+1, entry), true
	}
	if len(m.Content) == 0 {
		return nil, false
	}
	first := m.Content[0]
	off, ok := t.offset(first.Line, first.Column)
	if !ok {
		return nil, false
	}
	start := t.offs[first.Line-1]
	if strings.TrimLeft(string(t.data[start:off]), " ") != "" {
		return nil, false // the key does not begin its line
	}
	return t.insert(start, string(t.data[start:off])+entry+t.nl), true
}

// indentOf is the indentation step of the file: the column of the first
// key of a block mapping nested in root, 2 when there is none.
func indentOf(root *yaml.Node) int {
	for i := 1; i < len(root.Content); i += 2 {
		if v := root.Content[i]; v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
			if c := v.Content[0].Column - root.Content[i-1].Column; c > 0 {
				return c
			}
		}
	}
	return 2
}

// reencode sets the field in root's node tree and encodes the tree again.
func reencode(root *yaml.Node, env string) ([]byte, error) {
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	mapping := func() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }
	_, envs := lookup(root, "environments")
	if envs == nil || envs.Kind != yaml.MappingNode {
		if envs == nil {
			envs = mapping()
			root.Content = append(root.Content, str("environments"), envs)
		} else {
			*envs = *mapping()
		}
	}
	_, overlay := lookup(envs, env)
	if overlay == nil || overlay.Kind != yaml.MappingNode {
		if overlay == nil {
			overlay = mapping()
			envs.Content = append(envs.Content, str(env), overlay)
		} else {
			*overlay = *mapping()
		}
		overlay.Style = yaml.FlowStyle
	}
	off := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"}
	if _, enabled := lookup(overlay, "enabled"); enabled != nil {
		*enabled = *off
	} else {
		overlay.Content = append([]*yaml.Node{str("enabled"), off}, overlay.Content...)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(indentOf(root))
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encoding the flag file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding the flag file: %w", err)
	}
	return b.Bytes(), nil
}
