package dashboard

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
	"github.com/flagpole/flagpole/ruleset"
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

// TestAdded: when each flag file was first committed, by author date,
// kept across later edits.
func TestAdded(t *testing.T) {
	r := gitrepo.New(t)
	commitAt := func(date string, files map[string]string, msg string) {
		r.Write(files)
		r.Git("add", "-A")
		r.Git("commit", "-q", "--date", date, "-m", msg)
	}
	commitAt("2026-01-01T00:00:00Z", map[string]string{"flags/a.yaml": "key: a\n", "README": "x"}, "add a")
	commitAt("2026-03-01T00:00:00Z", map[string]string{"flags/a.yaml": "key: a\nowner: x\n", "flags/b.yml": "key: b\n"}, "edit a, add b")
	h, err := OpenHistory(r.Work, "main", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.Added(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "2026-01-01", "b": "2026-03-01"}
	if len(got) != len(want) {
		t.Fatalf("added %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k].Format(time.DateOnly) != v {
			t.Errorf("%s added %v, want %s", k, got[k], v)
		}
	}
}

func TestStaleNote(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	added := now.Add(-41 * 24 * time.Hour)
	tests := []struct {
		name  string
		f     ruleset.Flag
		added time.Time
		stale bool
	}{
		{"expired", ruleset.Flag{Expires: "2026-11-01"}, time.Time{}, true},
		{"expires later, old release", ruleset.Flag{Expires: "2027-01-01", Kind: ruleset.KindRelease}, added, false},
		{"release past 40 days", ruleset.Flag{Kind: ruleset.KindRelease}, added, true},
		{"release at 39 days", ruleset.Flag{Kind: ruleset.KindRelease}, now.Add(-39 * 24 * time.Hour), false},
		{"operational past 7 days", ruleset.Flag{Kind: ruleset.KindOperational}, now.Add(-8 * 24 * time.Hour), true},
		{"kill switch never", ruleset.Flag{Kind: ruleset.KindKillSwitch}, added.Add(-1000 * time.Hour), false},
		{"release, added unknown", ruleset.Flag{Kind: ruleset.KindRelease}, time.Time{}, false},
		{"no kind, no expiry", ruleset.Flag{}, added, false},
	}
	for _, tt := range tests {
		if got := staleNote(&tt.f, tt.added, now); (got != "") != tt.stale {
			t.Errorf("%s: %q, stale %v", tt.name, got, tt.stale)
		}
	}
}

// TestHistorySubdirectory: a flags repository kept in a subdirectory of a
// larger git repository (like flags.example here) has its history too.
func TestHistorySubdirectory(t *testing.T) {
	r := gitrepo.New(t)
	want := r.CommitPush(map[string]string{"team/flags/a.yaml": "key: a\n", "other/flags/a.yaml": "key: a\n"}, "add a")
	r.CommitPush(map[string]string{"other/flags/a.yaml": "key: a\nowner: x\n"}, "the other a")
	h, err := OpenHistory(filepath.Join(r.Work, "team"), "main", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	fh, err := h.Of(context.Background(), FlagPaths("production", "a"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fh.Commits) != 1 || fh.Commits[0].Hash != want || !slices.Equal(fh.Commits[0].Paths, []string{"flags/a.yaml"}) {
		t.Errorf("history of team/flags/a.yaml: %+v", fh.Commits)
	}
	added, err := h.Added(context.Background())
	if err != nil || added["a"].IsZero() || len(added) != 1 {
		t.Errorf("added: %v %v", added, err)
	}
}
