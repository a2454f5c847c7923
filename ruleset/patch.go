package ruleset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
	"weak"
)

// Patch is the difference between two Documents of one environment, as
// bearers stream it to SDKs. A nil value in a map means the entry was
// deleted; a non-nil value replaces the entry whole.
type Patch struct {
	// Base is the Version the patch applies to.
	Base string `json:"base"`
	// Version is the Version of the result.
	Version string `json:"version"`
	// Commit is the Commit of the result.
	Commit string `json:"commit,omitempty"`
	// Flags added or changed by key; a nil value means deleted.
	Flags map[string]*Flag `json:"flags,omitempty"`
	// Audiences added or changed by key; a nil value means deleted.
	Audiences map[string]*Audience `json:"audiences,omitempty"`
	// Overrides added or changed by flag key; a nil value means deleted.
	Overrides map[string]*Override `json:"overrides,omitempty"`
}

// Change says how a Document was made from another, Base: it has Base's
// flags with the flags keyed in Flags (sorted) replaced, added or removed,
// and audiences and overrides of its own (compare those: they are few).
// It lets whoever holds Base compile (CompileChanged), encode and diff
// (DiffNamed) the named flags only. Base is weak: a Document's Change
// never keeps the one it was made from alive, and a Base that is gone
// matches nothing.
type Change struct {
	Base  weak.Pointer[Document]
	Flags []string
}

// From returns the keys of the flags changed from base, and false when c
// (which may be nil) does not say how its Document was made from base.
func (c *Change) From(base *Document) ([]string, bool) {
	if c == nil || base == nil || c.Base.Value() != base {
		return nil, false
	}
	return c.Flags, true
}

// Empty reports whether the patch changes no flag, audience or override.
func (p *Patch) Empty() bool {
	return len(p.Flags) == 0 && len(p.Audiences) == 0 && len(p.Overrides) == 0
}

// Diff returns the patch that turns old into new: the flags, audiences and
// overrides added, changed (compared by their canonical JSON) or deleted.
// The patch shares the values of new, which must not be modified. A nil
// document counts as an empty one.
func Diff(old, new *Document) *Patch {
	if old == nil {
		old = &Document{}
	}
	if new == nil {
		new = &Document{}
	}
	return &Patch{
		Base:      old.Version,
		Version:   new.Version,
		Commit:    new.Commit,
		Flags:     diffFlags(old.Flags, new.Flags),
		Audiences: diffMap(old.Audiences, new.Audiences),
		Overrides: diffMap(old.Overrides, new.Overrides),
	}
}

// Diff returns the patch that turns old into new, as Diff does. When c
// (which may be nil) says how new was made from old (From), only the flags
// it names are compared, so that a one-flag change of 100,000 flags costs
// one comparison; audiences and overrides are compared whole.
func (c *Change) Diff(old, new *Document) *Patch {
	flags, ok := c.From(old)
	if !ok || new == nil {
		return Diff(old, new)
	}
	p := &Patch{
		Base:      old.Version,
		Version:   new.Version,
		Commit:    new.Commit,
		Audiences: diffMap(old.Audiences, new.Audiences),
		Overrides: diffMap(old.Overrides, new.Overrides),
	}
	for _, k := range flags {
		ov, was := old.Flags.Lookup(k)
		nv, is := new.Flags.Lookup(k)
		switch {
		case is && (!was || ov != nv && !sameJSON(ov, nv)):
			if p.Flags == nil {
				p.Flags = map[string]*Flag{}
			}
			p.Flags[k] = nv
		case !is && was:
			if p.Flags == nil {
				p.Flags = map[string]*Flag{}
			}
			p.Flags[k] = nil
		}
	}
	return p
}

func diffMap[V any](old, new map[string]*V) map[string]*V {
	var out map[string]*V
	set := func(k string, v *V) {
		if out == nil {
			out = make(map[string]*V)
		}
		out[k] = v
	}
	kept := 0 // keys of new that old has
	for k, nv := range new {
		ov, ok := old[k]
		if ok {
			kept++
			if ov == nv {
				continue // the same entry: Documents are immutable
			}
		}
		if !ok || !sameJSON(ov, nv) {
			set(k, nv)
		}
	}
	if kept == len(old) {
		return out // nothing removed: no need to walk old
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			set(k, nil)
		}
	}
	return out
}

// sameJSON reports whether a and b encode to the same JSON. encoding/json
// sorts map keys and compacts raw values, so this is a canonical
// comparison; values that fail to encode count as different.
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// Apply returns a new Document with p applied to d; d is not modified and
// unchanged entries are shared between both. It fails when p.Base is not
// d.Version.
func (d *Document) Apply(p *Patch) (*Document, error) {
	if p == nil {
		return nil, fmt.Errorf("applying patch: no patch")
	}
	if p.Base != d.Version {
		return nil, fmt.Errorf("applying patch %s→%s: base does not match document version %q", p.Base, p.Version, d.Version)
	}
	nd := *d
	nd.Version, nd.Commit = p.Version, p.Commit
	nd.Flags = d.Flags.With(p.Flags)
	nd.Audiences = applyMap(d.Audiences, p.Audiences)
	nd.Overrides = applyMap(d.Overrides, p.Overrides)
	if nd.Flags.Null() {
		nd.Flags = NewFlagMap(map[string]*Flag{})
	}
	return &nd, nil
}

func applyMap[V any](m, changes map[string]*V) map[string]*V {
	if len(changes) == 0 {
		return m
	}
	out := maps.Clone(m)
	if out == nil {
		out = make(map[string]*V, len(changes))
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Clone returns a deep copy of d that shares nothing with it.
func (d *Document) Clone() *Document {
	if d == nil {
		return nil
	}
	nd := *d
	nd.Flags = NewFlagMap(cloneMap(d.Flags.Map(), (*Flag).clone))
	nd.Audiences = cloneMap(d.Audiences, (*Audience).clone)
	nd.Overrides = cloneMap(d.Overrides, (*Override).clone)
	return &nd
}

func cloneMap[V any](m map[string]*V, clone func(*V) *V) map[string]*V {
	if m == nil {
		return nil
	}
	out := make(map[string]*V, len(m))
	for k, v := range m {
		if v != nil {
			v = clone(v)
		}
		out[k] = v
	}
	return out
}

func (f *Flag) clone() *Flag {
	nf := *f
	nf.Variants = slices.Clone(f.Variants)
	for i := range nf.Variants {
		nf.Variants[i].Value = bytes.Clone(f.Variants[i].Value)
	}
	nf.Rules = slices.Clone(f.Rules)
	for i := range nf.Rules {
		r := &nf.Rules[i]
		r.Users = slices.Clone(r.Users)
		r.Audiences = slices.Clone(r.Audiences)
		r.Conditions = cloneConditions(r.Conditions)
		r.Rollout = slices.Clone(r.Rollout)
	}
	if f.Breaker != nil {
		b := *f.Breaker
		if b.Slow != nil {
			sl := *b.Slow
			b.Slow = &sl
		}
		nf.Breaker = &b
	}
	return &nf
}

func (a *Audience) clone() *Audience {
	na := *a
	na.Conditions = cloneConditions(a.Conditions)
	return &na
}

func cloneConditions(cs []Condition) []Condition {
	out := slices.Clone(cs)
	for i := range out {
		out[i].Values = slices.Clone(out[i].Values)
		for j := range out[i].Values {
			out[i].Values[j] = bytes.Clone(out[i].Values[j])
		}
	}
	return out
}

func (o *Override) clone() *Override {
	no := *o
	if o.Expires != nil {
		t := time.Time(*o.Expires)
		no.Expires = &t
	}
	if o.Recovery != nil {
		r := *o.Recovery
		no.Recovery = &r
	}
	return &no
}
