// Package schema owns the JSON Schemas (draft 2020-12) of the files of a
// flags repository: flagpole.yaml, attributes.yaml, audiences, flags,
// overrides and tests. The schemas are embedded in the binary so that `flagpole
// schema` can print them for editors, and the loader validates every file
// against them before its semantic checks.
package schema

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/flagpole/flagpole/ruleset"
)

// Schema names, as accepted by Source and Validate.
const (
	Flagpole   = "flagpole"   // flagpole.yaml
	Attributes = "attributes" // attributes.yaml
	Audience   = "audience"   // audiences/<key>.yaml
	Flag       = "flag"       // flags/<key>.yaml
	Override   = "override"   // overrides/<env>/<flag>.yaml
	Test       = "test"       // tests/<name>.yaml
)

//go:embed *.schema.json
var files embed.FS

var names = []string{Flagpole, Attributes, Audience, Flag, Override, Test}

// Violation is one way an instance fails its schema.
type Violation struct {
	// Path is the JSON pointer of the offending value ("" for the root,
	// "/rules/0/serve"). For an unknown or missing field it points at the
	// field itself, not at the object holding it.
	Path string
	// Message says what is wrong, such as `unknown field "colour"`.
	Message string
}

// String formats v as "path: message".
func (v Violation) String() string {
	if v.Path == "" {
		return v.Message
	}
	return v.Path + ": " + v.Message
}

var (
	compileOnce sync.Once
	compiled    map[string]*jsonschema.Schema
	compileErr  error
)

// Names returns the names of the schemas, in the order a repository is read.
func Names() []string {
	return append([]string(nil), names...)
}

// Source returns the JSON text of the named schema, or nil if there is no
// such schema. The operator enum is filled in from ruleset's operator
// table, the one list of operators.
func Source(name string) []byte {
	b, err := files.ReadFile(name + ".schema.json")
	if err != nil {
		return nil
	}
	return bytes.ReplaceAll(b, []byte(`"$operators"`), operatorEnum())
}

// operatorEnum returns the names of ruleset's operators as a JSON list.
func operatorEnum() []byte {
	b, err := json.Marshal(ruleset.Operators())
	if err != nil {
		panic(err) // a list of strings always encodes
	}
	return bytes.ReplaceAll(b, []byte(","), []byte(", "))
}

// ID returns the $id of the named schema, or "" if there is no such schema.
func ID(name string) string {
	if Source(name) == nil {
		return ""
	}
	return "https://flagpole.dev/schema/" + name + ".json"
}

func compileAll() (map[string]*jsonschema.Schema, error) {
	compileOnce.Do(func() {
		compiled, compileErr = compileSchemas(inlineRefs)
	})
	return compiled, compileErr
}

// compileSchemas compiles every schema, each source rewritten by prepare.
func compileSchemas(prepare func([]byte) ([]byte, error)) (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	for _, n := range names {
		src, err := prepare(Source(n))
		if err != nil {
			return nil, fmt.Errorf("reading schema %s: %w", n, err)
		}
		if err := c.AddResource(ID(n), bytes.NewReader(src)); err != nil {
			return nil, fmt.Errorf("adding schema %s: %w", n, err)
		}
	}
	m := make(map[string]*jsonschema.Schema, len(names))
	for _, n := range names {
		s, err := c.Compile(ID(n))
		if err != nil {
			return nil, fmt.Errorf("compiling schema %s: %w", n, err)
		}
		m[n] = s
	}
	return m, nil
}

// Validate checks v, a decoded JSON value (map[string]any, []any, string,
// float64 or any Go integer, bool, nil), against the named schema and
// returns every violation, sorted by path. It returns nil when v is valid.
// Each schema is compiled once, on first use.
func Validate(name string, v any) []Violation {
	all, err := compileAll()
	if err != nil {
		return []Violation{{Message: err.Error()}}
	}
	return validateWith(all, name, v)
}

// validateWith is Validate against the schemas all.
func validateWith(all map[string]*jsonschema.Schema, name string, v any) []Violation {
	s, ok := all[name]
	if !ok {
		return []Violation{{Message: fmt.Sprintf("unknown schema %q", name)}}
	}
	err := s.Validate(v)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []Violation{{Message: err.Error()}}
	}
	var out []Violation
	collect(ve, &out)
	out = dropImplied(out)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Message < out[j].Message
	})
	return dedupe(out)
}

// collect appends the leaf errors of ve, rewritten into plain messages.
func collect(ve *jsonschema.ValidationError, out *[]Violation) {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			collect(c, out)
		}
		return
	}
	loc := ve.InstanceLocation
	switch {
	case strings.HasSuffix(ve.KeywordLocation, "/additionalProperties"):
		if fields, ok := listed(ve.Message, "additionalProperties ", " not allowed"); ok {
			for _, f := range fields {
				*out = append(*out, Violation{Path: loc + "/" + escape(f), Message: fmt.Sprintf("unknown field %q", f)})
			}
			return
		}
	case strings.HasSuffix(ve.KeywordLocation, "/required"):
		if fields, ok := listed(ve.Message, "missing properties: ", ""); ok {
			for _, f := range fields {
				*out = append(*out, Violation{Path: loc + "/" + escape(f), Message: fmt.Sprintf("missing required field %q", f)})
			}
			return
		}
	case strings.HasSuffix(ve.KeywordLocation, "/pattern"):
		for pat, msg := range patternMessages {
			if ve.Message == "does not match pattern "+quoteLike(pat) {
				*out = append(*out, Violation{Path: loc, Message: msg})
				return
			}
		}
	case strings.HasSuffix(ve.KeywordLocation, "/multipleOf") && strings.HasSuffix(ve.Message, " not multipleOf 0.001"):
		*out = append(*out, Violation{Path: loc, Message: "must have at most 3 decimals, not " + strings.TrimSuffix(ve.Message, " not multipleOf 0.001")})
		return
	case strings.HasSuffix(ve.KeywordLocation, "/const"):
		*out = append(*out, Violation{Path: loc, Message: "must be " + strings.Trim(strings.TrimPrefix(ve.Message, "value must be "), `"`)})
		return
	case strings.Contains(ve.KeywordLocation, "/dependentRequired/"):
		if fields, ok := listed(strings.SplitN(ve.Message, ",", 2)[0], "property ", " is required"); ok {
			*out = append(*out, Violation{Path: loc + "/" + escape(fields[0]), Message: fmt.Sprintf("missing required field %q", fields[0])})
			return
		}
	case strings.HasSuffix(ve.KeywordLocation, "/dependentSchemas/audience/maxProperties"):
		*out = append(*out, Violation{Path: loc, Message: audienceMix})
		return
	}
	*out = append(*out, Violation{Path: loc, Message: ve.Message})
}

// dropImplied removes the "missing operator" reported for a condition that
// mixes an audience with attribute fields: the mix is the one mistake.
func dropImplied(vs []Violation) []Violation {
	mixed := map[string]bool{}
	for _, v := range vs {
		if v.Message == audienceMix {
			mixed[v.Path] = true
		}
	}
	if len(mixed) == 0 {
		return vs
	}
	out := vs[:0]
	for _, v := range vs {
		i := strings.LastIndexByte(v.Path, '/')
		if i >= 0 && mixed[v.Path[:i]] && strings.HasPrefix(v.Message, "missing required field ") {
			continue
		}
		out = append(out, v)
	}
	return out
}

const audienceMix = "an audience condition takes no other fields (attribute, operator, value, values)"

// patternMessages explains the schemas' patterns in words.
var patternMessages = map[string]string{
	`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`: "must be a duration such as 60s, 5m or 1h30m",
	`^[0-9a-f]{64}$`:                     "must be 64 lowercase hex digits (the SHA-256 of the key)",
	`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`: "must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit",
	`^[a-z0-9][a-z0-9_-]{0,62}$`:         "must be 1 to 63 lowercase letters, digits, '_' or '-', starting with a letter or digit",
	`^[A-Za-z_][A-Za-z0-9_.-]{0,127}$`:   "must be 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or '_'",
	`^(off|clear|serve [^\s]+)$`:         "must be off, clear or serve <variant>",
}

// quoteLike quotes s the way jsonschema quotes patterns in its messages.
func quoteLike(s string) string {
	q := fmt.Sprintf("%q", s)
	q = strings.ReplaceAll(q, `\"`, `"`)
	q = strings.ReplaceAll(q, `'`, `\'`)
	return "'" + q[1:len(q)-1] + "'"
}

// listed parses the quoted names of messages such as
// "missing properties: 'a', 'b'" into a sorted list.
func listed(msg, prefix, suffix string) ([]string, bool) {
	if !strings.HasPrefix(msg, prefix) || !strings.HasSuffix(msg, suffix) {
		return nil, false
	}
	body := strings.TrimSuffix(strings.TrimPrefix(msg, prefix), suffix)
	if len(body) < 2 || body[0] != '\'' || body[len(body)-1] != '\'' {
		return nil, false
	}
	parts := strings.Split(body[1:len(body)-1], "', '")
	for _, p := range parts {
		if strings.ContainsAny(p, `'\`) {
			return nil, false // an escaped name: keep the original message
		}
	}
	sort.Strings(parts)
	return parts, true
}

// escape encodes a property name as a JSON pointer token (RFC 6901).
func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func dedupe(vs []Violation) []Violation {
	out := vs[:0]
	for i, v := range vs {
		if i > 0 && v == vs[i-1] {
			continue
		}
		out = append(out, v)
	}
	return out
}
