package dashboard

import (
	"context"
	"slices"
	"testing"

	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
)

// TestHistory: the commits that changed a flag's files, newest first,
// from a bare repository's branch and from a work tree, with links to the
// web host of the origin remote.
func TestHistory(t *testing.T) {
	r := gitrepo.New(t)
	first := r.CommitPush(map[string]string{"flags/a.yaml": "key: a\n", "flags/b.yaml": "key: b\n"}, "add a and b")
	r.CommitPush(map[string]string{"flags/b.yaml": "key: b\nowner: x\n"}, "change b only")
	third := r.CommitPush(map[string]string{"overrides/production/a.yaml": "flag: a\n"}, "override a")
	r.Git("remote", "set-url", "origin", "git@github.com:acme/flags.git")

	for _, dir := range []string{r.Bare, r.Work} {
		h, err := OpenHistory(dir, "main", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		fh, err := h.Of(context.Background(), FlagPaths("production", "a"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range fh.Commits {
			got = append(got, c.Hash)
		}
		if !slices.Equal(got, []string{third, first}) {
			t.Errorf("%s: commits %v, want %v", dir, got, []string{third, first})
		}
		if c := fh.Commits[0]; c.Subject != "override a" || !slices.Equal(c.Paths, []string{"overrides/production/a.yaml"}) || c.Author != gitrepo.Name {
			t.Errorf("%s: newest commit %+v", dir, c)
		}
		if dir == r.Work {
			if want := "https://github.com/acme/flags/commit/" + third; fh.Commits[0].URL != want || fh.Web != "https://github.com/acme/flags" {
				t.Errorf("links: %q %q, want %q", fh.Commits[0].URL, fh.Web, want)
			}
		} else if fh.Commits[0].URL != "" {
			t.Errorf("a bare repository without a web remote has a link: %q", fh.Commits[0].URL)
		}
	}
	if _, err := OpenHistory(t.TempDir(), "main", "", 0); err == nil {
		t.Error("a directory that is no git repository opened")
	}
}

func TestWebHost(t *testing.T) {
	tests := []struct{ remote, commit string }{
		{"https://github.com/acme/flags.git", "https://github.com/acme/flags/commit/abc"},
		{"https://user:secret@github.com/acme/flags", "https://github.com/acme/flags/commit/abc"},
		{"git@github.com:acme/flags.git", "https://github.com/acme/flags/commit/abc"},
		{"ssh://git@gitlab.com/group/sub/flags.git", "https://gitlab.com/group/sub/flags/-/commit/abc"},
		{"https://gitlab.example.com/ops/flags.git", "https://gitlab.example.com/ops/flags/-/commit/abc"},
		{"https://codeberg.org/acme/flags", "https://codeberg.org/acme/flags/commit/abc"},
		{"https://gitea.internal:3000/acme/flags.git", "https://gitea.internal:3000/acme/flags/commit/abc"},
		{"https://git.example.com/acme/flags.git", ""},
		{"/srv/git/flags.git", ""},
		{"file:///srv/git/flags.git", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := parseWebHost(tt.remote).commit("abc"); got != tt.commit {
			t.Errorf("%q: %q, want %q", tt.remote, got, tt.commit)
		}
	}
}
