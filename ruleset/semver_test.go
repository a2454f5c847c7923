package ruleset

import (
	"testing"
	"time"
)

func TestParseSemver(t *testing.T) {
	tests := []struct {
		in   string
		want semver
		ok   bool
	}{
		{"1.2.3", semver{1, 2, 3, ""}, true},
		{"v1.2.3", semver{1, 2, 3, ""}, true},
		{"0.0.0", semver{0, 0, 0, ""}, true},
		{"1.0.0-alpha", semver{1, 0, 0, "alpha"}, true},
		{"1.0.0-alpha.1", semver{1, 0, 0, "alpha.1"}, true},
		{"1.0.0-0.3.7", semver{1, 0, 0, "0.3.7"}, true},
		{"1.0.0-x-y-z.--", semver{1, 0, 0, "x-y-z.--"}, true},
		{"1.0.0+20130313144700", semver{1, 0, 0, ""}, true},
		{"1.0.0-beta+exp.sha.5114f85", semver{1, 0, 0, "beta"}, true},
		{"1.0.0+21AF26D3----117B344092BD", semver{1, 0, 0, ""}, true},
		{"18446744073709551615.0.0", semver{18446744073709551615, 0, 0, ""}, true},
		{"", semver{}, false},
		{"v", semver{}, false},
		{"1", semver{}, false},
		{"1.2", semver{}, false},
		{"1.2.3.4", semver{}, false},
		{"01.2.3", semver{}, false},
		{"1.02.3", semver{}, false},
		{"1.2.03", semver{}, false},
		{"1.2.3-", semver{}, false},
		{"1.2.3-01", semver{}, false},
		{"1.2.3-a..b", semver{}, false},
		{"1.2.3+", semver{}, false},
		{"1.2.3+a+b", semver{}, false},
		{"1.2.3-a_b", semver{}, false},
		{"1.2.3 ", semver{}, false},
		{"V1.2.3", semver{}, false},
		{"vv1.2.3", semver{}, false},
		{"-1.2.3", semver{}, false},
		{"18446744073709551616.0.0", semver{}, false},
		{"1.2.x", semver{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseSemver(tt.in)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("parseSemver(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestSemverOrdering checks the precedence example of semver.org §11 and
// other cases: each version sorts strictly before the next.
func TestSemverOrdering(t *testing.T) {
	ordered := []string{
		"0.9.9",
		"1.0.0-0",
		"1.0.0-2",
		"1.0.0-10",
		"1.0.0-alpha",
		"1.0.0-alpha.1",
		"1.0.0-alpha.beta",
		"1.0.0-beta",
		"1.0.0-beta.2",
		"1.0.0-beta.11",
		"1.0.0-rc.1",
		"1.0.0",
		"1.0.1",
		"1.1.0",
		"1.10.0",
		"2.0.0",
		"10.0.0",
	}
	for i := range ordered {
		for j := range ordered {
			a, _ := parseSemver(ordered[i])
			b, _ := parseSemver(ordered[j])
			want := cmpUint(uint64(i), uint64(j))
			if got := compareSemver(a, b); got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	t.Run("build metadata ignored", func(t *testing.T) {
		a, _ := parseSemver("1.0.0+a")
		b, _ := parseSemver("v1.0.0+b")
		if compareSemver(a, b) != 0 {
			t.Error("1.0.0+a and v1.0.0+b should have equal precedence")
		}
	})
}

func TestParseSemverDoesNotAllocate(t *testing.T) {
	var n uint64
	allocs := testing.AllocsPerRun(100, func() {
		v, _ := parseSemver("v1.22.333-rc.1+build.7")
		w, _ := parseSemver("1.22.333-rc.2")
		n += v.patch + uint64(compareSemver(v, w)+1)
	})
	if allocs != 0 {
		t.Errorf("%v allocs per run, want 0", allocs)
	}
}

func TestParseDatetime(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-11-21T10:00:00Z", utc("2026-11-21T10:00:00Z"), true},
		{"2026-11-21t10:00:00z", utc("2026-11-21T10:00:00Z"), true},
		{"2026-11-21T12:00:00+02:00", utc("2026-11-21T10:00:00Z"), true},
		{"2026-11-21T05:30:00-04:30", utc("2026-11-21T10:00:00Z"), true},
		{"2026-11-21T10:00:00.5Z", utc("2026-11-21T10:00:00.5Z"), true},
		{"2026-11-21T10:00:00.123456789Z", utc("2026-11-21T10:00:00.123456789Z"), true},
		{"2026-11-21T10:00:00.1234567891Z", utc("2026-11-21T10:00:00.123456789Z"), true},
		{"2026-11-21", utc("2026-11-21T00:00:00Z"), true},
		{"2024-02-29", utc("2024-02-29T00:00:00Z"), true},
		{"2023-02-29", time.Time{}, false},
		{"2026-13-01", time.Time{}, false},
		{"2026-00-01", time.Time{}, false},
		{"2026-04-31", time.Time{}, false},
		{"2026-11-21T24:00:00Z", time.Time{}, false},
		{"2026-11-21T10:60:00Z", time.Time{}, false},
		{"2026-11-21T10:00:00", time.Time{}, false},
		{"2026-11-21T10:00:00.Z", time.Time{}, false},
		{"2026-11-21T10:00:00+0200", time.Time{}, false},
		{"2026-11-21 10:00:00Z", time.Time{}, false},
		{"21/11/2026", time.Time{}, false},
		{"", time.Time{}, false},
		{"2026-1x-21", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseDatetime(tt.in)
			if ok != tt.ok || (ok && !got.Equal(tt.want)) {
				t.Errorf("parseDatetime(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
	allocs := testing.AllocsPerRun(100, func() { parseDatetime("2026-11-21T12:00:00.25+02:00") })
	if allocs != 0 {
		t.Errorf("parseDatetime: %v allocs per run, want 0", allocs)
	}
}
