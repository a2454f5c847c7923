package review

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
)

// benchFiles is a repository of nFlags flags and nAudiences audiences with
// a mix of allow lists, audiences (every tenth nested), inline conditions
// and rollouts, and two environments.
func benchFiles(nFlags, nAudiences int) map[string]string {
	files := map[string]string{
		"flagpole.yaml": "version: 1\nenvironments: [production, staging]\n",
		"attributes.yaml": `attributes:
  - {name: state, type: string}
  - {name: age, type: number}
  - {name: student, type: boolean}
  - {name: app_version, type: semver}
  - {name: email, type: string}
`,
	}
	for i := range nAudiences {
		var b strings.Builder
		fmt.Fprintf(&b, "key: aud-%04d\nmatch: %s\nconditions:\n", i, []string{"all", "any"}[i%2])
		fmt.Fprintf(&b, "  - {attribute: state, operator: in, values: [CA, WA, OR, S%d]}\n", i)
		fmt.Fprintf(&b, "  - {attribute: age, operator: gte, value: %d}\n", 18+i%40)
		if i%10 == 9 {
			fmt.Fprintf(&b, "  - {audience: aud-%04d}\n", i-1)
		}
		files[fmt.Sprintf("audiences/aud-%04d.yaml", i)] = b.String()
	}
	for i := range nFlags {
		var b strings.Builder
		fmt.Fprintf(&b, "key: flag-%05d\nowner: team-%d\nvariants: {on: true, off: false}\n", i, i%17)
		fmt.Fprintf(&b, "rules:\n  - users: [u%d, v%d]\n    serve: \"on\"\n", i, i)
		fmt.Fprintf(&b, "  - audiences: [aud-%04d]\n    serve: \"on\"\n", i%nAudiences)
		fmt.Fprintf(&b, "  - conditions:\n      - {attribute: app_version, operator: gte, value: 2.%d.0}\n      - {attribute: student, operator: eq, value: true}\n    serve: \"on\"\n", i%9)
		fmt.Fprintf(&b, "  - rollout: {\"on\": 12.5, \"off\": 87.5}\n")
		files[fmt.Sprintf("flags/flag-%05d.yaml", i)] = b.String()
	}
	return files
}

// benchRepo commits a 10,000-flag repository, then a change of one
// audience (used by ten flags) and one rollout.
func benchRepo(tb testing.TB, nFlags, nAudiences int) *gitrepo.Remote {
	r := gitrepo.New(tb)
	r.Git("config", "gc.auto", "0") // packed below, not in the background
	files := benchFiles(nFlags, nAudiences)
	r.Commit(files, "generated")
	r.Commit(map[string]string{
		"audiences/aud-0001.yaml": strings.Replace(files["audiences/aud-0001.yaml"], "S1]", "S1, NV]", 1),
		"flags/flag-00002.yaml":   strings.Replace(files["flags/flag-00002.yaml"], `{"on": 12.5, "off": 87.5}`, `{"on": 50, "off": 50}`, 1),
	}, "change")
	r.Git("repack", "-a", "-d", "-q") // packed, as in a clone
	return r
}

func TestDiffLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("commits a generated repository of 2,000 flags")
	}
	r := benchRepo(t, 2000, 200)
	rep := diffOf(t, r, "HEAD~1", "HEAD")
	prod := rep.Environments[0]
	if len(prod.Audiences) != 1 || len(prod.Flags) != 11 {
		t.Fatalf("%d audiences, %d flags changed: %+v", len(prod.Audiences), len(prod.Flags), prod.Flags)
	}
}

// BenchmarkDiff10k measures `flagpole diff HEAD~1 HEAD` of a
// one-audience, one-rollout change in a repository of 10,000 flags and 1,000
// audiences: both commits read from git, loaded and validated, compared in
// two environments, and the 11 changed flags evaluated on 10,000 generated
// contexts before and after. Target: ≤ 5 s.
func BenchmarkDiff10k(b *testing.B) { benchDiff(b, "HEAD") }

// BenchmarkDiff10kWorkTree is BenchmarkDiff10k against the work tree (HEAD
// omitted, as in CI on a pull request's checkout): one commit to read.
func BenchmarkDiff10kWorkTree(b *testing.B) { benchDiff(b, "") }

func benchDiff(b *testing.B, head string) {
	r := benchRepo(b, 10000, 1000)
	cpu0, haveCPU := cpuTime()
	n := 0
	for b.Loop() {
		n++
		rep, err := Diff(Request{Repo: r.Work, Base: "HEAD~1", Head: head, Now: testNow})
		if err != nil {
			b.Fatal(err)
		}
		if c := len(rep.Environments[0].Flags); c != 11 {
			b.Fatalf("%d flags changed, want 11", c)
		}
	}
	// CPU seconds per diff: on a busy machine wall time varies, this does not.
	if cpu1, ok := cpuTime(); ok && haveCPU && n > 0 {
		b.ReportMetric((cpu1-cpu0).Seconds()/float64(n), "cpu-s/op")
	}
}
