// Package loader reads a flags repository (docs/repository.md: flagpole.yaml,
// attributes.yaml, audiences/, flags/, overrides/<env>/), validates it and
// turns it into one ruleset.Document per environment.
//
// Validation has three stages, and every problem of every stage and file is
// collected and reported at once, each with its file, line, column and
// field path. A file that is not valid YAML stops at stage 1; a file with
// schema errors still gets stage 3 for every field that decoded, leaving
// out problems at, inside or around a field with a schema error:
//
//  1. strict YAML: one document per file holding a mapping, no duplicate
//     keys, no aliases; files no larger than Options.MaxFileSize and never
//     outside the repository root (symlinks included);
//  2. the file's JSON Schema (package schema): unknown fields, wrong types,
//     bad enum values, formats;
//  3. semantic checks. What concerns the repository is checked here:
//     undeclared attributes and environments, duplicate keys across
//     files, file names that do not match keys, overrides that do not
//     match their directory or flag. The rules of flags, audiences and
//     overrides themselves (operators that do not fit the attribute's
//     type, operands, regular expressions, unknown audiences and variants,
//     audience cycles, rollouts that do not sum to 100, override ramps,
//     prerequisite cycles and unknown prerequisites, ramp bounds, schedule
//     steps out of order, metadata bounds)
//     belong to package ruleset: Load compiles each environment's Document
//     and maps the field path of each ruleset.FieldError back to the YAML
//     node it was built from.
//
// A flag in flags/<key>.yaml (or .yml) must have key <key>, an audience in
// audiences/<key>.yaml likewise, and an override in
// overrides/<env>/<flag>.yaml must have flag <flag> and environment <env>.
// Stale flags (past expires), expired overrides, schedule steps in the
// past and ignored files are warnings: the repository still loads. A
// schedule step that sets key, type or variants is an error.
//
// Defaults and decisions (documented in docs/repository.md): attributes.yaml is
// optional (only key and now exist without it); files at the root other
// than flagpole.yaml and attributes.yaml, and dotfiles anywhere, are
// ignored; a flag's type defaults to boolean, enabled to true, off to the
// variant named "off" (required when there is none), default to off, a
// rule's match to all and a rollout's by to key, which must be a string or
// number attribute; operands are parsed by ruleset (semver with an
// optional leading v, datetime as RFC 3339 or a YYYY-MM-DD date); a flag
// has breaker settings only when flagpole.yaml or the flag (or its
// overlay) has a breaker block.
// An overlay replaces the fields it has (rules and variants as a whole),
// except breaker, which merges field by field.
//
// Subpackages own where repositories come from (source) and the sync loop
// (syncer); this package only reads a directory.
package loader

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sort"
	"strings"
	"time"

	"github.com/flagpole/flagpole/ruleset"
	"github.com/flagpole/flagpole/schema"
)

// DefaultMaxFileSize is the largest file Load reads when Options.MaxFileSize
// is zero: 1 MiB.
const DefaultMaxFileSize = 1 << 20

// Options tunes Load. The zero value is ready to use.
type Options struct {
	// Now is the clock for stale-flag and expired-override warnings.
	// Zero: time.Now.
	Now func() time.Time
	// Revision is the commit the directory holds; it becomes the version of
	// every Document. Empty: a hash of the content of the files read.
	Revision string
	// MaxFileSize is the largest file read, in bytes; larger files are
	// errors. Zero: DefaultMaxFileSize.
	MaxFileSize int64
	// Cache, when set, keeps what this load parsed for the next load of the
	// same repository, and reuses what the last one parsed (see Cache).
	// Nil: every file is parsed.
	Cache *Cache
}

// Load reads, validates and builds the flags repository in dir.
//
// When the repository has errors, Load returns a nil Repo and an error of
// type Diagnostics (use errors.As) listing every error and warning, sorted.
// When it cannot read the repository at all (I/O errors), the error is
// another type and names the path. Warnings of a valid repository are in
// Repo.Warnings.
func Load(dir string, opts Options) (*Repo, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	if opts.Cache != nil {
		opts.Cache.mu.Lock()
		defer opts.Cache.mu.Unlock()
		defer opts.Cache.releaseRoots()
		opts.Cache.start(opts.Revision != "")
	}
	t, err := readTree(dir, opts.MaxFileSize, opts.Cache)
	if err != nil {
		return nil, err
	}
	parsed := parseTree(t, opts.Cache)
	if opts.Cache != nil {
		opts.Cache.settleListing(t)
		opts.Cache.listed = t.listing // its dirEntry.last hold for the files parsed
	}
	c := &checker{
		now:           opts.Now(),
		envs:          map[string]bool{},
		attrs:         map[string]ruleset.AttrType{},
		audiences:     map[string]*audienceSrc{},
		overrides:     map[string]map[string]*ruleset.Override{},
		overrideFiles: map[string]map[string]*yfile{},
		broken:        map[string]bool{},
		diags:         t.diags,
	}
	parsed.each(func(f *yfile) { c.diags = append(c.diags, f.diags...) })
	c.loadSettings(parsed.settings)
	c.loadAttributes(parsed.attributes)
	c.registerAudiences(parsed.audiences)
	opts.Cache.registerFlags(c, parsed.flags)
	opts.Cache.checkAudiences(c, parsed.attributes)
	envs := c.checkedEnvironments()
	opts.Cache.checkFlags(c, parsed.attributes, envs)
	for _, f := range parsed.overrides {
		c.checkOverride(f)
	}
	version := opts.Revision
	if version == "" {
		version = contentHash(t)
	}
	// The Documents are compiled even when errors were found: Compile's
	// checks report the remaining problems of the same run.
	docs, changes := opts.Cache.documents(c, version, envs)
	c.checkTriggers(docs)
	sets := opts.Cache.compile(c, docs, changes, envs, ruleset.Options{Now: opts.Now})
	diags := c.diags.sort()
	if diags.HasErrors() {
		return nil, diags
	}
	repo := &Repo{Dir: dir, Version: version, Settings: c.settings, Attributes: c.attributes,
		Documents: docs, Changes: changes, RuleSets: sets, Warnings: diags.Warnings()}
	return repo, nil
}

// checkedEnvironments returns the environments to build and check: the
// declared ones, or when flagpole.yaml is broken "" (the flags' own fields)
// and every environment an overlay names.
func (c *checker) checkedEnvironments() []string {
	if c.settingsOK {
		return c.settings.Environments
	}
	seen := map[string]bool{"": true}
	envs := []string{""}
	for _, fs := range c.flagOrder {
		for env := range fs.form().Environments {
			if !seen[env] {
				seen[env] = true
				envs = append(envs, env)
			}
		}
	}
	sort.Strings(envs[1:])
	return envs
}

// documents assembles one Document per environment. Audiences whose file
// did not decode stand in as empty ones, so that references to them are not
// reported as unknown. flags, when it has an environment, is that
// Document's Flags, made by the caller (Cache.documents).
func (c *checker) documents(version string, envs []string, flags map[string]ruleset.FlagMap) map[string]*ruleset.Document {
	docs := make(map[string]*ruleset.Document, len(envs))
	for _, env := range envs {
		d := &ruleset.Document{Version: version, Environment: env, Commit: version,
			Flags:     flags[env],
			Audiences: make(map[string]*ruleset.Audience, len(c.audiences)),
			Overrides: c.overrides[env],
		}
		if _, ok := flags[env]; !ok {
			b := ruleset.NewFlagMapBuilder(len(c.flags))
			for _, fs := range c.flagOrder { // c.flags in a slice: cheaper to walk
				b.Set(fs.key, fs.perEnv[env])
			}
			d.Flags = b.FlagMap()
		}
		for k, a := range c.audiences {
			d.Audiences[k] = a.out
		}
		for k := range c.broken {
			if key, ok := strings.CutPrefix(k, "audience/"); ok && d.Audiences[key] == nil {
				d.Audiences[key] = &ruleset.Audience{Key: key}
			}
		}
		docs[env] = d
	}
	return docs
}

// parsedTree is the repository's files parsed and schema-checked.
type parsedTree struct {
	settings, attributes *yfile
	audiences, flags     []*yfile
	overrides            []*yfile
}

// each calls fn with every file, in the order they were parsed.
func (pt *parsedTree) each(fn func(*yfile)) {
	for _, f := range []*yfile{pt.settings, pt.attributes} {
		if f != nil {
			fn(f)
		}
	}
	for _, files := range [][]*yfile{pt.audiences, pt.flags, pt.overrides} {
		for _, f := range files {
			fn(f)
		}
	}
}

// parseTree parses every file, on all CPUs (YAML decoding and schema
// validation are most of the work of a load), or takes it from cache.
func parseTree(t *tree, cache *Cache) *parsedTree {
	pt := &parsedTree{
		audiences: make([]*yfile, len(t.audiences)),
		flags:     make([]*yfile, len(t.flags)),
		overrides: make([]*yfile, len(t.overrides)),
	}
	jobs := cache.jobBuffer(2 + len(t.audiences) + len(t.flags) + len(t.overrides))
	if t.settings != nil {
		jobs = append(jobs, parseJob{t.settings, schema.Flagpole, &pt.settings})
	}
	if t.attributes != nil {
		jobs = append(jobs, parseJob{t.attributes, schema.Attributes, &pt.attributes})
	}
	for i, r := range t.audiences {
		jobs = append(jobs, parseJob{r, schema.Audience, &pt.audiences[i]})
	}
	for i, r := range t.flags {
		jobs = append(jobs, parseJob{r, schema.Flag, &pt.flags[i]})
	}
	for i, r := range t.overrides {
		jobs = append(jobs, parseJob{r, schema.Override, &pt.overrides[i]})
	}
	cache.parse(jobs)
	cache.keepJobBuffer(jobs)
	return pt
}

// parseJobs parses the jobs' files on all CPUs.
func parseJobs(jobs []parseJob) {
	onCPUs(len(jobs), func() func(int) {
		return func(i int) {
			j := jobs[i]
			*j.out = parseFile(j.raw.rel, j.raw.data, j.schema)
			(*j.out).dropRoot(j.raw.data, j.schema)
		}
	})
}

// contentHash identifies the repository's content: a SHA-256 over every
// file read, in path order, shortened to 16 hex digits.
func contentHash(t *tree) string {
	h := sha256.New()
	var files []*rawFile
	if t.settings != nil {
		files = append(files, t.settings)
	}
	if t.attributes != nil {
		files = append(files, t.attributes)
	}
	files = append(files, t.audiences...)
	files = append(files, t.flags...)
	files = append(files, t.overrides...)
	var n [8]byte
	for _, f := range files {
		h.Write([]byte(f.rel))
		binary.BigEndian.PutUint64(n[:], uint64(len(f.data)))
		h.Write(n[:])
		h.Write(f.data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
