package loader

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/flagpole/flagpole/schema"
)

// scaffoldFile is one file Scaffold writes.
type scaffoldFile struct{ path, content string }

// scaffoldFiles is the starter repository Scaffold writes, by path: each
// YAML file starts with its schema modeline, and the schemas it points at
// are published under schema.Dir.
var scaffoldFiles = withSchemas([]scaffoldFile{
	{settingsFile, `# Flagpole repository settings. See the README for every field.
version: 1
environments: [production, staging]   # the first is the default for flagpole eval
# Keys: add the lines that "flagpole keys new --kind server|client|admin|viewer --name N --env E" prints
# (SDK keys read one environment; admin and viewer keys list theirs, default all).
keys: []
# Alert URLs that act on a flag: add what "flagpole keys new --kind trigger ..." prints.
triggers: []
`},
	{attributesFile, `# The context attributes conditions may test, with their types:
# string, boolean, number, semver or datetime (RFC 3339).
# key (string) and now (datetime) are built in.
attributes:
  - {name: country, type: string, description: ISO 3166-1 alpha-2 country code}
  - {name: beta, type: boolean, description: opted in to beta features}
  - {name: app_version, type: semver}
`},
	{filepath.Join(audiencesDir, "beta-testers.yaml"), `key: beta-testers
name: Beta testers
match: all                     # all | any
conditions:
  - {attribute: beta, operator: eq, value: true}
`},
	{filepath.Join(flagsDir, "new-checkout.yaml"), `key: new-checkout
name: New checkout
description: The new checkout flow, for beta testers and then a gradual rollout.
type: boolean                  # implies variants on: true, off: false
enabled: true
default: off
rules:                         # the first matching rule wins
  - name: beta testers first
    audiences: [beta-testers]
    serve: on
  - name: gradual rollout
    rollout: {on: 10, off: 90}  # percent; bucketed by key
environments:
  staging:
    rules: [{serve: on}]       # everyone in staging
`},
	{filepath.Join(TestsDir, "new-checkout.yaml"), `# Expectations that "flagpole test" checks in CI; a change that breaks one
# fails with the evaluation trace of the case.
flag: new-checkout
environment: production
cases:
  - name: beta testers get the new checkout
    context: {key: user-1, beta: true}
    expect: {variant: on, reason: TARGETING_MATCH}
  - name: a tenth of everyone else
    context: {beta: false}
    sample: {contexts: 10000, by: key}     # generated keys, the same on every run
    expect: {share: {on: 10, off: 90}, tolerance: 1}
`},
})

// withSchemas prefixes each YAML file with its modeline and adds the
// published schemas.
func withSchemas(files []scaffoldFile) []scaffoldFile {
	for i := range files {
		files[i].content = schema.Modeline(filepath.ToSlash(files[i].path)) + "\n" + files[i].content
	}
	for _, n := range schema.Names() {
		files = append(files, scaffoldFile{filepath.Join(filepath.FromSlash(schema.Dir), n+".schema.json"), string(schema.Source(n))})
	}
	return files
}

// Scaffold writes a small, valid starter repository into dir (created if
// needed): flagpole.yaml with a production and a staging environment and
// no keys, attributes.yaml, one audience, one flag, one test file and the
// JSON Schemas under schema.Dir that each file's first line points
// editors at. It never overwrites:
// if any of its files exists it writes nothing and its error names the file.
func Scaffold(dir string) error {
	for _, f := range scaffoldFiles {
		p := filepath.Join(dir, f.path)
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("scaffolding %s: %s already exists", dir, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("scaffolding %s: %w", dir, err)
		}
	}
	for _, f := range scaffoldFiles {
		p := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("scaffolding %s: %w", dir, err)
		}
		fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("scaffolding %s: %w", dir, err)
		}
		_, err = fh.WriteString(f.content)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("scaffolding %s: writing %s: %w", dir, p, err)
		}
	}
	return nil
}
