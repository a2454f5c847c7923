package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// editFlag is the flag of flags.example that the propagation scenarios
// toggle: a client-visible boolean whose file has no `enabled` field.
const editFlag = "flags/debug-panel.yaml"

// copyDir copies the regular files and directories of src into dst.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		}
		return nil
	})
}

// toggler flips one flag file between its original content and the same
// content with `enabled: false`, so that each write changes the flag's
// value and the revision.
type toggler struct {
	path     string
	original []byte
	n        int
}

func newToggler(repo string) (*toggler, error) {
	path := filepath.Join(repo, editFlag)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the flag to edit: %w", err)
	}
	if strings.Contains(string(b), "\nenabled:") {
		return nil, fmt.Errorf("%s already has an enabled field; the bench toggles it", path)
	}
	return &toggler{path: path, original: b}, nil
}

// next returns the content of the next edit.
func (t *toggler) next() []byte {
	t.n++
	if t.n%2 == 0 {
		return t.original
	}
	return append(append([]byte(nil), t.original...), "enabled: false\n"...)
}

// write saves the next edit as most editors do: a temporary file renamed
// into place, which the directory source reads at once (a write in place
// would wait --settle more).
func (t *toggler) write() error {
	tmp := t.path + ".tmp"
	if err := os.WriteFile(tmp, t.next(), 0o644); err != nil {
		return fmt.Errorf("editing %s: %w", t.path, err)
	}
	if err := os.Rename(tmp, t.path); err != nil {
		return fmt.Errorf("editing %s: %w", t.path, err)
	}
	return nil
}

// generateRepo writes a repository of nFlags client-visible flags into dir:
// the settings, attributes and audiences of flags.example (so its demo keys
// work) and generated flags that mix static values, allow lists, audience
// rules, inline conditions, percentage rollouts and string and number types.
func generateRepo(example, dir string, nFlags int) error {
	for _, name := range []string{"flagpole.yaml", "attributes.yaml", "audiences"} {
		src, dst := filepath.Join(example, name), filepath.Join(dir, name)
		if err := copyDir(src, dst); err != nil {
			return fmt.Errorf("copying %s: %w", src, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "flags"), 0o755); err != nil {
		return err
	}
	for i := range nFlags {
		key := fmt.Sprintf("gen-flag-%03d", i)
		body := fmt.Sprintf("key: %s\nname: Generated flag %d\nowner: team-bench\nclient: true\n%s", key, i, flagBody(i))
		if err := os.WriteFile(filepath.Join(dir, "flags", key+".yaml"), []byte(body), 0o644); err != nil {
			return fmt.Errorf("writing generated flag %s: %w", key, err)
		}
	}
	return nil
}

// flagBody returns the type, variants and rules of the i-th generated flag.
func flagBody(i int) string {
	switch i % 6 {
	case 0: // static boolean
		return "enabled: true\n"
	case 1: // allow list, then a boolean rollout
		return `rules:
  - name: allow list
    users: [audrey, rob, user-7]
    serve: on
  - name: rollout
    rollout: {on: 25, off: 75}
`
	case 2: // nested audience, then a rollout by another attribute
		return `rules:
  - name: west coast students
    audiences: [west-coast-students]
    serve: on
  - name: by email
    rollout: {on: 50, off: 50}
    by: email
`
	case 3: // string flag with inline conditions
		return `type: string
variants: {a: layout-a, b: layout-b, c: layout-c}
off: a
default: a
rules:
  - name: paid in the EU
    match: all
    conditions:
      - {attribute: plan, operator: in, values: [pro, enterprise]}
      - {attribute: country, operator: in, values: [DE, FR, NL]}
    serve: b
  - name: staff
    audiences: [internal-staff]
    serve: c
`
	case 4: // number flag with semver and number conditions
		return `type: number
variants: {low: 10, mid: 50, high: 250}
off: mid
default: mid
rules:
  - name: new app
    conditions:
      - {attribute: app_version, operator: gte, value: 2.4.0}
    serve: high
  - name: minors
    conditions:
      - {attribute: age, operator: lt, value: 18}
    serve: low
`
	default: // three-way string experiment behind an audience
		return `type: string
variants: {control: bm25, semantic: dense-v3, hybrid: hybrid}
off: control
default: control
rules:
  - name: early access
    audiences: [early-access]
    serve: hybrid
  - name: experiment
    rollout: {control: 33.334, semantic: 33.333, hybrid: 33.333}
`
	}
}

func readFileString(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
