package ruleset

import (
	"strings"
	"time"
)

// match evaluates the condition for the state's context.
func (c *condition) match(st *evalState) bool {
	if c.audience != nil {
		return c.audience.contains(st)
	}
	m := c.test(st)
	if st.tr != nil {
		st.tr.condition(c, st, m)
	}
	return m
}

// test applies the condition's operator to its attribute. A missing (or
// null) attribute fails every operator but not_exists, except "now", which
// the clock stands in for; a value of the wrong type fails every operator.
func (c *condition) test(st *evalState) bool {
	v, ok := st.ctx[c.attr]
	if !ok || v == nil {
		if !c.isNow {
			return c.op == opNotExists
		}
		if c.op == opExists || c.op == opNotExists {
			return c.op == opExists
		}
		return c.testTime(st.time())
	}
	switch c.op {
	case opExists:
		return true
	case opNotExists:
		return false
	}
	switch c.kind {
	case kindString:
		s, ok := v.(string)
		return ok && c.testString(s)
	case kindBoolean:
		b, ok := v.(bool)
		return ok && c.testBool(b)
	case kindNumber:
		f, ok := toFloat(v)
		return ok && c.testNumber(f)
	case kindSemver:
		s, ok := v.(string)
		if !ok {
			return false
		}
		sv, ok := parseSemver(s)
		return ok && c.testSemver(sv)
	case kindDatetime:
		t, ok := toTime(v)
		return ok && c.testTime(t)
	}
	return false
}

func (c *condition) testString(s string) bool {
	switch c.op {
	case opEq:
		return s == c.strs[0]
	case opNeq:
		return s != c.strs[0]
	case opIn:
		return c.hasString(s)
	case opNotIn:
		return !c.hasString(s)
	case opContains:
		return strings.Contains(s, c.strs[0])
	case opNotContains:
		return !strings.Contains(s, c.strs[0])
	case opStartsWith:
		return strings.HasPrefix(s, c.strs[0])
	case opEndsWith:
		return strings.HasSuffix(s, c.strs[0])
	case opMatches:
		return c.re.MatchString(s)
	}
	return false
}

func (c *condition) hasString(s string) bool {
	if c.strSet != nil {
		_, ok := c.strSet[s]
		return ok
	}
	for _, x := range c.strs {
		if x == s {
			return true
		}
	}
	return false
}

func (c *condition) testBool(b bool) bool {
	in := false
	for _, x := range c.bools {
		if x == b {
			in = true
			break
		}
	}
	switch c.op {
	case opEq, opIn:
		return in
	case opNeq, opNotIn:
		return !in
	}
	return false
}

func (c *condition) testNumber(f float64) bool {
	switch c.op {
	case opEq:
		return f == c.nums[0]
	case opNeq:
		return f != c.nums[0]
	case opLt:
		return f < c.nums[0]
	case opLte:
		return f <= c.nums[0]
	case opGt:
		return f > c.nums[0]
	case opGte:
		return f >= c.nums[0]
	case opIn, opNotIn:
		in := false
		for _, x := range c.nums {
			if x == f {
				in = true
				break
			}
		}
		return in == (c.op == opIn)
	}
	return false
}

func (c *condition) testSemver(v semver) bool {
	if c.op == opIn || c.op == opNotIn {
		in := false
		for _, x := range c.vers {
			if compareSemver(v, x) == 0 {
				in = true
				break
			}
		}
		return in == (c.op == opIn)
	}
	return ordered(c.op, compareSemver(v, c.vers[0]))
}

func (c *condition) testTime(t time.Time) bool {
	if c.op == opIn || c.op == opNotIn {
		in := false
		for _, x := range c.times {
			if t.Equal(x) {
				in = true
				break
			}
		}
		return in == (c.op == opIn)
	}
	return ordered(c.op, t.Compare(c.times[0]))
}

// ordered applies a comparison operator to the result of a three-way
// comparison.
func ordered(op opKind, cmp int) bool {
	switch op {
	case opEq:
		return cmp == 0
	case opNeq:
		return cmp != 0
	case opLt:
		return cmp < 0
	case opLte:
		return cmp <= 0
	case opGt:
		return cmp > 0
	case opGte:
		return cmp >= 0
	}
	return false
}
