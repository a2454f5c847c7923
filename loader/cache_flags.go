package loader

import (
	"maps"
	"slices"
	"strings"
	"time"
	"weak"

	"github.com/flagpole/flagpole/ruleset"
)

// flagState is the last load's flags, registered and checked, which a
// Cache keeps when every flag file decoded, is named after its key and
// is the only one with that key: then registering the flags is one entry
// per file, and the next load patches the state where flag files changed
// (flagDelta) instead of registering, looking up and placing in each
// Document every flag again. At 10,000 flags those three walks were about
// a third of a one-file load.
//
// The state holds, after each load through the Cache that kept it:
//   - flags and order: what checker.registerFlags makes of the flag files
//     (each flagSrc's perEnv the flag's outcome for global);
//   - global: the checkKey (f aside) of that load's flag checks, when
//     checked; sched, the flags with a schedule (checked at every load,
//     never in Cache.flagChecks); diags, the Cache.flagChecks entries that
//     have diagnostics, by file;
//   - docs: each environment's Document of that load, handed out and so
//     never changed: the next load clones its Flags.
type flagState struct {
	flags   map[string]*flagSrc // by key
	order   []*flagSrc          // in file order
	files   []*yfile            // order's files: walked without reading each flagSrc
	global  checkKey
	checked bool
	sched   map[string]*flagSrc     // by file
	diags   map[string][]Diagnostic // by file
	docs    map[string]*ruleset.Document
}

// flagDelta is what a load changed of the flags of the last one.
type flagDelta struct {
	added   []*flagSrc // new flagSrcs: of files added or changed
	removed []*flagSrc // the last load's: of files removed or changed
	// checked, when the load checked only what changed (checkDelta), is
	// every flag it checked: the added ones and those with a schedule.
	checked []*flagSrc
	ok      bool
}

// registerFlags registers the flag files (checker.registerFlags) into
// c.flags and c.flagOrder: by patching the last load's when it can
// (flagState), and otherwise afresh, keeping the outcome for the next
// load when it qualifies.
func (k *Cache) registerFlags(c *checker, files []*yfile) {
	if k == nil {
		c.flags = make(map[string]*flagSrc, len(files))
		c.flagOrder = make([]*flagSrc, 0, len(files))
		c.registerFlags(files)
		return
	}
	if s := k.flags; s != nil {
		if d := s.patch(files, &k.decoded); d != nil {
			c.flags, c.flagOrder, k.delta = s.flags, s.order, d
			return
		}
		k.flags = nil
	}
	c.flags = make(map[string]*flagSrc, len(files))
	c.flagOrder = make([]*flagSrc, 0, len(files))
	c.decoded = &k.decoded
	c.registerFlags(files)
	c.decoded = nil
	if len(c.flagOrder) != len(files) {
		return // some did not decode or have a duplicate key
	}
	for _, fs := range c.flagOrder {
		if fs.key != baseName(fs.f.rel) {
			return
		}
	}
	s := &flagState{flags: c.flags, order: c.flagOrder, files: make([]*yfile, len(files))}
	for i, fs := range c.flagOrder {
		s.files[i] = fs.f
	}
	k.flags = s
}

// patch registers files, the flag files of a load in file order, by
// patching s, the last load's registration, and returns what changed;
// nil, leaving s unusable, when some file it has to register did not
// decode, is not named after its key or has the key of another, or when
// so many changed that registering afresh costs about as much. Unchanged
// files are the same *yfile as in the last load (Cache.parse), so one
// walk of both lists in file order finds the changes. decoded is the
// Cache's log for the new flagSrcs.
func (s *flagState) patch(files []*yfile, decoded *formLog) *flagDelta {
	old, oldFiles := s.order, s.files
	limit := len(files)/8 + 64
	d := &flagDelta{}
	order := make([]*flagSrc, 0, len(files))
	i := 0
	for _, f := range files {
		for i < len(old) && oldFiles[i] != f && oldFiles[i].rel < f.rel {
			d.removed = append(d.removed, old[i]) // removed
			i++
		}
		if i < len(old) && oldFiles[i] == f {
			order = append(order, old[i])
			i++
			continue
		}
		if i < len(old) && oldFiles[i].rel == f.rel {
			d.removed = append(d.removed, old[i]) // changed
			i++
		}
		if f == nil || !f.ok || f.decodeErr != nil || f.key != baseName(f.rel) {
			return nil
		}
		fs := &flagSrc{f: f, key: f.key, decoded: decoded}
		fs.raw, _ = f.typed.(*flagYAML)
		d.added = append(d.added, fs)
		order = append(order, fs)
		if len(d.added)+len(d.removed) > limit {
			return nil
		}
	}
	d.removed = append(d.removed, old[i:]...)
	if len(d.added)+len(d.removed) > limit {
		return nil
	}
	for _, fs := range d.removed {
		delete(s.flags, fs.key)
	}
	for _, fs := range d.added {
		if _, dup := s.flags[fs.key]; dup {
			return nil
		}
		s.flags[fs.key] = fs
	}
	if len(d.added) == 0 && len(d.removed) == 0 {
		return d
	}
	s.order = order
	s.files = make([]*yfile, len(files))
	copy(s.files, files)
	return d
}

// checkKeyOf returns the checkKey of a flag file f for this load.
func checkKeyOf(c *checker, attributes *yfile, envs []string) checkKey {
	return checkKey{settings: c.settingsFile, attributes: attributes,
		envs: strings.Join(envs, "\x00"), day: c.now.UTC().Format(time.DateOnly)}
}

// checkDelta is Cache.checkFlags when the flags were registered by
// patching (k.delta) and what every flag is checked against (key) is
// what the last load checked them against: then the flags to check are
// the changed ones and those with a schedule (which checkFlags checks at
// every load too), and every other flag's outcome is the one cached,
// which its flagSrc holds already (perEnv) and, when it has diagnostics,
// s.diags.
func (k *Cache) checkDelta(c *checker, envs []string, key checkKey) {
	s, d := k.flags, k.delta
	for _, fs := range d.removed {
		rel := fs.f.rel
		delete(s.sched, rel)
		delete(s.diags, rel)
		delete(k.flagChecks, rel)
	}
	todo := make([]*flagSrc, 0, len(d.added)+len(s.sched))
	todo = append(todo, d.added...)
	for _, fs := range s.sched {
		todo = append(todo, fs)
	}
	for i, ds := range c.checkFlagsOn(todo, envs) {
		fs := todo[i]
		rel := fs.f.rel
		if scheduled(fs.form()) {
			c.diags = append(c.diags, ds...)
			s.sched[rel] = fs
			continue
		}
		key.f = fs.f
		k.flagChecks[rel] = &flagCheck{key: key, perEnv: fs.perEnv, diags: ds}
		if len(ds) > 0 {
			s.diags[rel] = ds
		} else {
			fs.f.release() // its checks are cached
			fs.forget()
		}
	}
	for _, ds := range s.diags {
		c.diags = append(c.diags, ds...)
	}
	d.checked, d.ok = todo, true
	k.patched++
}

// keep records in k.flags, after Cache.checkFlags checked the flags in
// full against key, what checkDelta needs: the flags with a schedule and
// the cached outcomes with diagnostics.
func (k *Cache) keep(c *checker, key checkKey) {
	s := k.flags
	if s == nil {
		return
	}
	key.f = nil
	s.global, s.checked = key, true
	s.sched = map[string]*flagSrc{}
	s.diags = map[string][]Diagnostic{}
	for _, fs := range c.flagOrder {
		m := k.flagChecks[fs.f.rel]
		switch {
		case m == nil:
			s.sched[fs.f.rel] = fs // checked, not cached: it has a schedule
		case len(m.diags) > 0:
			s.diags[fs.f.rel] = m.diags
		}
	}
}

// documents assembles the Documents (checker.documents). When this load
// checked only what changed (checkDelta), each environment's Flags is the
// last load's, cloned, with the removed flags' keys deleted and the
// checked flags' set: every other flag is the same flagSrc with the same
// perEnv as then, and the FlagMap shares every part of the last one the
// change did not touch. changes then says so per environment
// (ruleset.Change, from the last load's Document: the flags removed and
// checked), so that compiling, and the store's diff of what the syncer
// publishes, look at those flags only.
func (k *Cache) documents(c *checker, version string, envs []string) (map[string]*ruleset.Document, map[string]*ruleset.Change) {
	if k == nil {
		return c.documents(version, envs, nil), nil
	}
	s, d := k.flags, k.delta
	var flags map[string]ruleset.FlagMap
	var changes map[string]*ruleset.Change
	if s != nil && d != nil && d.ok && s.docs != nil {
		flags = make(map[string]ruleset.FlagMap, len(envs))
		changes = make(map[string]*ruleset.Change, len(envs))
		keys := make([]string, 0, len(d.removed)+len(d.checked))
		for _, fs := range d.removed {
			keys = append(keys, fs.key)
		}
		for _, fs := range d.checked {
			keys = append(keys, fs.key)
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
		for _, env := range envs {
			last, ok := s.docs[env]
			if !ok {
				flags, changes = nil, nil
				break
			}
			b := last.Flags.Edit()
			for _, fs := range d.removed {
				b.Delete(fs.key)
			}
			for _, fs := range d.checked {
				b.Set(fs.key, fs.perEnv[env])
			}
			flags[env] = b.FlagMap()
			changes[env] = &ruleset.Change{Base: weak.Make(last), Flags: keys}
		}
	}
	docs := c.documents(version, envs, flags)
	if s != nil {
		s.docs = maps.Clone(docs)
	}
	return docs, changes
}
