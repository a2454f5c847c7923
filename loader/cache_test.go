package loader

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

var cacheSeed = flag.Uint64("cache.seed", 0, "an extra seed for TestCacheMatchesFullLoad (0: only the fixed ones)")

// TestCacheMatchesFullLoad applies random edit sequences to a repository
// (flags, with prerequisites and schedules now and then, and audiences
// added, removed, renamed, modified and changed back, flags duplicated,
// attributes.yaml and flagpole.yaml edited, invalid YAML and schema errors,
// several files at once, in-place edits that keep size and modification
// time) and checks after every step that a load through a Cache returns
// what a load without one does: the same documents, warnings and
// diagnostics, and rule sets that evaluate alike.
func TestCacheMatchesFullLoad(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4}
	if *cacheSeed != 0 {
		seeds = append(seeds, *cacheSeed)
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			e := newEditor(t, seed)
			cache := NewCache()
			var scans scanner
			if seed == 3 {
				cache.MaxChanged = 3 // most multi-file steps fall back to a full load
			}
			if seed <= 2 {
				// Trust metadata at once (nanosecond timestamps here), so
				// that unchanged files are not read at all.
				cache.margin = 0
			}
			valid, named := 0, 0
			var lastFull, lastInc *Repo
			steps := 120
			if raceEnabled {
				steps = 40
			}
			for step := range steps {
				what := e.step()
				// 10 minutes a step: the run crosses midnight (stale flags)
				// and, within a day, the schedule step at 06:00.
				now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(step) * 10 * time.Minute)
				opts := Options{Now: fixed(now), Revision: fmt.Sprint("r", step)}
				if seed%2 == 0 && (seed != 4 || step%7 != 3) {
					// As the syncer does with a directory source: its
					// scan's metadata and content hashes (now and then
					// not, for seed 4: a load that lstats every file
					// comes between loads with a scan).
					cache.UseScan(scans.scan(t, e.dir))
				}
				full, ferr := Load(e.dir, opts)
				opts.Cache = cache
				inc, ierr := Load(e.dir, opts)
				if msg := compareLoads(full, ferr, inc, ierr); msg != "" {
					t.Fatalf("seed %d step %d (%s): %s", seed, step, what, msg)
				}
				if msg := cacheLeftovers(cache); msg != "" {
					t.Fatalf("seed %d step %d (%s): %s", seed, step, what, msg)
				}
				if msg := changesCover(inc, &named); msg != "" {
					t.Fatalf("seed %d step %d (%s): %s", seed, step, what, msg)
				}
				// The rule sets of the last valid load still evaluate as
				// they did: compiling from them did not change them.
				if lastFull != nil {
					if msg := compareRuleSets(lastFull, lastInc); msg != "" {
						t.Fatalf("seed %d step %d (%s): the previous rule sets changed: %s", seed, step, what, msg)
					}
				}
				if ferr == nil {
					lastFull, lastInc = full, inc
				}
				if ferr == nil {
					valid++
				}
			}
			st := cache.Stats()
			if seed <= 2 && cache.unread == 0 {
				t.Error("every file was read: metadata never sufficed")
			}
			if st.Reused == 0 || st.Full == 0 {
				t.Errorf("stats %+v: the cache was never used, or never started cold", st)
			}
			if cache.patched == 0 {
				t.Error("no load patched the last load's flags")
			}
			if named == 0 {
				t.Error("no load said how it patched a Document (Repo.Changes)")
			}
			if seed%2 == 0 && (cache.listedReuse == 0 || cache.listedNamed == 0) {
				t.Errorf("%d files reused from the last scan's listing, %d listings patched from the paths a scan named; want both", cache.listedReuse, cache.listedNamed)
			}
			t.Logf("stats %+v, %d files left unread (%d from the listing, %d listings patched by name), %d loads patched the flags (%d Changes checked), %d valid loads", st, cache.unread, cache.listedReuse, cache.listedNamed, cache.patched, named, valid)
		})
	}
}

// changesCover returns "" when every Repo.Changes entry of repo names
// every flag its Document has other than its base has (the contract
// ruleset.CompileChanged and the store's diff rely on), counting in
// *named the entries checked.
func changesCover(repo *Repo, named *int) string {
	if repo == nil {
		return ""
	}
	for env, ch := range repo.Changes {
		base := ch.Base.Value()
		if base == nil {
			continue // the last load's Document is gone: nothing relies on it
		}
		*named++
		for k := range ruleset.Diff(base, repo.Documents[env]).Flags {
			if !slices.Contains(ch.Flags, k) {
				return fmt.Sprintf("environment %s: flag %s changed from the last load's Document, and Changes names only %v", env, k, ch.Flags)
			}
		}
	}
	return ""
}

// cacheLeftovers returns what a Cache holds after a load that it should
// have let go, or "": a file's node tree, a flag's decoded form that its
// file let go.
func cacheLeftovers(c *Cache) string {
	for rel, e := range c.files {
		if e.f != nil && e.f.src != nil && e.f.root != nil {
			return rel + ": node tree kept"
		}
	}
	if s := c.flags; s != nil {
		for _, fs := range s.order {
			if fs.f.typed == nil && fs.raw != nil {
				return fs.f.rel + ": decoded form kept"
			}
		}
	}
	return ""
}

// compareLoads returns how two loads differ, or "".
func compareLoads(full *Repo, ferr error, inc *Repo, ierr error) string {
	if (ferr == nil) != (ierr == nil) {
		return fmt.Sprintf("full load error %v, cached load error %v", ferr, ierr)
	}
	if ferr != nil {
		var fd, id Diagnostics
		if !errors.As(ferr, &fd) || !errors.As(ierr, &id) {
			return fmt.Sprintf("errors are not diagnostics: %v / %v", ferr, ierr)
		}
		if ferr.Error() != ierr.Error() {
			return fmt.Sprintf("diagnostics differ:\nfull:\n%v\ncached:\n%v", ferr, ierr)
		}
		return ""
	}
	if fmt.Sprint(full.Warnings) != fmt.Sprint(inc.Warnings) {
		return fmt.Sprintf("warnings differ:\n%v\n%v", full.Warnings, inc.Warnings)
	}
	if len(full.Documents) != len(inc.Documents) {
		return fmt.Sprintf("%d documents, cached %d", len(full.Documents), len(inc.Documents))
	}
	for env, fd := range full.Documents {
		fj, _ := json.Marshal(fd)
		ij, _ := json.Marshal(inc.Documents[env])
		if string(fj) != string(ij) {
			i := 0
			for i < len(fj) && i < len(ij) && fj[i] == ij[i] {
				i++
			}
			from := max(0, i-200)
			return fmt.Sprintf("document %s differs at byte %d:\nfull:   ...%s\ncached: ...%s", env, i, fj[from:min(len(fj), i+100)], ij[from:min(len(ij), i+100)])
		}
	}
	if !reflect.DeepEqual(full.Settings, inc.Settings) || !reflect.DeepEqual(full.Attributes, inc.Attributes) {
		return "settings or attributes differ"
	}
	return compareRuleSets(full, inc)
}

// compareRuleSets evaluates every flag of both repositories' rule sets
// for a few contexts and returns the first difference, or "".
func compareRuleSets(full, inc *Repo) string {
	for env, frs := range full.RuleSets {
		irs := inc.RuleSets[env]
		if irs == nil {
			return "no rule set for " + env
		}
		for _, at := range []time.Time{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)} {
			fn, fok := frs.NextChange(at)
			in, iok := irs.NextChange(at)
			fl, flok := frs.LastChange(at)
			il, ilok := irs.LastChange(at)
			if !fn.Equal(in) || fok != iok || !fl.Equal(il) || flok != ilok {
				return fmt.Sprintf("%s: NextChange/LastChange(%s) full %s %v / %s %v, cached %s %v / %s %v", env, at, fn, fok, fl, flok, in, iok, il, ilok)
			}
		}
		for _, key := range frs.Keys() {
			for _, ctx := range evalContexts {
				if a, b := frs.Evaluate(key, ctx), irs.Evaluate(key, ctx); !reflect.DeepEqual(a, b) {
					return fmt.Sprintf("%s %s %v: full %+v, cached %+v", env, key, ctx, a, b)
				}
			}
		}
	}
	return ""
}

var evalContexts = []ruleset.Context{
	{"key": "u1"}, {"key": "u7", "plan": "pro", "age": 30.0},
	{"key": "x", "plan": "free", "age": 17.0, "country": "de"},
	{"key": "y", "country": "us", "age": 65.0, "plan": "pro"},
}

// editor makes random edits to a small repository on disk.
type editor struct {
	t      *testing.T
	dir    string
	rng    *rand.Rand
	flags  []string // keys with a file
	auds   []string
	past   map[string][]string // earlier contents of each path, to change back to
	nextID int
	// repairs undo the edits that made the repository invalid; most steps
	// run them first, so that most loads succeed and compile.
	repairs []func() string
}

func newEditor(t *testing.T, seed uint64) *editor {
	e := &editor{t: t, dir: t.TempDir(), rng: rand.New(rand.NewPCG(seed, 99)), past: map[string][]string{}}
	e.write("flagpole.yaml", "version: 1\nenvironments: [production, staging]\n")
	e.write("attributes.yaml", testAttributes(true))
	for range 5 {
		e.addAudience()
	}
	for range 25 {
		e.addFlag()
	}
	return e
}

func testAttributes(withCountry bool) string {
	s := "attributes:\n  - {name: plan, type: string}\n  - {name: age, type: number}\n"
	if withCountry {
		s += "  - {name: country, type: string}\n"
	}
	return s
}

// dropOverride removes the override of flag key, if any.
func (e *editor) dropOverride(key string) {
	rel := "overrides/production/" + key + ".yaml"
	if _, err := os.Stat(filepath.Join(e.dir, rel)); err == nil {
		e.remove(rel)
	}
}

func (e *editor) write(rel, content string) {
	p := filepath.Join(e.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if old, err := os.ReadFile(p); err == nil {
		e.past[rel] = append(e.past[rel], string(old))
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *editor) remove(rel string) {
	if err := os.Remove(filepath.Join(e.dir, filepath.FromSlash(rel))); err != nil {
		e.t.Fatal(err)
	}
}

func (e *editor) pick(keys []string) (string, int) {
	i := e.rng.IntN(len(keys))
	return keys[i], i
}

// cond returns a condition; audiences it refers to sort before below.
func (e *editor) cond(below string) string {
	switch e.rng.IntN(5) {
	case 0:
		return fmt.Sprintf("{attribute: plan, operator: eq, value: %s}", []string{"pro", "free"}[e.rng.IntN(2)])
	case 1:
		return fmt.Sprintf("{attribute: age, operator: gte, value: %d}", 10+e.rng.IntN(60))
	case 2:
		return "{attribute: country, operator: in, values: [us, de]}" // undeclared when attributes.yaml lacks it
	case 3:
		// Only audiences made earlier than below, so that there are no cycles.
		var earlier []string
		for _, a := range e.auds {
			if a < below {
				earlier = append(earlier, a)
			}
		}
		if len(earlier) > 0 {
			a, _ := e.pick(earlier)
			return fmt.Sprintf("{audience: %s}", a)
		}
	}
	return "{attribute: key, operator: starts_with, value: u}"
}

func (e *editor) audienceYAML(key string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "key: %s\nmatch: %s\nconditions:\n", key, []string{"all", "any"}[e.rng.IntN(2)])
	for range 1 + e.rng.IntN(2) {
		fmt.Fprintf(&b, "  - %s\n", e.cond(key))
	}
	return b.String()
}

func (e *editor) flagYAML(key string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "key: %s\ndescription: d%d\n", key, e.rng.IntN(3))
	if e.rng.IntN(6) == 0 {
		b.WriteString("expires: 2026-03-01\n") // stale from midnight on
	}
	if e.rng.IntN(2) == 0 {
		b.WriteString("type: string\nvariants: {off: O, a: A, b: B}\noff: off\n")
		fmt.Fprintf(&b, "rules:\n  - conditions: [%s]\n    serve: b\n", e.cond("z"))
		if e.rng.IntN(3) == 0 {
			b.WriteString("  - rollout: {a: 50, b: 50}\n")
		}
	} else {
		fmt.Fprintf(&b, "rules:\n  - users: [u%d]\n    serve: on\n", e.rng.IntN(9))
		if len(e.auds) > 0 && e.rng.IntN(2) == 0 {
			a, _ := e.pick(e.auds)
			fmt.Fprintf(&b, "  - audiences: [%s]\n    serve: on\n", a)
		}
	}
	if e.rng.IntN(8) == 0 {
		// A prerequisite on a flag made earlier, so that there are no cycles.
		var earlier []string
		for _, f := range e.flags {
			if f < key {
				earlier = append(earlier, f)
			}
		}
		if len(earlier) > 0 {
			req, _ := e.pick(earlier)
			fmt.Fprintf(&b, "requires:\n  - {flag: %s, variants: [off]}\n", req)
		}
	}
	if e.rng.IntN(8) == 0 {
		b.WriteString("schedule:\n  - {at: 2026-03-02T06:00:00Z, enabled: false}\n") // in the past from the second day on
	}
	if e.rng.IntN(4) == 0 {
		b.WriteString("environments:\n  staging: {enabled: false}\n")
	}
	return b.String()
}

// repairFlag returns a repair that writes a valid file for flag key.
func (e *editor) repairFlag(key string) func() string {
	return func() string {
		if !slices.Contains(e.flags, key) {
			return "flag " + key + " is gone"
		}
		e.write("flags/"+key+".yaml", e.flagYAML(key))
		return "repair flag " + key
	}
}

// repairDependents returns a repair that rewrites the flags that require
// flag key, which is gone.
func (e *editor) repairDependents(key string) func() string {
	return func() string {
		n := 0
		for _, f := range e.flags {
			data, err := os.ReadFile(filepath.Join(e.dir, "flags", f+".yaml"))
			if err == nil && strings.Contains(string(data), "{flag: "+key+",") {
				e.write("flags/"+f+".yaml", e.flagYAML(f))
				n++
			}
		}
		return fmt.Sprintf("rewrite %d flags that required %s", n, key)
	}
}

func (e *editor) addFlag() string {
	e.nextID++
	key := fmt.Sprintf("f%03d", e.nextID)
	e.flags = append(e.flags, key)
	e.write("flags/"+key+".yaml", e.flagYAML(key))
	return key
}

func (e *editor) addAudience() string {
	e.nextID++
	key := fmt.Sprintf("a%03d", e.nextID)
	e.auds = append(e.auds, key)
	e.write("audiences/"+key+".yaml", e.audienceYAML(key))
	return key
}

// step makes one to three edits and describes them.
func (e *editor) step() string {
	var did []string
	if len(e.repairs) > 0 && e.rng.IntN(10) < 7 {
		for _, r := range e.repairs {
			did = append(did, r())
		}
		e.repairs = nil
	}
	for range 1 + e.rng.IntN(3)*e.rng.IntN(2) {
		did = append(did, e.edit())
	}
	return strings.Join(did, ", ")
}

func (e *editor) edit() string {
	switch n := e.rng.IntN(16); {
	case n < 4 && len(e.flags) > 0:
		key, _ := e.pick(e.flags)
		e.write("flags/"+key+".yaml", e.flagYAML(key))
		return "modify flag " + key
	case n == 4:
		return "add flag " + e.addFlag()
	case n == 5 && len(e.flags) > 1:
		key, i := e.pick(e.flags)
		e.flags = append(e.flags[:i], e.flags[i+1:]...)
		e.remove("flags/" + key + ".yaml")
		e.dropOverride(key)
		e.repairs = append(e.repairs, e.repairDependents(key))
		return "remove flag " + key
	case n == 6 && len(e.flags) > 0:
		// Rename: the file and its key, or the file only (key mismatch).
		key, i := e.pick(e.flags)
		data, _ := os.ReadFile(filepath.Join(e.dir, "flags", key+".yaml"))
		e.nextID++
		nk := fmt.Sprintf("f%03d", e.nextID)
		e.remove("flags/" + key + ".yaml")
		e.dropOverride(key)
		e.repairs = append(e.repairs, e.repairDependents(key))
		if e.rng.IntN(2) == 0 {
			data = []byte(strings.Replace(string(data), "key: "+key, "key: "+nk, 1))
		} else {
			e.repairs = append(e.repairs, e.repairFlag(nk))
		}
		e.flags[i] = nk
		e.write("flags/"+nk+".yaml", string(data))
		return "rename flag " + key + " to " + nk
	case n == 7 && len(e.auds) > 0:
		key, _ := e.pick(e.auds)
		e.write("audiences/"+key+".yaml", e.audienceYAML(key))
		return "modify audience " + key
	case n == 8:
		if len(e.auds) > 1 && e.rng.IntN(2) == 0 {
			key, i := e.pick(e.auds)
			e.auds = append(e.auds[:i], e.auds[i+1:]...)
			e.remove("audiences/" + key + ".yaml")
			e.repairs = append(e.repairs, func() string {
				e.auds = append(e.auds, key)
				e.write("audiences/"+key+".yaml", e.audienceYAML(key))
				return "re-add audience " + key
			})
			return "remove audience " + key
		}
		return "add audience " + e.addAudience()
	case n == 9:
		with := e.rng.IntN(3) > 0
		e.write("attributes.yaml", testAttributes(with))
		if !with {
			e.repairs = append(e.repairs, func() string {
				e.write("attributes.yaml", testAttributes(true))
				return "attributes.yaml with country"
			})
		}
		return fmt.Sprint("attributes.yaml country ", with)
	case n == 10:
		envs := []string{"[production, staging]", "[production]", "[production, staging, dev]"}[e.rng.IntN(3)]
		breaker := []string{"", "breaker: {error_rate: 7}\n"}[e.rng.IntN(2)]
		e.write("flagpole.yaml", "version: 1\nenvironments: "+envs+"\n"+breaker)
		e.repairs = append(e.repairs, func() string {
			e.write("flagpole.yaml", "version: 1\nenvironments: [production, staging]\n"+breaker)
			return "flagpole.yaml back"
		})
		return "flagpole.yaml " + envs
	case n == 11 && len(e.flags) > 0:
		key, _ := e.pick(e.flags)
		bad := []string{"key: " + key + "\nrules: [\n", "key: " + key + "\nenabled: maybe\n", "key: " + key + "\nrules:\n  - serve: nope\n"}
		e.write("flags/"+key+".yaml", bad[e.rng.IntN(len(bad))])
		e.repairs = append(e.repairs, e.repairFlag(key))
		return "invalid flag " + key
	case n == 12:
		// Change a file back to an earlier content.
		var paths []string
		for p := range e.past {
			if _, err := os.Stat(filepath.Join(e.dir, p)); err == nil {
				paths = append(paths, p)
			}
		}
		if len(paths) == 0 {
			return "nothing to change back"
		}
		sort.Strings(paths)
		p := paths[e.rng.IntN(len(paths))]
		old := e.past[p][e.rng.IntN(len(e.past[p]))]
		e.write(p, old)
		if key, ok := strings.CutPrefix(p, "flags/"); ok {
			e.repairs = append(e.repairs, e.repairFlag(strings.TrimSuffix(key, ".yaml")))
		}
		return "change back " + p
	case n == 14 && len(e.flags) > 0:
		key, _ := e.pick(e.flags)
		rel := "overrides/production/" + key + ".yaml"
		if _, err := os.Stat(filepath.Join(e.dir, rel)); err == nil && e.rng.IntN(2) == 0 {
			e.remove(rel)
			return "clear override " + key
		}
		e.write(rel, fmt.Sprintf("flag: %s\nenvironment: production\nserve: off\nreason: test %d\nby: t\nat: 2026-03-01T00:00:00Z\n", key, e.rng.IntN(3)))
		return "set override " + key
	case n == 15 && len(e.flags) > 0:
		// A second file with the same key, next to the first: a duplicate.
		key, _ := e.pick(e.flags)
		data, _ := os.ReadFile(filepath.Join(e.dir, "flags", key+".yaml"))
		rel := "flags/" + key + ".yml"
		e.write(rel, string(data))
		e.repairs = append(e.repairs, func() string {
			e.remove(rel)
			return "remove " + rel
		})
		return "duplicate flag " + key
	case n == 13 && len(e.flags) > 0:
		// Same size, same modification time, other content.
		key, _ := e.pick(e.flags)
		p := filepath.Join(e.dir, "flags", key+".yaml")
		st, err := os.Stat(p)
		if err != nil {
			e.t.Fatal(err)
		}
		data, _ := os.ReadFile(p)
		i := strings.Index(string(data), "description: d")
		if i < 0 {
			return "no description in " + key
		}
		d := []byte(data)
		d[i+len("description: d")] = "012"[(d[i+len("description: d")]-'0'+1)%3]
		e.write("flags/"+key+".yaml", string(d))
		if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
			e.t.Fatal(err)
		}
		return "same size and mtime " + key
	}
	return "no edit"
}
