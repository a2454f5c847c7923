package store

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

// LayerEntry is one flag's entry in an environment's override layer: a
// runtime override (set through the admin API, a trigger or the breaker)
// that takes effect at once, before the write-back has committed it to git.
type LayerEntry struct {
	// Flag is the flag's key.
	Flag string `json:"flag"`
	// Override replaces the flag's override from git; nil is a tombstone:
	// the flag has no override, whatever git says.
	Override *ruleset.Override `json:"override,omitempty"`
	// At and By say when and by whom the entry was made. For a set entry
	// they default to the Override's at and by.
	At time.Time `json:"at"`
	By string    `json:"by,omitempty"`
	// Requester is who asked for the entry (an admin key's name, a
	// trigger), for the write-back commit's trailer; "" means By.
	Requester string `json:"requester,omitempty"`
	// Reason is why a tombstone was made; a set entry's reason is its
	// Override's.
	Reason string `json:"reason,omitempty"`
	// Kind says how git records the entry: an override file (the zero
	// value) or, for the breaker's on_trip: commit, the flag disabled in
	// the environment's overlay of its flag file.
	Kind EntryKind `json:"kind,omitempty"`
	// Seq is the layer counter's value when the entry was stored; the store
	// assigns it (a value given to SetOverride is ignored).
	Seq uint64 `json:"seq"`
}

// EntryKind is how a layer entry is recorded in git, and so when the
// syncer knows git holds it (LayerEntry.InGit).
type EntryKind int

// Entry kinds.
const (
	// KindOverride is recorded as overrides/<env>/<flag>.yaml (a tombstone
	// as that file's removal).
	KindOverride EntryKind = iota
	// KindDisable is recorded as enabled: false in the environment's
	// overlay of flags/<flag>.yaml: the breaker's on_trip: commit. Its
	// Override serves the flag's off variant, without a recovery ramp, until
	// git has the flag disabled; recovery is left to a person.
	KindDisable
)

// String is override or disable.
func (k EntryKind) String() string {
	switch k {
	case KindOverride:
		return "override"
	case KindDisable:
		return "disable"
	}
	return "EntryKind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText encodes k as its String.
func (k EntryKind) MarshalText() ([]byte, error) {
	if k != KindOverride && k != KindDisable {
		return nil, fmt.Errorf("store: unknown entry kind %d", int(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText decodes a String.
func (k *EntryKind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "", "override":
		*k = KindOverride
	case "disable":
		*k = KindDisable
	default:
		return fmt.Errorf("store: unknown entry kind %q", b)
	}
	return nil
}

// InGit reports whether doc, a rule set published from git, holds what e
// says, so that the entry can leave the layer: for a set entry an
// override of the flag with the same at and by (the write-back's commit),
// for a tombstone no override of the flag, and for a KindDisable entry the
// flag disabled in doc's environment (or gone from git: nothing serves it).
func (e LayerEntry) InGit(doc *ruleset.Document) bool {
	if e.Kind == KindDisable {
		f := doc.Flags.Get(e.Flag)
		return f == nil || !f.Enabled
	}
	git := doc.Overrides[e.Flag]
	if e.Override == nil {
		return git == nil
	}
	return git != nil && git.At.Equal(e.Override.At) && git.By == e.Override.By
}

// Layer is an environment's override layer: its entries by flag and its
// counter, which every SetOverride and every DropOverride that drops an
// entry increases by one. The counter is part of the served version.
type Layer struct {
	Seq     uint64
	Entries map[string]LayerEntry
}

// Overrider is a store's runtime override layer: what the admin API, the
// triggers and the breaker write, what bearers apply over each snapshot
// and what the syncer reconciles with git. store.Memory and
// redisstore.Redis implement it.
type Overrider interface {
	// SetOverride checks e against the current snapshot of env (an
	// *OverrideError lists what is wrong, nothing is stored) and stores
	// it, replacing the flag's entry; it returns the entry's Seq. Watchers
	// are told of env. It returns ErrNotFound when env has no snapshot.
	SetOverride(ctx context.Context, env string, e LayerEntry) (seq uint64, err error)
	// Layer returns env's layer; an environment without one has an empty
	// layer with Seq 0.
	Layer(ctx context.Context, env string) (Layer, error)
	// DropOverride removes flag's entry if its Seq is still seq, so that a
	// newer entry is never lost, and tells watchers of env. Otherwise it
	// does nothing; neither is an error.
	DropOverride(ctx context.Context, env, flag string, seq uint64) error
}

// OverrideError is why SetOverride refused an entry: every problem, with
// paths relative to the override ({"serve"}, {"recovery", "every"}).
type OverrideError struct {
	Environment string
	Flag        string
	Problems    []ruleset.FieldError
}

// Error lists the problems on one line.
func (e *OverrideError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid override of flag %q in environment %s:", e.Flag, e.Environment)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteByte(' ')
		b.WriteString(p.String())
	}
	return b.String()
}

// CheckEntry validates e as an entry of env's layer over doc, the current
// rule set of env, with ruleset.CheckOverride, and returns the entry to
// store: its Override copied with the environment filled in, At and By
// taken from it when unset. Stores call it in SetOverride.
func CheckEntry(doc *ruleset.Document, env string, e LayerEntry) (LayerEntry, error) {
	fail := func(path []any, msg string) error {
		return &OverrideError{Environment: env, Flag: e.Flag,
			Problems: []ruleset.FieldError{{Path: path, Message: msg}}}
	}
	if e.Flag == "" {
		return e, fail([]any{"flag"}, "required")
	}
	if e.Override == nil {
		if e.Kind == KindDisable {
			return e, fail([]any{"override"}, "a disable entry needs the override that serves the off variant")
		}
		return e, nil // a tombstone clears whatever is there
	}
	if e.Kind == KindDisable && e.Override.Recovery != nil {
		return e, fail([]any{"recovery"}, "a disable entry has no recovery ramp: a person enables the flag again")
	}
	o := *e.Override
	if o.Flag == "" {
		o.Flag = e.Flag
	}
	if o.Flag != e.Flag {
		return e, fail([]any{"flag"}, fmt.Sprintf("%q is not the entry's flag %q", o.Flag, e.Flag))
	}
	if o.Environment == "" {
		o.Environment = env
	}
	if o.At.IsZero() {
		return e, fail([]any{"at"}, "required")
	}
	if probs := ruleset.CheckOverride(doc, &o); len(probs) > 0 {
		return e, &OverrideError{Environment: env, Flag: e.Flag, Problems: probs}
	}
	e.Override = &o
	if e.At.IsZero() {
		e.At = o.At
	}
	if e.By == "" {
		e.By = o.By
	}
	return e, nil
}

// ServedVersion is the version a bearer serves: the snapshot's (git)
// version alone while the layer counter is 0, else "<git>-<seq>", such as
// "530526d2e559-3".
func ServedVersion(git string, seq uint64) string {
	if seq == 0 {
		return git
	}
	return git + "-" + strconv.FormatUint(seq, 10)
}

// Apply returns doc with the layer's entries applied: a set entry replaces
// the flag's override, a tombstone removes it. An entry that no longer
// fits doc (its flag or variant was removed from git since it was set) is
// skipped and reported in skipped. The result's Version is
// ServedVersion(doc.Version, l.Seq); doc is not modified and shares
// everything but its Overrides map with the result.
func (l Layer) Apply(doc *ruleset.Document) (out *ruleset.Document, skipped []error) {
	nd := *doc
	nd.Version = ServedVersion(doc.Version, l.Seq)
	if len(l.Entries) == 0 {
		return &nd, nil
	}
	nd.Overrides = maps.Clone(doc.Overrides)
	if nd.Overrides == nil {
		nd.Overrides = map[string]*ruleset.Override{}
	}
	for flag, e := range l.Entries {
		if e.Override == nil {
			delete(nd.Overrides, flag)
			continue
		}
		if probs := ruleset.CheckOverride(doc, e.Override); len(probs) > 0 {
			skipped = append(skipped, &OverrideError{Environment: doc.Environment, Flag: flag, Problems: probs})
			continue
		}
		nd.Overrides[flag] = e.Override
	}
	if len(nd.Overrides) == 0 {
		nd.Overrides = nil
	}
	return &nd, skipped
}
