package loader

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// generateRepo writes a repository of nFlags flags and nAudiences audiences
// with a realistic mix: allow lists, audiences (every tenth nested),
// inline conditions of every attribute type including regular
// expressions, rollouts, multivariate splits, overlays and breaker blocks.
func generateRepo(tb testing.TB, dir string, nFlags, nAudiences int) {
	tb.Helper()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	write("flagpole.yaml", "version: 1\nenvironments: [production, staging]\nbreaker: {error_rate: 10}\n")
	write("attributes.yaml", `attributes:
  - {name: state, type: string}
  - {name: age, type: number}
  - {name: student, type: boolean}
  - {name: app_version, type: semver}
  - {name: signup, type: datetime}
  - {name: plan, type: string}
  - {name: email, type: string}
`)
	for i := 0; i < nAudiences; i++ {
		var b strings.Builder
		fmt.Fprintf(&b, "key: aud-%04d\nname: Audience %d\nmatch: %s\nconditions:\n", i, i, []string{"all", "any"}[i%2])
		fmt.Fprintf(&b, "  - {attribute: state, operator: in, values: [CA, WA, OR, S%d]}\n", i)
		fmt.Fprintf(&b, "  - {attribute: age, operator: gte, value: %d}\n", 18+i%40)
		fmt.Fprintf(&b, "  - {attribute: email, operator: ends_with, value: \"@corp%d.example\"}\n", i)
		if i%10 == 9 {
			fmt.Fprintf(&b, "  - {audience: aud-%04d}\n", i-1)
		}
		write(fmt.Sprintf("audiences/aud-%04d.yaml", i), b.String())
	}
	for i := 0; i < nFlags; i++ {
		var b strings.Builder
		fmt.Fprintf(&b, "key: flag-%05d\nname: Flag %d\nowner: team-%d\nclient: %v\n", i, i, i%17, i%3 == 0)
		aud := fmt.Sprintf("aud-%04d", i%max(nAudiences, 1))
		switch i % 4 {
		case 0, 1: // boolean
			fmt.Fprintf(&b, "rules:\n  - users: [u%d, v%d]\n    serve: on\n", i, i)
			if nAudiences > 0 {
				fmt.Fprintf(&b, "  - audiences: [%s]\n    serve: on\n", aud)
			}
			fmt.Fprintf(&b, "  - conditions:\n      - {attribute: app_version, operator: gte, value: 2.%d.0}\n      - {attribute: student, operator: eq, value: true}\n    rollout: {on: 12.5, off: 87.5}\n", i%9)
			fmt.Fprintf(&b, "breaker: {error_rate: 5}\nenvironments:\n  staging: {rules: [{serve: on}]}\n")
		case 2: // string, 3-way split
			fmt.Fprintf(&b, "type: string\nvariants: {a: alpha, b: beta, c: gamma}\noff: a\nrules:\n")
			fmt.Fprintf(&b, "  - conditions:\n      - {attribute: email, operator: matches, value: '^qa%d\\+.*@example\\.com$'}\n    serve: b\n", i%50)
			fmt.Fprintf(&b, "  - rollout: {a: 33.334, b: 33.333, c: 33.333}\n    by: email\n")
		case 3: // number and json
			if i%8 == 3 {
				fmt.Fprintf(&b, "type: number\nvariants: {low: 10, high: %d}\noff: low\n", 100+i)
			} else {
				fmt.Fprintf(&b, "type: json\nvariants:\n  small: {size: 1, tags: [x]}\n  large: {size: %d, tags: [x, y]}\noff: small\n", i)
			}
			fmt.Fprintf(&b, "rules:\n  - conditions:\n      - {attribute: signup, operator: lt, value: 2026-01-01T00:00:00Z}\n      - {attribute: plan, operator: eq, value: pro}\n    match: any\n    serve: %s\n",
				map[bool]string{true: "high", false: "large"}[i%8 == 3])
		}
		write(fmt.Sprintf("flags/flag-%05d.yaml", i), b.String())
	}
}

func TestLoad10k(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a generated repository of 10,000 flags")
	}
	flags, audiences := 10000, 1000
	if raceEnabled {
		flags, audiences = 1000, 100 // the same code paths, in a tenth of the time
	}
	dir := t.TempDir()
	generateRepo(t, dir, flags, audiences)
	repo, err := Load(dir, Options{})
	if err != nil {
		t.Fatalf("generated repository does not load: %.2000v", err)
	}
	for _, env := range []string{"production", "staging"} {
		d := repo.Documents[env]
		if d.Flags.Len() != flags || len(d.Audiences) != audiences || repo.RuleSets[env] == nil {
			t.Errorf("%s: %d flags, %d audiences", env, d.Flags.Len(), len(d.Audiences))
		}
	}
}

// BenchmarkLoad10k measures a full load of 10,000 flags and 1,000
// audiences: reading, YAML, JSON Schema, semantic checks and compiling both
// environments. DESIGN §7 target: ≤ 2 s.
func BenchmarkLoad10k(b *testing.B) {
	dir := b.TempDir()
	generateRepo(b, dir, 10000, 1000)
	b.ResetTimer()
	cpu0, haveCPU := cpuTime()
	n := 0
	for b.Loop() {
		if _, err := Load(dir, Options{}); err != nil {
			b.Fatalf("%.2000v", err)
		}
		n++
	}
	// CPU seconds per load: on a busy machine wall time varies, this does not.
	if cpu1, ok := cpuTime(); ok && haveCPU && n > 0 {
		b.ReportMetric((cpu1-cpu0).Seconds()/float64(n), "cpu-s/op")
	}
}
