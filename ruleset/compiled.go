package ruleset

import (
	"math"
	"reflect"
	"regexp"
	"sort"
	"sync/atomic"
	"time"
)

// RuleSet is a compiled Document, ready to evaluate. It is immutable and
// safe for concurrent use; a new Document gives a new RuleSet.
type RuleSet struct {
	doc   *Document
	flags *flagTable
	keys  []string
	now   func() time.Time
	clock *boundaries // see NextChange
	// auds are the compiled audiences, by key: CompileFrom reuses those
	// that did not change.
	auds map[string]*audience
	// unshared are the keys of the flags a following CompileFrom or
	// CompileChanged cannot share as they are (see shareable: an
	// override, prerequisites or a schedule), and clocked those of the
	// flags with clock boundaries; both sorted, and few in most
	// repositories. CompileChanged walks them instead of every flag.
	unshared, clocked []string
}

// flag is a compiled Flag: variant names resolved to indexes, values
// decoded, audiences resolved to pointers.
type flag struct {
	key    string
	src    *Flag
	names  []string // variant names, in file order
	values []any    // decoded variant values, parallel to names
	rules  []rule
	// off and def are variant indexes.
	off, def int
	override *override
	// salt is a murmur primed with "<flag>/", for rollouts; recoverySalt
	// with "<flag>/recovery/", for recovery ramps.
	salt, recoverySalt murmur
	// staticResult, when static is set, is the result when it never
	// depends on the context or the clock (no override, and disabled or
	// without rules): one of offResult, defResult and prereqResult
	// (setStatic).
	staticResult *Result
	offResult    Result // DISABLED
	defResult    Result // DEFAULT, or STATIC for a flag without rules, requires or schedule
	// prereqResult is PREREQUISITE_FAILED, for a flag with prerequisites
	// only (nil otherwise: most flags have none; see prereqFailed).
	prereqResult *Result
	// requires are the prerequisites, resolved to the top-level compiled
	// flags (which apply their own override and schedule).
	requires []prereq
	// hot are the requires evaluation must check: the others are static
	// flags whose constant result meets the requirement (folded by
	// Compile). requiresFail: a static prerequisite never meets it.
	// folded is set once requires are resolved and folded.
	hot []prereq
	// steps are the schedule's states in time order: steps[i].f is the
	// flag with steps 0..i merged over it, in force from steps[i].at.
	steps []phase
	// stepIndex is the index of the step a state compiled for a schedule
	// stands for; stepSetsRequires says that step sets requires.
	stepIndex int
	// clock holds the instants the flag's results can change at by the
	// clock alone (its own, its prerequisites', its audiences'); nil for
	// none. See RuleSet.ChangedBetween.
	clock *boundaries
	// The flags, together so that they pack: clockSet says clock is
	// computed (by boundaries, once per flag).
	enabled, static, requiresFail, folded, stepSetsRequires, clockSet bool
}

// prereqFailed is the PREREQUISITE_FAILED result. Only a flag with
// prerequisites gets there, and it has prereqResult; the fallback keeps a
// broken invariant from becoming a nil dereference.
func (f *flag) prereqFailed() *Result {
	if f.prereqResult == nil {
		r := f.result(f.off, ReasonPrerequisiteFailed, -1, "")
		return &r
	}
	return f.prereqResult
}

// prereq is one compiled Prerequisite.
type prereq struct {
	f        *flag
	variants []string
}

// allows reports whether variant is one of p's variants.
func (p *prereq) allows(variant string) bool {
	for _, v := range p.variants {
		if v == variant {
			return true
		}
	}
	return false
}

// phase is one compiled schedule step.
type phase struct {
	at   time.Time
	atNs int64 // at in Unix nanoseconds
	f    *flag
}

// ramp is a compiled Ramp, its clock in Unix nanoseconds (start, every).
type ramp struct {
	serve, otherwise int
	start, every     int64
	inv              float64 // 1/every, to find the step without a division
	from, step       float64 // percent
	// bounds and limits tabulate the ramp when it reaches 100% within
	// maxRampTable steps: from bounds[i] on, the limit is limits[i].
	bounds []int64
	limits []float64
	// last is the index into bounds found last: evaluations in the same
	// step (nearly all of them) check it and skip the search.
	last atomic.Int64
	src  *Ramp
}

// maxRampTable is the most steps a ramp's table holds; longer ramps are
// computed.
const maxRampTable = 128

// limit is the bucket limit at now (Unix nanoseconds, see unixNano):
// buckets below it get serve. It is Ramp.Cap(now)*1000, computed the same
// way without time.Time arithmetic.
func (r *ramp) limit(now int64) float64 {
	if now < r.start {
		return 0
	}
	if r.bounds != nil {
		i := int(r.last.Load())
		if r.bounds[i] <= now && (i+1 == len(r.bounds) || now < r.bounds[i+1]) {
			return r.limits[i]
		}
		lo, hi := 0, len(r.bounds) // the last bound at or before now
		for hi-lo > 1 {
			m := int(uint(lo+hi) >> 1)
			if r.bounds[m] <= now {
				lo = m
			} else {
				hi = m
			}
		}
		r.last.Store(int64(lo))
		return r.limits[lo]
	}
	return r.compute(now)
}

// compute is limit by arithmetic.
func (r *ramp) compute(now int64) float64 {
	d := now - r.start
	// floor(d/every), exactly: the float estimate is off by at most one
	// for spans beyond 2^53 ns, which the multiplications correct.
	k := int64(float64(d) * r.inv)
	if k*r.every > d {
		k--
	} else if (k+1)*r.every <= d {
		k++
	}
	return min(100, r.from+r.step*float64(k)) * 1000
}

// unixNano is t in Unix nanoseconds, saturated outside the years 1678 to
// 2262 (where time.Time.UnixNano is undefined).
func unixNano(t time.Time) int64 {
	s := t.Unix()
	switch {
	case s >= math.MaxInt64/int64(time.Second):
		return math.MaxInt64
	case s <= math.MinInt64/int64(time.Second):
		return math.MinInt64
	}
	return s*int64(time.Second) + int64(t.Nanosecond())
}

// rule is a compiled Rule.
type rule struct {
	name      string
	users     []string            // scanned when short
	userSet   map[string]struct{} // used instead of users when long
	audiences []*audience
	matchAny  bool
	conds     []condition
	serve     int      // variant index, when rollout is empty
	result    Result   // TARGETING_MATCH result of serve
	splits    []Result // SPLIT results of a rollout or ramp, by variant index
	rollout   []bucket // cumulative upper bounds, in file order
	ramp      *ramp    // instead of serve or rollout
	by        string
	selective bool // the rule has a selector: see hasSelector
	src       *Rule
}

// hasSelector reports whether the rule restricts who it matches.
func (r *rule) hasSelector() bool {
	return len(r.users) > 0 || r.userSet != nil || len(r.audiences) > 0 || len(r.conds) > 0
}

// bucket is one rollout slice: buckets below upTo (and at or above the
// previous slice's upTo) get variant.
type bucket struct {
	upTo    int
	variant int
}

// audience is a compiled Audience.
type audience struct {
	key      string
	matchAny bool
	conds    []condition
}

// attrKind is an attribute's type, resolved from AttrType.
type attrKind uint8

const (
	kindString attrKind = iota + 1
	kindBoolean
	kindNumber
	kindSemver
	kindDatetime
)

var attrKinds = map[AttrType]attrKind{
	AttrString:   kindString,
	AttrBoolean:  kindBoolean,
	AttrNumber:   kindNumber,
	AttrSemver:   kindSemver,
	AttrDatetime: kindDatetime,
}

// opKind is an operator, resolved from its name.
type opKind uint8

const (
	opEq opKind = iota + 1
	opNeq
	opIn
	opNotIn
	opContains
	opNotContains
	opStartsWith
	opEndsWith
	opMatches
	opLt
	opLte
	opGt
	opGte
	opExists
	opNotExists
)

// condition is a compiled Condition: either a reference to an audience or
// a typed test of one attribute with its operands decoded.
type condition struct {
	audience *audience
	attr     string
	isNow    bool // attr is the built-in "now": the clock stands in when missing
	kind     attrKind
	op       opKind
	strs     []string
	strSet   map[string]struct{} // for long in/not_in lists of strings
	bools    []bool
	nums     []float64
	vers     []semver
	times    []time.Time
	re       *regexp.Regexp
	reCost   int // re's program size, its cost in MaxFlagCost units
	src      *Condition
}

// override is a compiled Override.
type override struct {
	serve    int
	result   Result // OVERRIDE result of serve
	expires  *time.Time
	recovery *Recovery
	src      *Override
}

// Version returns the version of the compiled Document.
func (rs *RuleSet) Version() string { return rs.doc.Version }

// Environment returns the environment of the compiled Document.
func (rs *RuleSet) Environment() string { return rs.doc.Environment }

// Document returns the Document rs was compiled from. It is shared and must
// not be modified.
func (rs *RuleSet) Document() *Document { return rs.doc }

// Rebind returns rs serving doc, with now as its clock (nil: the real
// clock), when compiling doc would give what rs holds: doc has the very
// same Flags, Audiences and Overrides maps as rs's Document (the Document
// compiles from those alone; its version and commit may differ, as when an
// empty override layer gives the served version). The compiled flags are
// shared, not copied, so that a rule set compiled once (by the syncer)
// serves another component of the same process (the bearer) at the cost
// of one small struct. The clock is read only when evaluating. It returns
// false when doc differs otherwise: compile it (CompileFrom rs).
func (rs *RuleSet) Rebind(doc *Document, now func() time.Time) (*RuleSet, bool) {
	if doc == nil || rs.doc == nil || doc.Environment != rs.doc.Environment ||
		!doc.Flags.Same(rs.doc.Flags) || !sameMap(doc.Audiences, rs.doc.Audiences) || !sameMap(doc.Overrides, rs.doc.Overrides) {
		return nil, false
	}
	if now == nil {
		now = time.Now
	}
	cp := *rs
	cp.doc, cp.now = doc, now
	return &cp, true
}

// SameFlags reports whether d and o hold the very same flags map (not
// equal ones): a Document made from another by replacing only its
// overrides, as an override layer does, or a copy of it.
func (d *Document) SameFlags(o *Document) bool {
	return d != nil && o != nil && d.Flags.Same(o.Flags)
}

// sameMap reports whether a and b are the same map (not equal ones).
func sameMap[V any](a, b map[string]V) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// Keys returns the keys of all flags, sorted, in a new slice.
func (rs *RuleSet) Keys() []string {
	return append([]string(nil), rs.keys...)
}

// Flag returns the flag with the given key as it is in the Document (shared,
// not to be modified), and whether it exists.
func (rs *RuleSet) Flag(key string) (*Flag, bool) {
	f := rs.flags.get(key)
	if f == nil {
		return nil, false
	}
	return f.src, true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
