package writeback

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/ruleset"
)

func TestRenderDocumentedExample(t *testing.T) {
	o := ruleset.Override{Flag: "checkout-v2", Environment: "production", Serve: "off",
		Reason: "breaker: error rate 12.4% (412 of 3310 calls in 60s) > 5%", By: "breaker",
		At: start, Recovery: &ruleset.Recovery{StartAt: start.Add(5 * time.Minute), Start: 10, Step: 10, Every: ruleset.Duration(time.Minute)}}
	exp := start.Add(2 * time.Hour)
	o.Expires = &exp
	got, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	want := `flag: checkout-v2
environment: production
serve: off
reason: "breaker: error rate 12.4% (412 of 3310 calls in 60s) > 5%"
by: breaker
at: 2026-11-21T10:00:00Z
expires: 2026-11-21T12:00:00Z
recovery: {start_at: 2026-11-21T10:05:00Z, start: 10, step: 10, every: 1m}
`
	if string(got) != want {
		t.Errorf("Render:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderRoundTrip(t *testing.T) {
	local := time.FixedZone("CET", 3600)
	exp := start.Add(90 * time.Minute)
	cases := map[string]ruleset.Override{
		"minimal": {Flag: "checkout-v2", Environment: "production", Serve: "on", At: start},
		"full": {Flag: "checkout-v2", Environment: "staging", Serve: "off", Reason: "5xx: spike \"again\"\nsee #ops",
			By: "Alice Smith <alice@example.com>", At: start.In(local).Add(1500 * time.Millisecond), Expires: &exp,
			Recovery: &ruleset.Recovery{StartAt: exp.Add(-time.Hour), Start: 12.5, Step: 2.5, Every: ruleset.Duration(90 * time.Second)}},
		"yaml words": {Flag: "checkout-v2", Environment: "production", Serve: "true", Reason: "null", By: "yes", At: start},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{
				"flagpole.yaml":          fixture["flagpole.yaml"],
				"flags/checkout-v2.yaml": "key: checkout-v2\ntype: string\nvariants: {on: a, off: b, \"true\": c}\ndefault: on\n",
			}
			content, err := Render(o)
			if err != nil {
				t.Fatal(err)
			}
			files[Path(o.Environment, o.Flag)] = string(content)
			dir := writeDir(t, files)
			repo, err := loader.Load(dir, loader.Options{Now: func() time.Time { return start }})
			if err != nil {
				t.Fatalf("%v\n%s", err, content)
			}
			got := repo.Documents[o.Environment].Overrides[o.Flag]
			if got == nil {
				t.Fatalf("no override loaded from\n%s", content)
			}
			if !sameOverride(*got, o) {
				t.Errorf("loaded %+v\nwant   %+v\nfrom\n%s", *got, o, content)
			}
		})
	}
}

// writeDir writes files (slash path → content) into a new directory (a
// git work tree, which the loader reads like any directory).
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	r := gitrepo.New(t)
	r.Write(files)
	return r.Work
}

// sameOverride compares overrides with times compared as instants.
func sameOverride(a, b ruleset.Override) bool {
	if !a.At.Equal(b.At) || (a.Expires == nil) != (b.Expires == nil) || (a.Expires != nil && !a.Expires.Equal(*b.Expires)) ||
		(a.Recovery == nil) != (b.Recovery == nil) {
		return false
	}
	if a.Recovery != nil {
		ra, rb := *a.Recovery, *b.Recovery
		if !ra.StartAt.Equal(rb.StartAt) {
			return false
		}
		ra.StartAt, rb.StartAt = time.Time{}, time.Time{}
		if ra != rb {
			return false
		}
	}
	a.At, b.At, a.Expires, b.Expires, a.Recovery, b.Recovery = time.Time{}, time.Time{}, nil, nil, nil, nil
	return reflect.DeepEqual(a, b)
}

func TestMessageOneLineFields(t *testing.T) {
	o := kill(start)
	o.Reason = "spike\nRequested-by: mallory"
	msg := message(&write{env: "production", flag: "checkout-v2", action: ActionSet, override: o,
		requester: "alice\nSigned-off-by: x", reason: o.Reason})
	if strings.Count(msg, "\nRequested-by:") != 1 || strings.Contains(msg, "\nSigned-off-by") {
		t.Errorf("a field forged a trailer:\n%s", msg)
	}
	o.Reason = strings.Repeat("very long reason ", 10)
	subject, _, _ := strings.Cut(message(&write{env: "production", flag: "checkout-v2", action: ActionSet, override: o, reason: o.Reason}), "\n")
	if n := len([]rune(subject)); n > maxSubject || !strings.HasSuffix(subject, "…)") {
		t.Errorf("subject of %d runes: %s", n, subject)
	}
}
