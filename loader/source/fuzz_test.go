package source_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/loader/source"
)

// FuzzRedact checks that Redact never panics and never returns the
// password of a URL that net/url understands.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"https://u:p@host/r", "https://tok@host/r", "ssh://git@h/r", "git@h:o/r.git",
		"/srv/flags.git", "https://u:p%zz@host/r", "file:///x", "://@", "https://a@b@c/d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out := source.Redact(raw)
		u, err := url.Parse(raw)
		if err != nil || u.User == nil {
			return
		}
		if p, ok := u.User.Password(); ok && len(p) >= 4 && p != "xxxxx" && strings.Contains(out, p) && !strings.Contains(raw[strings.Index(raw, "@")+1:], p) {
			t.Errorf("Redact(%q) = %q keeps the password", raw, out)
		}
	})
}
