package redact

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://x:tok@host/r", "https://x:xxxxx@host/r"},
		{"https://tok@host/r", "https://xxxxx@host/r"},
		{"HTTP://tok@host", "HTTP://xxxxx@host"},
		{"https://a@b@c/d", "https://xxxxx@c/d"},
		{"https://u:p@ss@host/r", "https://u:xxxxx@host/r"},
		{"ssh://git@host/r", "ssh://git@host/r"},
		{"ssh://git:pw@host/r", "ssh://git:xxxxx@host/r"},
		{"git@github.com:org/repo.git", "git@github.com:org/repo.git"},
		{"/srv/flags.git", "/srv/flags.git"},
		{"file:///srv/flags.git", "file:///srv/flags.git"},
		{"//:0000@", "//:xxxxx@"}, // found by fuzzing: a scheme-relative URL
		{"//tok@host/x", "//xxxxx@host/x"},
		{"^://:s3cretpw@", "^://:xxxxx@"}, // found by fuzzing the Redis URL parser
		{"://0:s3cretpw@", "://0:xxxxx@"}, // found by fuzzing too: an empty scheme
		{"my_scheme://u:s3cr3t@h/r", "my_scheme://u:xxxxx@h/r"},
		{"a:b://u:s3cr3t@h/r", "a:b://u:xxxxx@h/r"},
		{"redis://:s3cr3t@127.0.0.1:6379/0", "redis://:xxxxx@127.0.0.1:6379/0"},
		{"redis://user@127.0.0.1:6379/0", "redis://user@127.0.0.1:6379/0"},
		{"user:s3cr3t@host:6379", "user:xxxxx@host:6379"},
		{"rediss://h:6379/0?password=s3cr3t&db=1", "rediss://h:6379/0?password=xxxxx&db=1"},
		{"redis+sentinel://u:s3cr3t@h1:1,h2:2/mymaster?sentinel_password=p3", "redis+sentinel://u:xxxxx@h1:1,h2:2/mymaster?sentinel_password=xxxxx"},
		{"unix:///run/redis.sock", "unix:///run/redis.sock"},
		{"https://u:p%zz@host/r", "https://u:xxxxx@host/r"},
		{"redis://h?sentinel_password=p&x=1#f", "redis://h?sentinel_password=xxxxx&x=1#f"},
		{"https://h/r?access_token=abc", "https://h/r?access_token=xxxxx"},
		{"https://h/path@with-at", "https://h/path@with-at"},
		{"https://h?u=a@b", "https://h?u=a@b"},
		{"", ""},
		{"://@", "://@"},
	} {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestText(t *testing.T) {
	raw := "https://bot:s3cr%2Ft@host/r?token=tok123"
	err := errors.New(`fetch "https://bot:s3cr%2Ft@host/r?token=tok123": auth failed for s3cr/t (s3cr%2Ft), token tok123`)
	got := Text(err.Error(), raw)
	for _, s := range []string{"s3cr%2Ft", "s3cr/t", "tok123"} {
		if strings.Contains(got, s) {
			t.Errorf("Text kept %q: %s", s, got)
		}
	}
	if !strings.Contains(got, "https://bot:xxxxx@host/r?token=xxxxx") {
		t.Errorf("Text did not mask the quoted URL: %s", got)
	}
	// Short secrets are masked only inside the quoted URL.
	if got := Text("dial redis://:ab@h: a bad thing", "redis://:ab@h"); got != "dial redis://:xxxxx@h: a bad thing" {
		t.Errorf("short secret: %q", got)
	}
}

// FuzzURL checks that URL never panics and never leaves a password or an
// HTTP token where net/url would find one, and that Text hides both.
func FuzzURL(f *testing.F) {
	for _, s := range []string{
		"https://u:p@host/r", "https://tok@host/r", "ssh://git@h/r", "git@h:o/r.git",
		"/srv/flags.git", "https://u:p%zz@host/r", "file:///x", "://@", "https://a@b@c/d",
		"//:0000@", "redis://:pw@h:1/0?password=x", "u:pass@h:6379",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out := URL(raw)
		// Wherever "://" stands (or nowhere), what follows up to the first
		// '/', '?' or '#' reads as an authority, whatever net/url thinks
		// of the scheme: its password never survives.
		authority := func(s string) string {
			if _, rest, ok := strings.Cut(s, "://"); ok {
				s = rest
			}
			if i := strings.IndexAny(s, "/?#"); i >= 0 {
				s = s[:i]
			}
			return s
		}
		if a := authority(out); strings.Contains(a, "@") {
			if _, pass, ok := strings.Cut(a[:strings.LastIndexByte(a, '@')], ":"); ok && pass != Mask {
				t.Errorf("URL(%q) = %q keeps password %q", raw, out, pass)
			}
		}
		if URL(out) != out {
			t.Errorf("URL(URL(%q)) = %q, not stable at %q", raw, URL(out), out)
		}
		u, err := url.Parse(out)
		if err != nil || u.User == nil {
			return
		}
		if p, ok := u.User.Password(); ok && p != Mask {
			t.Errorf("URL(%q) = %q keeps password %q", raw, out, p)
		}
		if s := strings.ToLower(u.Scheme); (s == "http" || s == "https" || s == "") && u.User.Username() != "" && u.User.Username() != Mask {
			if _, ok := u.User.Password(); !ok {
				t.Errorf("URL(%q) = %q keeps token %q", raw, out, u.User.Username())
			}
		}
		if ru, err := url.Parse(raw); err == nil && ru.User != nil {
			if p, ok := ru.User.Password(); ok && len(p) >= 4 {
				msg := Text("error: "+raw+" failed", raw)
				if strings.Contains(msg, ":"+p+"@") {
					t.Errorf("Text kept password %q: %q", p, msg)
				}
			}
		}
	})
}
