package ruleset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
)

// FlagMap is a Document's flags by key. Like a Document it is not changed
// once made: With and Edit make another that shares every part of it the
// change does not touch. At 100,000 flags a Document patched with one flag
// so costs a few hundred map entries, not a copy of a 100,000-entry map
// (3 MB and 10–20 ms per environment and edit, in the syncer and in every
// bearer, when Flags was a plain map).
//
// The zero value is empty. It encodes to JSON as the object a
// map[string]*Flag encodes to (keys sorted), and the zero value as null.
type FlagMap struct {
	// s holds the flags by shardOf their key; nil: the zero FlagMap. A
	// shard with no flags is nil, so that FlagMaps of the same flags are
	// reflect.DeepEqual however they were made.
	s *[flagShards]map[string]*Flag
	n int
}

// NewFlagMap returns a FlagMap holding m's flags; nil m gives the zero
// FlagMap. m is not kept.
func NewFlagMap(m map[string]*Flag) FlagMap {
	if m == nil {
		return FlagMap{}
	}
	b := NewFlagMapBuilder(len(m))
	for k, f := range m {
		b.Set(k, f)
	}
	return b.FlagMap()
}

// Null reports whether m is the zero FlagMap, which encodes to null: a
// Document decoded without a flags object has it.
func (m FlagMap) Null() bool { return m.s == nil }

// Len returns the number of flags.
func (m FlagMap) Len() int { return m.n }

// Get returns the flag key, or nil when there is none.
func (m FlagMap) Get(key string) *Flag {
	if m.s == nil {
		return nil
	}
	return m.s[shardOf(key)][key]
}

// Lookup returns the flag key and whether there is one.
func (m FlagMap) Lookup(key string) (*Flag, bool) {
	if m.s == nil {
		return nil, false
	}
	f, ok := m.s[shardOf(key)][key]
	return f, ok
}

// Has reports whether there is a flag key.
func (m FlagMap) Has(key string) bool {
	if m.s == nil {
		return false
	}
	_, ok := m.s[shardOf(key)][key]
	return ok
}

// All yields every flag with its key, in no particular order.
func (m FlagMap) All() iter.Seq2[string, *Flag] {
	return func(yield func(string, *Flag) bool) {
		if m.s == nil {
			return
		}
		for _, s := range m.s {
			for k, f := range s {
				if !yield(k, f) {
					return
				}
			}
		}
	}
}

// Keys returns the flags' keys, sorted, in a new slice.
func (m FlagMap) Keys() []string {
	keys := make([]string, 0, m.n)
	for k := range m.All() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Map returns the flags in a new plain map (nil for the zero FlagMap).
func (m FlagMap) Map() map[string]*Flag {
	if m.s == nil {
		return nil
	}
	out := make(map[string]*Flag, m.n)
	for k, f := range m.All() {
		out[k] = f
	}
	return out
}

// Same reports whether m and o are the very same FlagMap (not equal
// ones): one made from the other by a change of nothing, or copied.
func (m FlagMap) Same(o FlagMap) bool { return m.s == o.s }

// With returns m with changes applied: a key mapped to nil is removed,
// any other is set. m itself is returned when changes is empty.
func (m FlagMap) With(changes map[string]*Flag) FlagMap {
	if len(changes) == 0 {
		return m
	}
	b := m.Edit()
	for k, f := range changes {
		if f == nil {
			b.Delete(k)
		} else {
			b.Set(k, f)
		}
	}
	return b.FlagMap()
}

// Edit returns a builder that starts from m's flags and shares m's parts
// until it changes them. m is not changed.
func (m FlagMap) Edit() *FlagMapBuilder {
	b := &FlagMapBuilder{t: &table[Flag]{}, n: m.n}
	if m.s != nil {
		b.t.shards = *m.s
	}
	return b
}

// FlagMapBuilder makes a FlagMap by setting and removing flags. The zero
// value is not usable: start from NewFlagMapBuilder or FlagMap.Edit.
type FlagMapBuilder struct {
	t    *table[Flag]
	n    int
	done bool
}

// NewFlagMapBuilder returns a builder with no flags, sized for about n.
func NewFlagMapBuilder(n int) *FlagMapBuilder {
	return &FlagMapBuilder{t: newTable[Flag](n)}
}

// Set makes f the flag key.
func (b *FlagMapBuilder) Set(key string, f *Flag) {
	b.check()
	s := b.t.own(shardOf(key))
	if _, ok := s[key]; !ok {
		b.n++
	}
	s[key] = f
}

// Delete removes the flag key, if there is one.
func (b *FlagMapBuilder) Delete(key string) {
	b.check()
	i := shardOf(key)
	if _, ok := b.t.shards[i][key]; ok {
		delete(b.t.own(i), key)
		b.n--
	}
}

// FlagMap returns the flags set. The builder may not be used afterwards:
// the FlagMap owns what it made.
func (b *FlagMapBuilder) FlagMap() FlagMap {
	b.check()
	b.done = true
	for i, s := range b.t.shards {
		if s != nil && len(s) == 0 {
			b.t.shards[i] = nil
		}
	}
	return FlagMap{s: &b.t.shards, n: b.n}
}

func (b *FlagMapBuilder) check() {
	if b.done {
		panic("ruleset: FlagMapBuilder used after FlagMap")
	}
}

// diffFlags is diffMap for FlagMaps. Both split their keys over shards
// alike, so a shard the two share (every one a patch did not touch) is
// skipped.
func diffFlags(old, new FlagMap) map[string]*Flag {
	var out map[string]*Flag
	for i := range flagShards {
		o, n := old.shard(i), new.shard(i)
		if sameMap(o, n) {
			continue
		}
		for k, f := range diffMap(o, n) {
			if out == nil {
				out = map[string]*Flag{}
			}
			out[k] = f
		}
	}
	return out
}

// shard returns m's shard i (nil if m is empty).
func (m FlagMap) shard(i int) map[string]*Flag {
	if m.s == nil {
		return nil
	}
	return m.s[i]
}

// MarshalJSON encodes the flags as encoding/json encodes a
// map[string]*Flag: an object with the keys sorted; the zero FlagMap as
// null. encoding/json then passes over the whole output once more (it
// compacts what a Marshaler returns): Document.AppendJSON does not.
func (m FlagMap) MarshalJSON() ([]byte, error) { return m.appendJSON(nil) }

// appendJSON appends what MarshalJSON returns to dst.
func (m FlagMap) appendJSON(dst []byte) ([]byte, error) {
	if m.s == nil {
		return append(dst, "null"...), nil
	}
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf) // escapes as json.Marshal does
	buf.WriteByte('{')
	for i, k := range m.Keys() {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(k); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		buf.WriteByte(':')
		if err := enc.Encode(m.Get(k)); err != nil {
			return nil, fmt.Errorf("flags.%s: %w", k, err)
		}
		buf.Truncate(buf.Len() - 1)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// flagsNull is what a Document whose Flags is the zero FlagMap encodes its
// flags to. The fields before it (version, environment, commit) are
// strings, in which a quote is escaped, so its first occurrence is the
// field.
var flagsNull = []byte(`"flags":null`)

// AppendJSON appends d's JSON to dst: the bytes json.Marshal(d) gives,
// made without encoding/json's second pass over the flags (at 100,000
// flags about as long as encoding them).
func (d *Document) AppendJSON(dst []byte) ([]byte, error) {
	shell := *d
	shell.Flags = FlagMap{}
	b, err := json.Marshal(&shell)
	if err != nil {
		return nil, err
	}
	at := bytes.Index(b, flagsNull)
	if at < 0 {
		return nil, fmt.Errorf("encoding document %s: no flags field in %.40q", d.Version, b)
	}
	dst = append(dst, b[:at+len(`"flags":`)]...)
	if dst, err = d.Flags.appendJSON(dst); err != nil {
		return nil, err
	}
	return append(dst, b[at+len(flagsNull):]...), nil
}

// UnmarshalJSON decodes what MarshalJSON encodes: null gives the zero
// FlagMap, as encoding/json gives a nil map.
func (m *FlagMap) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*m = FlagMap{}
		return nil
	}
	var flags map[string]*Flag
	if err := json.Unmarshal(b, &flags); err != nil {
		return err
	}
	*m = NewFlagMap(flags)
	return nil
}
