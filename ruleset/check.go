package ruleset

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FieldError is one thing wrong with a field of a Document (or of an
// Override given to CheckOverride).
type FieldError struct {
	// Path locates the field at fault from the value that was checked:
	// string field names and int list indexes, such as
	// {"flags", "checkout-v2", "rules", 1, "rollout"}. Map keys (flag,
	// audience and override keys) are field names.
	Path []any
	// Message says what is wrong with it.
	Message string
}

// PathString formats the path as "flags.checkout-v2.rules[1].rollout".
func (e FieldError) PathString() string { return FormatPath(e.Path) }

// String returns "path: message", or the message alone for an empty path.
func (e FieldError) String() string {
	if len(e.Path) == 0 {
		return e.Message
	}
	return e.PathString() + ": " + e.Message
}

// FormatPath formats a field path: names joined by dots, indexes in
// brackets ("rules[2].serve").
func FormatPath(path []any) string {
	var b strings.Builder
	for _, el := range path {
		switch el := el.(type) {
		case int:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(el))
			b.WriteByte(']')
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, el)
		}
	}
	return b.String()
}

// fieldPath is a field path built as the compiler descends, one level
// pointing at its parent; it becomes a []any only when a problem is found,
// so that a valid Document costs no path allocations.
type fieldPath struct {
	up  *fieldPath
	key string
	idx int // >= 0 for a list index, -1 for key
}

func root(key string) fieldPath { return fieldPath{key: key, idx: -1} }

func (p *fieldPath) field(key string) fieldPath { return fieldPath{up: p, key: key, idx: -1} }

func (p *fieldPath) index(i int) fieldPath { return fieldPath{up: p, idx: i} }

// list returns the path from the root, p last.
func (p *fieldPath) list() []any {
	n := 0
	for q := p; q != nil; q = q.up {
		n++
	}
	out := make([]any, n)
	for q := p; q != nil; q = q.up {
		n--
		if q.idx >= 0 {
			out[n] = q.idx
		} else {
			out[n] = q.key
		}
	}
	return out
}

// Arity is how many operands an operator takes.
type Arity int

// Arities.
const (
	NoOperand   Arity = iota // exists, not_exists
	OneOperand               // eq, lt, contains, ...: a value
	OperandList              // in, not_in: values, at least one
)

// String returns "none", "one" or "list".
func (a Arity) String() string {
	switch a {
	case NoOperand:
		return "none"
	case OneOperand:
		return "one"
	}
	return "list"
}

// typeSet is a set of attribute kinds, one bit per kind.
type typeSet uint8

const anyType typeSet = 1<<kindString | 1<<kindBoolean | 1<<kindNumber | 1<<kindSemver | 1<<kindDatetime

func typesOf(kinds ...attrKind) typeSet {
	var s typeSet
	for _, k := range kinds {
		s |= 1 << k
	}
	return s
}

// operator describes one operator: the attribute types it applies to and
// the operands it takes.
type operator struct {
	kind  opKind
	types typeSet
	arity Arity
}

// operatorTable is the one table of operators, in the order docs and
// schemas list them. Adding an operator is a row here and its test in
// cond.go; the JSON Schemas take their enum from Operators.
var operatorTable = []struct {
	name string
	operator
}{
	{OpEq, operator{opEq, anyType, OneOperand}},
	{OpNeq, operator{opNeq, anyType, OneOperand}},
	{OpIn, operator{opIn, anyType, OperandList}},
	{OpNotIn, operator{opNotIn, anyType, OperandList}},
	{OpContains, operator{opContains, typesOf(kindString), OneOperand}},
	{OpNotContains, operator{opNotContains, typesOf(kindString), OneOperand}},
	{OpStartsWith, operator{opStartsWith, typesOf(kindString), OneOperand}},
	{OpEndsWith, operator{opEndsWith, typesOf(kindString), OneOperand}},
	{OpMatches, operator{opMatches, typesOf(kindString), OneOperand}},
	{OpLt, operator{opLt, typesOf(kindNumber, kindSemver, kindDatetime), OneOperand}},
	{OpLte, operator{opLte, typesOf(kindNumber, kindSemver, kindDatetime), OneOperand}},
	{OpGt, operator{opGt, typesOf(kindNumber, kindSemver, kindDatetime), OneOperand}},
	{OpGte, operator{opGte, typesOf(kindNumber, kindSemver, kindDatetime), OneOperand}},
	{OpExists, operator{opExists, anyType, NoOperand}},
	{OpNotExists, operator{opNotExists, anyType, NoOperand}},
}

// operators indexes operatorTable by name.
var operators = func() map[string]operator {
	m := make(map[string]operator, len(operatorTable))
	for _, o := range operatorTable {
		m[o.name] = o.operator
	}
	return m
}()

// Operators returns the names of every operator, in table order.
func Operators() []string {
	names := make([]string, len(operatorTable))
	for i, o := range operatorTable {
		names[i] = o.name
	}
	return names
}

// OperatorArity returns how many operands the named operator takes, and
// false for an unknown operator.
func OperatorArity(op string) (Arity, bool) {
	o, ok := operators[op]
	return o.arity, ok
}

// kindNames are the attribute types by kind, in the order messages list them.
var kindNames = []AttrType{kindString: AttrString, kindBoolean: AttrBoolean, kindNumber: AttrNumber,
	kindSemver: AttrSemver, kindDatetime: AttrDatetime}

// describe lists the types of s: "string attributes", "number, semver or
// datetime attributes".
func (s typeSet) describe() string {
	var names []string
	for k, n := range kindNames {
		if n != "" && s&(1<<k) != 0 {
			names = append(names, string(n))
		}
	}
	if len(names) == 1 {
		return names[0] + " attributes"
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1] + " attributes"
}

// CanBucketBy reports whether a rollout may bucket by an attribute of type
// t: strings and numbers have a stable canonical text, the others do not.
func CanBucketBy(t AttrType) bool { return t == AttrString || t == AttrNumber }

// operandWants says what an operand of kind k must be, for messages.
var operandWants = [...]string{
	kindString:   "a string (quote it)",
	kindBoolean:  "true or false",
	kindNumber:   "a number",
	kindSemver:   `a semantic version such as "2.3.0" or "v2.3.0-rc.1" (quoted when it has fewer than three parts)`,
	kindDatetime: "an RFC 3339 date-time such as 2026-01-02T15:04:05Z or a date such as 2026-01-02 (midnight UTC)",
}

// CheckOperand checks one operand v (a decoded JSON value: string,
// float64, bool, ...) of operator op on attribute attr of type t, the way
// Compile does, and returns what is wrong, or "". It is the parser that
// evaluation uses: an operand it accepts compares the way the docs say.
func CheckOperand(attr string, t AttrType, op string, v any) string {
	kind, ok := attrKinds[t]
	if !ok {
		return fmt.Sprintf("unknown attribute type %q", t)
	}
	cond := condition{attr: attr, kind: kind, op: operators[op].kind}
	return cond.addOperand(v)
}

// addOperand decodes one operand by the condition's kind; it returns a
// message describing what is wrong, or "".
func (cond *condition) addOperand(v any) string {
	str, _ := v.(string)
	ok := false
	switch cond.kind {
	case kindBoolean:
		var b bool
		if b, ok = v.(bool); ok {
			cond.bools = append(cond.bools, b)
		}
	case kindNumber:
		var f float64
		if f, ok = v.(float64); ok {
			cond.nums = append(cond.nums, f)
		}
	case kindSemver:
		var sv semver
		if sv, ok = parseSemver(str); ok {
			cond.vers = append(cond.vers, sv)
		}
	case kindDatetime:
		var t time.Time
		if t, ok = parseDatetime(str); ok {
			cond.times = append(cond.times, t)
		}
	default:
		if _, ok = v.(string); ok && cond.op == opMatches {
			re, cost, msg := compileRegexp(str)
			if msg != "" {
				return msg
			}
			cond.re, cond.reCost = re, cost
		}
		if ok {
			cond.strs = append(cond.strs, str)
		}
	}
	if !ok {
		return fmt.Sprintf("%s is a %s attribute: value %s must be %s", cond.attr, kindNames[cond.kind], jsonText(v), operandWants[cond.kind])
	}
	return ""
}

// jsonText formats a decoded JSON value for a message.
func jsonText(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// CheckOverride checks o as an override of doc's environment: its flag
// exists in doc, its environment is doc's, it serves one of the flag's
// variants, expires is after at and its recovery ramp is sane. Paths are
// relative to o ({"serve"}). The admin API, the breaker and the loader
// (through Compile) all check overrides with it.
func CheckOverride(doc *Document, o *Override) []FieldError {
	var ps problems
	checkOverride(&ps, nil, doc, o)
	return ps.list
}

// checkOverride checks o, reporting at paths under prefix.
func checkOverride(ps *problems, prefix []any, doc *Document, o *Override) {
	at := func(els ...any) []any { return append(prefix[:len(prefix):len(prefix)], els...) }
	if o == nil {
		ps.addPath(prefix, "override is null")
		return
	}
	if o.Environment != "" && doc.Environment != "" && o.Environment != doc.Environment {
		ps.addPath(at("environment"), "%q is not this rule set's environment %q", o.Environment, doc.Environment)
	}
	if o.Expires != nil && !o.Expires.After(o.At) {
		ps.addPath(at("expires"), "expires (%s) must be after at (%s)", o.Expires.Format(time.RFC3339), o.At.Format(time.RFC3339))
	}
	if r := o.Recovery; r != nil {
		if r.Every <= 0 {
			ps.addPath(at("recovery", "every"), "must be a positive duration such as 1m, not %s", time.Duration(r.Every))
		}
		if r.Start < 0 || r.Start > 100 {
			ps.addPath(at("recovery", "start"), "%g is outside 0..100 (percent)", r.Start)
		}
		if r.Step < 0 || r.Step > 100 {
			ps.addPath(at("recovery", "step"), "%g is outside 0..100 (percent)", r.Step)
		}
	}
	f := doc.Flags.Get(o.Flag)
	if f == nil {
		ps.addPath(at("flag"), "unknown flag %q", o.Flag)
		return
	}
	names := variantNames(f)
	for _, n := range names {
		if n == o.Serve {
			return
		}
	}
	ps.addPath(at("serve"), "unknown variant %q of flag %s (variants: %s)", o.Serve, o.Flag, strings.Join(names, ", "))
}

// variantNames returns the names of f's variants, the implied on and off
// for a boolean flag without any.
func variantNames(f *Flag) []string {
	if len(f.Variants) == 0 && (f.Type == "" || f.Type == TypeBoolean) {
		return []string{"on", "off"}
	}
	names := make([]string, len(f.Variants))
	for i, v := range f.Variants {
		names[i] = v.Name
	}
	return names
}
