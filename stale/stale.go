package stale

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

// Category says why a flag is listed.
type Category int

// Categories, in the order a report lists them.
const (
	Expired      Category = iota // past its expires date
	PastLifetime                 // no expires, older than its kind's expected lifetime
	Constant                     // serves one variant to everyone everywhere
)

// String returns the category's name as the JSON output spells it.
func (c Category) String() string {
	switch c {
	case Expired:
		return "expired"
	case PastLifetime:
		return "past-lifetime"
	case Constant:
		return "constant"
	}
	return "unknown"
}

// MarshalText encodes c as its name.
func (c Category) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Finding is one stale flag, for one reason. A flag may have a finding of
// each category.
type Finding struct {
	Flag     string       `json:"flag"`
	File     string       `json:"file"` // flags/<key>.yaml
	Kind     ruleset.Kind `json:"kind,omitempty"`
	Category Category     `json:"category"`
	// Why explains the finding in words.
	Why string `json:"why"`
	// Variant and Value are what everyone gets (Constant only).
	Variant string `json:"variant,omitempty"`
	Value   any    `json:"value,omitempty"`
	// Added is when the flag file was first committed (PastLifetime only).
	Added *time.Time `json:"added,omitempty"`
}

// Unknown is a flag whose age is needed (it has a kind with a lifetime and
// no expires date) but cannot be told.
type Unknown struct {
	Flag string `json:"flag"`
	Why  string `json:"why"`
}

// Report is the outcome of Find.
type Report struct {
	Dir      string    `json:"dir"`
	Now      time.Time `json:"now"`
	Flags    int       `json:"flags"` // flags examined
	Findings []Finding `json:"findings"`
	// AgeUnknown lists flags whose age could not be told.
	AgeUnknown []Unknown `json:"age_unknown"`
	// Notes say what limits the analysis (no git history, a shallow clone).
	Notes []string `json:"notes"`
}

// ConstantGrace is how long a new flag that serves one variant to everyone
// is left alone (when git dates it): it is most likely about to launch.
const ConstantGrace = 7 * 24 * time.Hour

// Options tunes Find. The zero value is ready to use.
type Options struct {
	// Now is the clock that ages are measured against. Zero: time.Now.
	Now func() time.Time
	// GitTimeout bounds the git commands that date the flag files. Zero: 30s.
	GitTimeout time.Duration
}

// Find lists the stale flags of repo, a repository loaded from repo.Dir.
func Find(ctx context.Context, repo *loader.Repo, opts Options) (*Report, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.GitTimeout <= 0 {
		opts.GitTimeout = 30 * time.Second
	}
	now := opts.Now()
	rep := &Report{Dir: repo.Dir, Now: now, Findings: []Finding{}, AgeUnknown: []Unknown{}, Notes: []string{}}
	keys := flagKeys(repo)
	rep.Flags = len(keys)
	var ages *gitAges
	getAges := func() *gitAges {
		if ages == nil {
			gctx, cancel := context.WithTimeout(ctx, opts.GitTimeout)
			ages = readGitAges(gctx, repo.Dir)
			cancel()
			rep.Notes = append(rep.Notes, ages.notes...)
		}
		return ages
	}
	for _, key := range keys {
		fl := anyFlag(repo, key)
		file := flagFile(repo.Dir, key)
		if fl.Expires != "" {
			if exp, err := time.Parse(time.DateOnly, fl.Expires); err == nil && !now.Before(exp.AddDate(0, 0, 1)) {
				days := int(now.Sub(exp).Hours() / 24)
				rep.Findings = append(rep.Findings, Finding{Flag: key, File: file, Kind: fl.Kind, Category: Expired,
					Why: fmt.Sprintf("expired on %s (%s ago): remove it, or extend expires", fl.Expires, daysText(days))})
			}
		} else if life, ok := fl.Kind.Lifetime(); ok {
			rep.lifetime(key, file, fl.Kind, life, getAges())
		}
		if fl.Kind.Permanent() {
			continue // a kill switch or a permission serving one variant is doing its job
		}
		if f, ok := constant(repo, key); ok {
			// A flag added in the last days that serves one variant is
			// most likely not launched yet.
			if added, known := getAges().added[file]; known && now.Sub(added) < ConstantGrace {
				continue
			}
			f.File = file
			rep.Findings = append(rep.Findings, f)
		}
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		a, b := rep.Findings[i], rep.Findings[j]
		if a.Category != b.Category {
			return a.Category < b.Category
		}
		return a.Flag < b.Flag
	})
	return rep, nil
}

// lifetime adds a PastLifetime finding, or an unknown age, for a flag of a
// kind with an expected lifetime and no expires date.
func (rep *Report) lifetime(key, file string, kind ruleset.Kind, life time.Duration, ages *gitAges) {
	if ages.err != "" {
		rep.AgeUnknown = append(rep.AgeUnknown, Unknown{Flag: key, Why: ages.err})
		return
	}
	added, ok := ages.added[file]
	if !ok {
		rep.AgeUnknown = append(rep.AgeUnknown, Unknown{Flag: key, Why: file + " is not committed yet: its age starts at its first commit"})
		return
	}
	age := rep.Now.Sub(added)
	if age <= life {
		return
	}
	lifeDays := int(life.Hours() / 24)
	rep.Findings = append(rep.Findings, Finding{Flag: key, File: file, Kind: kind, Category: PastLifetime, Added: &added,
		Why: fmt.Sprintf("%s flag added on %s (%s ago), past the %d days %s flag is expected to live: remove it, or set expires",
			article(kind), added.UTC().Format(time.DateOnly), daysText(int(age.Hours()/24)), lifeDays, article(kind))})
}

// article returns the kind with "a" or "an" before it.
func article(k ruleset.Kind) string {
	if strings.IndexByte("aeiou", string(k)[0]) >= 0 {
		return "an " + string(k)
	}
	return "a " + string(k)
}

func daysText(days int) string {
	if days == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", days)
}

// flagKeys returns every flag key of the repository, sorted.
func flagKeys(repo *loader.Repo) []string {
	seen := map[string]bool{}
	for _, doc := range repo.Documents {
		for k := range doc.Flags.All() {
			seen[k] = true
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// anyFlag returns the flag in the first environment: kind and expires are
// the same in every environment.
func anyFlag(repo *loader.Repo, key string) *ruleset.Flag {
	for _, env := range repo.Settings.Environments {
		if f, ok := repo.Documents[env].Flags.Lookup(key); ok {
			return f
		}
	}
	return &ruleset.Flag{Key: key}
}

// flagFile returns the path of a flag's file relative to the repository:
// flags/<key>.yaml, or .yml when only that exists.
func flagFile(dir, key string) string {
	rel := "flags/" + key + ".yaml"
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
		if _, err := os.Stat(filepath.Join(dir, "flags", key+".yml")); err == nil {
			return "flags/" + key + ".yml"
		}
	}
	return rel
}
