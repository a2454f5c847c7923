package review

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testNow is the evaluation time of every test diff.
var testNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

const (
	hashA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hashB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	hashC = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

// baseFiles is a small flags repository in the shape of the documented
// example: an audience of west-coast students and a banner flag that
// serves it, with a 66.271% rollout for everyone else.
func baseFiles() map[string]string {
	return map[string]string{
		"flagpole.yaml": `version: 1
environments: [production, staging]
keys:
  - {name: checkout-service, environment: production, kind: server, sha256: ` + hashA + `}
triggers:
  - {name: banner-alert, flag: west-coast-student-banner, environment: production, action: "off", sha256: ` + hashB + `}
`,
		"attributes.yaml": `attributes:
  - {name: state, type: string}
  - {name: student, type: boolean}
  - {name: age, type: number}
`,
		"audiences/west-coast-students.yaml": `key: west-coast-students
conditions:
  - {attribute: state, operator: in, values: [CA, WA, OR]}
  - {attribute: student, operator: eq, value: true}
`,
		"flags/west-coast-student-banner.yaml": `key: west-coast-student-banner
name: West coast student banner
variants: {on: true, off: false}
off: "off"
default: "off"
rules:
  - name: internal testers
    users: [audrey, rob]
    serve: "on"
  - name: west coast students
    audiences: [west-coast-students]
    serve: "on"
  - name: everyone else
    rollout: {"on": 66.271, "off": 33.729}
`,
		"flags/checkout.yaml": `key: checkout
variants: {on: true, off: false}
default: "off"
rules:
  - {name: adults, conditions: [{attribute: age, operator: gte, value: 18}], serve: "on"}
  - {name: beta, users: [ann], serve: "on"}
`,
	}
}

// newRepo commits baseFiles as the first commit of a new git repository.
func newRepo(t *testing.T) *gitrepo.Remote {
	t.Helper()
	r := gitrepo.New(t)
	r.Commit(baseFiles(), "base")
	return r
}

// diffOf runs Diff between two revisions of r.
func diffOf(t *testing.T, r *gitrepo.Remote, base, head string) *Report {
	t.Helper()
	rep, err := Diff(Request{Repo: r.Work, Base: base, Head: head, Now: testNow, Samples: 10_000})
	if err != nil && rep == nil {
		t.Fatalf("Diff(%s, %s): %v", base, head, err)
	}
	if err != nil {
		t.Fatalf("Diff(%s, %s): %v %q", base, head, err, rep.Head.Errors)
	}
	return rep
}

var commitHash = regexp.MustCompile(`\b[0-9a-f]{12}\b`)

// markdown renders rep with commit hashes replaced by <commit>.
func markdown(t *testing.T, rep *Report) string {
	t.Helper()
	var b strings.Builder
	if err := WriteMarkdown(&b, rep); err != nil {
		t.Fatal(err)
	}
	return commitHash.ReplaceAllString(b.String(), "<commit>")
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
