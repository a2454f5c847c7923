package review

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

// Bounds of the sample contexts.
const (
	// DefaultSamples is how many contexts are generated when no contexts
	// file is given.
	DefaultSamples = 10_000
	// MaxSamples is the most contexts a contexts file (or --samples) may
	// give; a contexts file line is at most ruleset.MaxContextBytes.
	MaxSamples = 100_000
)

// ReadContexts reads evaluation contexts as JSON lines: one JSON object per
// line, parsed like every other context (ruleset.ParseContext); blank lines
// are skipped. A malformed line is an error naming name and the line
// number. At most MaxSamples contexts are read, each line at most
// ruleset.MaxContextBytes long.
func ReadContexts(r io.Reader, name string) ([]ruleset.Context, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []ruleset.Context
	for line := 1; ; line++ {
		data, err := readLine(br, ruleset.MaxContextBytes)
		if errors.Is(err, errLongLine) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, line, ruleset.MaxContextBytes)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 {
			if len(out) == MaxSamples {
				return nil, fmt.Errorf("%s:%d: more than %d contexts", name, line, MaxSamples)
			}
			ctx, perr := ruleset.ParseContext(trimmed)
			if perr != nil {
				return nil, fmt.Errorf("%s:%d: %v", name, line, perr)
			}
			out = append(out, ctx)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no contexts (expected one JSON object per line)", name)
	}
	return out, nil
}

var errLongLine = errors.New("line too long")

// readLine reads one line without its newline, failing past max bytes
// without holding more than that.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > max+1 {
			return nil, errLongLine
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(line, []byte("\n")), err
	}
}

// attrPlan is how generated contexts fill one attribute.
type attrPlan struct {
	name   string
	unique func(i int) any // set for rollout attributes: a distinct value per context
	values []any           // else one of these, or missing
}

// GenerateContexts makes n evaluation contexts deterministically from the
// declared attributes and the values the rules and audiences of docs
// mention, so that every condition is both met and missed by part of the
// sample: context i has key "user-<i>", a distinct value for each other
// attribute a rollout buckets by, and for every other attribute one of the
// values mentioned (plus neighbours: a prefix for starts_with, one more for
// a number, a day later for a date, ...) or none. The shares it yields show
// the relative effect of a change, not real traffic: pass real contexts
// with ReadContexts for that.
func GenerateContexts(attrs []loader.Attribute, docs []*ruleset.Document, n int) []ruleset.Context {
	mentioned := map[string][]ruleset.Condition{}
	byAttrs := map[string]bool{}
	addConds := func(cs []ruleset.Condition) {
		for _, c := range cs {
			if c.Attribute != "" {
				mentioned[c.Attribute] = append(mentioned[c.Attribute], c)
			}
		}
	}
	for _, d := range docs {
		for _, f := range d.Flags.All() {
			for _, r := range allRules(f) {
				addConds(r.Conditions)
				if len(r.Rollout) > 0 || r.Ramp != nil {
					byAttrs[byOrKey(r.By)] = true
				}
			}
		}
		for _, a := range d.Audiences {
			addConds(a.Conditions)
		}
	}
	types := map[string]ruleset.AttrType{}
	for _, a := range attrs {
		types[a.Name] = a.Type
	}
	var plans []attrPlan
	for _, name := range sortedKeys(types) {
		if name == "key" || name == "now" {
			continue
		}
		t := types[name]
		if byAttrs[name] {
			plans = append(plans, attrPlan{name: name, unique: uniqueValue(name, t)})
			continue
		}
		plans = append(plans, attrPlan{name: name, values: candidates(t, mentioned[name])})
	}
	out := make([]ruleset.Context, n)
	for i := range out {
		ctx := ruleset.Context{"key": "user-" + strconv.Itoa(i)}
		for _, p := range plans {
			if p.unique != nil {
				ctx[p.name] = p.unique(i)
				continue
			}
			k := pick(p.name, i, len(p.values)+1)
			if k < len(p.values) {
				ctx[p.name] = p.values[k]
			}
		}
		out[i] = ctx
	}
	return out
}

// pick chooses one of n choices for context i and attribute name.
func pick(name string, i, n int) int {
	h := fnv.New64a()
	h.Write([]byte(name))
	var b [8]byte
	for k := range b {
		b[k] = byte(uint64(i) >> (8 * k))
	}
	h.Write(b[:])
	return int(h.Sum64() % uint64(n))
}

func uniqueValue(name string, t ruleset.AttrType) func(int) any {
	switch t {
	case ruleset.AttrNumber:
		return func(i int) any { return float64(i) }
	case ruleset.AttrSemver:
		return func(i int) any { return fmt.Sprintf("%d.%d.%d", i/10000, i/100%100, i%100) }
	case ruleset.AttrBoolean:
		return func(i int) any { return i%2 == 0 }
	case ruleset.AttrDatetime:
		base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		return func(i int) any { return base.Add(time.Duration(i) * time.Hour).Format(time.RFC3339) }
	}
	return func(i int) any { return name + "-" + strconv.Itoa(i) }
}

// candidates are the values a generated context may give an attribute of
// type t: those the conditions mention, values next to them, and one
// value none of them mentions.
func candidates(t ruleset.AttrType, conds []ruleset.Condition) []any {
	set := map[string]any{}
	add := func(v any) {
		b, _ := json.Marshal(v)
		set[string(b)] = v
	}
	for _, c := range conds {
		for _, raw := range c.Values {
			var v any
			if json.Unmarshal(raw, &v) != nil {
				continue
			}
			switch x := v.(type) {
			case string:
				switch {
				case c.Operator == ruleset.OpStartsWith:
					add(x + "-sample")
				case c.Operator == ruleset.OpEndsWith:
					add("sample" + x)
				case c.Operator == ruleset.OpContains || c.Operator == ruleset.OpNotContains:
					add("a" + x + "z")
				case t == ruleset.AttrDatetime:
					add(x)
					if tm, ok := parseTime(x); ok {
						add(tm.Add(-24 * time.Hour).Format(time.RFC3339))
						add(tm.Add(24 * time.Hour).Format(time.RFC3339))
					}
				default:
					add(x)
				}
			case float64:
				add(x)
				add(x - 1)
				add(x + 1)
			default:
				add(v)
			}
		}
	}
	switch t {
	case ruleset.AttrString:
		add("other")
	case ruleset.AttrNumber:
		add(0.0)
	case ruleset.AttrBoolean:
		add(true)
		add(false)
	case ruleset.AttrSemver:
		add("0.1.0")
		add("99.0.0")
	case ruleset.AttrDatetime:
		add("2000-01-01T00:00:00Z")
	}
	keys := sortedKeys(set)
	sort.Strings(keys)
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = set[k]
	}
	return out
}

func parseTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}
