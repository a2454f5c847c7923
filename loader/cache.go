package loader

import (
	"crypto/sha256"
	"os"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flagpole/flagpole/internal/fstat"
	"github.com/flagpole/flagpole/ruleset"
)

// DefaultMaxChanged is the number of changed files above which a load with
// a Cache checks and compiles everything again (Cache.MaxChanged zero).
const DefaultMaxChanged = 1000

// Cache keeps the parsed and schema-checked form of every file of a
// repository between loads, keyed by the file's path and the SHA-256 of its
// content, so that loading the next revision parses only the files whose
// content changed. Pass the same Cache in Options.Cache to every Load of
// one repository; a load with a Cache returns exactly what a load without
// one returns (documents, rule sets, diagnostics).
//
// A file is unchanged when its metadata says so (size, modification and
// change time, inode: package fstat, which a rewrite that restores size and
// modification time does not fool), and then it is not even read, provided
// the load has a Revision; otherwise when the SHA-256 of its content is the
// one parsed before. The cache holds the files of the last revision loaded only, so it
// is bounded by the repository's size (at most the repository's file count
// entries). A Cache is safe for concurrent use; loads through it run one at
// a time.
type Cache struct {
	// MaxChanged is the number of changed files (added, modified or removed)
	// above which a load checks and compiles every flag and audience again
	// instead of only what the changes touch (changed files are parsed
	// either way, unchanged ones never). Zero: DefaultMaxChanged.
	MaxChanged int

	mu          sync.Mutex // held for a whole load
	loadStart   time.Time
	skipReads   bool
	margin      time.Duration // fstat.Margin; tests shorten it
	unread      int           // files left unread over all loads, for tests
	patched     int           // loads that checked only the changed flags (checkDelta), for tests
	listedReuse int           // files reused from the listing (dirEntry.last), for tests
	listedNamed int           // listings patched from the paths a scan named (fstat.Scan.Since), for tests
	files       map[string]*cacheEntry
	audChecks   map[string]*audienceCheck // by file
	flagChecks  map[string]*flagCheck     // by file
	sets        map[string]*ruleset.RuleSet
	stats       CacheStats
	// given holds the scan handed over for the next load (UseScan); taken
	// by start into scan, which serves that load only.
	given, scan *fstat.Scan
	// listed is the listing of the last scan a load was handed (listing).
	listed *scanListing
	// flags is the last load's flags, registered and checked, when it can
	// be patched (flagState); delta what this load changed of it.
	flags *flagState
	delta *flagDelta
	// gen counts loads: files holds the entries of this load's files
	// (cacheEntry.gen).
	gen uint64
	// rooted holds the files whose node tree a load parsed again
	// (rootNode), which releaseRoots drops.
	rooted rootLog
	// decoded holds the flags whose decoded form a load made again
	// (flagSrc.form), which releaseRoots drops.
	decoded formLog
	// jobs is the last load's parse jobs, emptied, for the next
	// (jobBuffer): at 100,000 files a new one was 3 MB per load.
	jobs []parseJob
}

// jobBuffer returns an empty slice of parse jobs for n files: the last
// load's, when c has it and it is large enough.
func (c *Cache) jobBuffer(n int) []parseJob {
	if c != nil && cap(c.jobs) >= n {
		jobs := c.jobs[:0]
		c.jobs = nil
		return jobs
	}
	return make([]parseJob, 0, n)
}

// keepJobBuffer keeps jobs, cleared so that it holds no file, for the next
// load.
func (c *Cache) keepJobBuffer(jobs []parseJob) {
	if c == nil {
		return
	}
	clear(jobs)
	c.jobs = jobs[:0]
}

// cacheEntry is one parsed file.
type cacheEntry struct {
	sum    [sha256.Size]byte
	schema string
	f      *yfile // never changed after parseFile: shared between loads
	stat   fileStat
	readAt time.Time // start of the load that read the file
	gen    uint64    // the last load that had the file
}

// CacheStats counts what the loads through a Cache did.
type CacheStats struct {
	// Loads is the number of loads; Full those that checked and compiled
	// everything (the first, and those with more than MaxChanged changed
	// files).
	Loads, Full int
	// Parsed and Reused count files over all loads.
	Parsed, Reused int
	// LastParsed is the number of files the last load parsed.
	LastParsed int
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{files: map[string]*cacheEntry{}, margin: fstat.Margin} }

// Stats returns the counts so far.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Reset drops every entry: the next load starts cold.
func (c *Cache) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
}

func (c *Cache) reset() {
	c.files = map[string]*cacheEntry{}
	c.audChecks, c.flagChecks, c.sets = nil, nil, nil
	c.listed, c.flags, c.delta = nil, nil, nil
}

// parseJob is one file to parse against a schema.
type parseJob struct {
	raw    *rawFile
	schema string
	out    **yfile
}

// fileStat is a file's metadata when read, if the system gives it.
type fileStat struct {
	key fstat.Key
	ok  bool
}

func statOf(fi os.FileInfo) fileStat {
	k, ok := fstat.Of(fi)
	return fileStat{key: k, ok: ok}
}

// start begins a load. skipReads says the load may leave files that are
// unchanged by their metadata unread (it has a revision to name it, so it
// needs no hash of every file's content).
func (c *Cache) start(skipReads bool) {
	c.loadStart, c.skipReads = time.Now(), skipReads
	c.scan, c.given = c.given, nil
	c.delta = nil
	c.gen++
}

// UseScan hands the next load through c what a scan of the repository's
// directory found at each path (source.Revision.Files, by slash path
// relative to the directory): the lstat of each file and symbolic link,
// each regular file's content SHA-256, and the directories. The load then
//   - lists each directory the scan holds as the scan found it, so that a
//     file created since belongs to the next revision (at 10,000 files,
//     listing and sorting them again was a tenth of a one-file change);
//   - uses a path's lstat as its own (at 10,000 files that second walk was
//     a sixth of a one-file change), and lstats paths the scan lacks;
//   - leaves unread a file whose scanned hash is the one cached;
//   - checks that every file it reads has the scanned hash and is still
//     there. Otherwise the directory changed after the scan, and the load
//     fails with ErrChanged: publishing what it read under the scan's
//     revision ID would pair that ID with content it does not stand for.
//
// A directory the scan reached through a symbolic link, which it does not
// follow, is listed from the file system, and its files are not checked
// against the scan. scan is read-only; only the next load uses it.
func (c *Cache) UseScan(scan *fstat.Scan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.given = scan
}

// scanned returns what the scan handed to this load (UseScan) found at
// rel, and false if there is no scan or rel is not in it.
func (c *Cache) scanned(rel string) (fstat.Scanned, bool) {
	if c == nil || c.scan == nil {
		return fstat.Scanned{}, false
	}
	sc, ok := c.scan.Files[rel]
	return sc, ok
}

// unchanged returns the cache's entry for the file rel, whose metadata is
// now st, when the file can be left unread (else nil): the cache holds it, and the scan (sc, when scanned) found
// the content hash it holds, or else its metadata says it has not changed
// since (package fstat). It runs on the reader's goroutines while the load
// holds c.mu, so the entries do not change meanwhile.
func (c *Cache) unchanged(rel string, st fileStat, sc fstat.Scanned, scanned bool) *cacheEntry {
	if c == nil || !c.skipReads {
		return nil
	}
	e := c.files[rel]
	if e == nil {
		return nil
	}
	if scanned && sc.Kind == fstat.KindFile {
		if e.sum == sc.Sum {
			return e
		}
		return nil
	}
	if st.ok && e.stat.ok && fstat.Unchanged(e.stat.key, st.key, e.readAt, c.margin) {
		return e
	}
	return nil
}

// parse fills every job's output, from the cache where the file's content
// is unchanged (by its metadata, or else by its SHA-256), and makes the
// cache hold exactly the jobs' files. A nil cache parses everything.
//
// The entries of unchanged files stay as they are, and a file left
// unread (rawFile.reuse) is not even looked up: at 100,000 files, making
// a map of every file again was a few milliseconds of each load, and
// looking each up about as much.
func (c *Cache) parse(jobs []parseJob) {
	if c == nil {
		parseJobs(jobs)
		return
	}
	var todo []parseJob
	var fresh []*cacheEntry // todo's entries
	had, seen := len(c.files), 0
	for _, j := range jobs {
		if j.raw.reuse { // unchanged: its entry is c.files[rel]
			seen++
			c.unread++
			*j.out = j.raw.f
			continue
		}
		e := c.files[j.raw.rel]
		if e != nil {
			seen++
		}
		sum := j.raw.sum
		if !j.raw.summed {
			sum = sha256.Sum256(j.raw.data)
		}
		if e != nil && e.sum == sum && e.schema == j.schema {
			*j.out = e.f
			c.files[j.raw.rel] = &cacheEntry{sum: sum, schema: j.schema, f: e.f, stat: j.raw.stat, readAt: c.loadStart, gen: c.gen}
			continue
		}
		todo = append(todo, j)
		e = &cacheEntry{sum: sum, schema: j.schema, stat: j.raw.stat, readAt: c.loadStart, gen: c.gen}
		fresh = append(fresh, e)
		c.files[j.raw.rel] = e
	}
	if seen < had { // files of the last load not in this one
		for _, j := range jobs {
			if e := c.files[j.raw.rel]; e != nil {
				e.gen = c.gen
			}
		}
		for rel, e := range c.files {
			if e.gen != c.gen {
				delete(c.files, rel)
			}
		}
	}
	changed := had - seen + len(todo)
	c.stats.Loads++
	max := c.MaxChanged
	if max <= 0 {
		max = DefaultMaxChanged
	}
	if had == 0 || changed > max {
		// Many changes: check and compile everything afresh, as a load
		// without a cache does, rather than sort out what depends on what.
		c.stats.Full++
		c.audChecks, c.flagChecks, c.sets = nil, nil, nil
		c.flags = nil
	}
	parseJobs(todo)
	for i, j := range todo {
		f := *j.out
		if f.root != nil {
			f.src, f.schema = j.raw.data, j.schema
		}
		f.rooted = &c.rooted
		fresh[i].f = f
	}
	c.stats.Parsed += len(todo)
	c.stats.Reused += len(jobs) - len(todo)
	c.stats.LastParsed = len(todo)
}

// checkKey is everything a flag's checks and build depend on besides its
// own file: flagpole.yaml (environments, breaker defaults), attributes.yaml
// (attribute types), the environments built and the date (stale-flag
// warnings change at midnight UTC). Flags with a schedule are not cached:
// their warnings depend on the time to the second. Files are compared by identity: the
// cache hands out the same *yfile while a file's content is unchanged.
type checkKey struct {
	f, settings, attributes *yfile
	envs                    string
	day                     string
}

// flagCheck is the outcome of checking one flag file.
type flagCheck struct {
	key    checkKey
	perEnv map[string]*ruleset.Flag // never changed once built
	diags  []Diagnostic
}

// audienceCheck is the outcome of checking one audience file, which
// depends on attributes.yaml besides the file.
type audienceCheck struct {
	f, attributes *yfile
	out           *ruleset.Audience
	diags         []Diagnostic
}

// checkAudiences checks every audience, reusing the outcome of the last
// load for files and attributes.yaml that did not change.
func (k *Cache) checkAudiences(c *checker, attributes *yfile) {
	if k == nil {
		c.checkAudiences()
		return
	}
	next := make(map[string]*audienceCheck, len(c.audiences))
	for _, a := range c.sortedAudiences() {
		if m := k.audChecks[a.f.rel]; m != nil && m.f == a.f && m.attributes == attributes {
			a.out = m.out
			c.diags = append(c.diags, m.diags...)
			next[a.f.rel] = m
			continue
		}
		n := len(c.diags)
		c.checkAudience(a)
		next[a.f.rel] = &audienceCheck{f: a.f, attributes: attributes, out: a.out, diags: append([]Diagnostic(nil), c.diags[n:]...)}
	}
	k.audChecks = next
}

// checkFlags checks and builds every flag for envs, reusing the outcome of
// the last load for flags whose inputs (checkKey) did not change.
func (k *Cache) checkFlags(c *checker, attributes *yfile, envs []string) {
	if k == nil {
		for _, ds := range c.checkFlagsOn(c.flagOrder, envs) {
			c.diags = append(c.diags, ds...)
		}
		return
	}
	key := checkKeyOf(c, attributes, envs)
	if s := k.flags; s != nil && k.delta != nil && s.checked && s.global == key && k.flagChecks != nil {
		k.checkDelta(c, envs, key)
		return
	}
	// The flags to check, on all CPUs: those whose inputs changed, and
	// those with a schedule, whose steps are checked against the clock to
	// the second (at every load: they are never kept in flagChecks). Then
	// every flag's outcome, in order.
	var todo []*flagSrc
	for _, fs := range c.flagOrder {
		key.f = fs.f
		if m := k.flagChecks[fs.f.rel]; m == nil || m.key != key {
			todo = append(todo, fs)
		}
	}
	checked := make(map[*flagSrc][]Diagnostic, len(todo))
	for i, ds := range c.checkFlagsOn(todo, envs) {
		checked[todo[i]] = ds
	}
	next := make(map[string]*flagCheck, len(c.flagOrder))
	for _, fs := range c.flagOrder {
		key.f = fs.f
		ds, done := checked[fs]
		switch {
		case done && scheduled(fs.form()):
			c.diags = append(c.diags, ds...)
		case done:
			c.diags = append(c.diags, ds...)
			next[fs.f.rel] = &flagCheck{key: key, perEnv: fs.perEnv, diags: ds}
			if len(ds) == 0 {
				fs.f.release() // its checks are cached
				fs.forget()
			}
		default:
			m := k.flagChecks[fs.f.rel]
			fs.perEnv = m.perEnv
			c.diags = append(c.diags, m.diags...)
			next[fs.f.rel] = m
		}
	}
	k.flagChecks = next
	k.keep(c, key)
}

// compile compiles every environment's Document, from the rule sets of the
// last load that compiled (ruleset.CompileFrom, or CompileChanged for the
// flags changes names) when there are some.
func (k *Cache) compile(c *checker, docs map[string]*ruleset.Document, changes map[string]*ruleset.Change, envs []string, opts ruleset.Options) map[string]*ruleset.RuleSet {
	if k == nil {
		return c.compileAll(docs, envs, opts, nil, nil)
	}
	sets := c.compileAll(docs, envs, opts, k.sets, changes)
	next := make(map[string]*ruleset.RuleSet, len(envs))
	for _, env := range envs {
		if rs := sets[env]; rs != nil {
			next[env] = rs
		} else if rs := k.sets[env]; rs != nil {
			next[env] = rs // still a valid base: reuse is decided per flag pointer
		}
	}
	k.sets = next
	return sets
}

// releaseRoots drops the YAML node tree of every cached file once a load is
// done: at 10,000 flags the trees are most of what a Cache holds (about
// 80 MiB of 120), and only diagnostics need them, for positions. A file's
// bytes stay (rootNode parses them again). parseFile's trees are dropped
// as soon as the file is parsed, so the trees left are those rootNode
// made again, which it logged (c.rooted): walking every file instead was
// a few milliseconds of each load at 10,000 flags. Likewise the decoded
// forms of flags that flagSrc.form made again, whose files' own were let
// go (yfile.release).
func (c *Cache) releaseRoots() {
	if c == nil {
		return
	}
	c.scan = nil // UseScan served this load only
	for _, f := range c.rooted.take() {
		if f.src != nil {
			f.root = nil
		}
	}
	for _, fs := range c.decoded.take() {
		fs.forget()
	}
}

// takeLog is a list that a load's goroutines append to and that the
// load takes whole when it is done: the files whose node tree rootNode
// made again (rootLog), the flags whose decoded form flagSrc.form made
// again (formLog).
type takeLog[T any] struct {
	mu    sync.Mutex
	items []T
}

type (
	rootLog = takeLog[*yfile]
	formLog = takeLog[*flagSrc]
)

func (l *takeLog[T]) add(v T) {
	l.mu.Lock()
	l.items = append(l.items, v)
	l.mu.Unlock()
}

func (l *takeLog[T]) take() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	items := l.items
	l.items = nil
	return items
}

// rootNode returns the file's root mapping, parsing the file again when a
// Cache dropped it (releaseRoots). Loads through a Cache run one at a time,
// and a file's tree is made on one goroutine at a time (the load's, or the
// one checking the flag the file holds), so this needs no lock of its own.
func (f *yfile) rootNode() *yaml.Node {
	if f.root == nil && f.src != nil {
		f.root = parseRoot(f.src)
		if f.rooted != nil {
			f.rooted.add(f)
		}
	}
	return f.root
}

// scheduled reports whether a flag file has a schedule, its own or an
// overlay's.
func scheduled(raw *flagYAML) bool {
	if raw.Schedule != nil {
		return true
	}
	for _, ov := range raw.Environments {
		if ov.Schedule != nil {
			return true
		}
	}
	return false
}
