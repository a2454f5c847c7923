package dashboard

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzWebHost: any remote gives either no link or an https link to a
// commit that carries no credentials of the remote.
func FuzzWebHost(f *testing.F) {
	for _, s := range []string{"https://user:pw@github.com/a/b.git", "git@gitlab.com:g/s/p.git", "ssh://git@gitea.x:22/a/b",
		"https://codeberg.org/a/b", "file:///x", "::", "@:", "https://github.com/", "github.com:a/b",
		"gitlAB.:0/%", "gitea.x:a/b c?d#e"} { // a remote found by fuzzing, and another: bytes a URL path must escape
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, remote string) {
		link := parseWebHost(remote).commit("abc")
		if link == "" {
			return
		}
		u, err := url.Parse(link)
		if err != nil || u.Scheme != "https" || u.User != nil || !strings.HasSuffix(link, "/commit/abc") {
			t.Fatalf("%q: link %q", remote, link)
		}
		if i := strings.Index(remote, "@"); i > 0 {
			if secret := remote[:i]; len(secret) > 8 && strings.Contains(link, secret) {
				t.Fatalf("%q: link %q carries %q", remote, link, secret)
			}
		}
	})
}
