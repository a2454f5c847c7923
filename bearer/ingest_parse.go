package bearer

import "encoding/json"

// fastBatch decodes the common form of a POST /v1/metrics body without
// reflection: {"counts":[{...},...]} whose entries have only the fields
// flag, variant, success, failure and slow, each at most once, spelled in
// lower case, with strings of printable ASCII without escapes and numbers
// of digits only. The entries' raw values alias body. For anything else it
// reports false, and the caller decodes with encoding/json, which then
// gives the same entries or the precise error (FuzzFastBatch checks this).
func fastBatch(body []byte) ([]metricsEntry, bool) {
	p := scanner{b: body}
	if !p.lit('{') || !p.key("counts") || !p.lit('[') {
		return nil, false
	}
	entries := make([]metricsEntry, 0, 64)
	if p.peek(']') {
		p.i++
	} else {
		for {
			e, ok := p.entry()
			if !ok {
				return nil, false
			}
			entries = append(entries, e)
			if p.lit(',') {
				continue
			}
			if !p.lit(']') {
				return nil, false
			}
			break
		}
	}
	if !p.lit('}') {
		return nil, false
	}
	p.space()
	return entries, p.i == len(p.b)
}

// scanner walks a JSON text byte by byte.
type scanner struct {
	b []byte
	i int
}

func (p *scanner) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// peek skips space and reports whether the next byte is c.
func (p *scanner) peek(c byte) bool {
	p.space()
	return p.i < len(p.b) && p.b[p.i] == c
}

// lit consumes c after optional space.
func (p *scanner) lit(c byte) bool {
	if !p.peek(c) {
		return false
	}
	p.i++
	return true
}

// str consumes a string of printable ASCII without escapes and returns it
// with its quotes.
func (p *scanner) str() ([]byte, bool) {
	if !p.lit('"') {
		return nil, false
	}
	start := p.i - 1
	for p.i < len(p.b) {
		c := p.b[p.i]
		p.i++
		switch {
		case c == '"':
			return p.b[start:p.i], true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return nil, false
		}
	}
	return nil, false
}

// key consumes "name" and the colon after it.
func (p *scanner) key(name string) bool {
	s, ok := p.str()
	return ok && string(s[1:len(s)-1]) == name && p.lit(':')
}

// num consumes -?[0-9]+ without a superfluous leading zero, followed by
// neither a fraction nor an exponent.
func (p *scanner) num() ([]byte, bool) {
	p.space()
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	if n == 0 || (n > 1 && p.b[digits] == '0') {
		return nil, false
	}
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return nil, false
	}
	return p.b[start:p.i], true
}

// entry consumes one object of the counts list.
func (p *scanner) entry() (metricsEntry, bool) {
	var e metricsEntry
	if !p.lit('{') {
		return e, false
	}
	if p.lit('}') {
		return e, true
	}
	for {
		name, ok := p.str()
		if !ok || !p.lit(':') {
			return e, false
		}
		dst, number := e.field(string(name))
		if dst == nil {
			return e, false
		}
		var val []byte
		if number {
			val, ok = p.num()
		} else {
			val, ok = p.str()
		}
		if !ok || *dst != nil {
			return e, false
		}
		*dst = val
		if p.lit(',') {
			continue
		}
		return e, p.lit('}')
	}
}

// field returns where the value of the field named by the quoted name goes
// and whether it is a number, or nil for a name fastBatch does not take.
func (e *metricsEntry) field(quoted string) (dst *json.RawMessage, number bool) {
	switch quoted {
	case `"flag"`:
		return &e.Flag, false
	case `"variant"`:
		return &e.Variant, false
	case `"success"`:
		return &e.Success, true
	case `"failure"`:
		return &e.Failure, true
	case `"slow"`:
		return &e.Slow, true
	}
	return nil, false
}
