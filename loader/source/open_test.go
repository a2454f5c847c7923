package source_test

import (
	"path/filepath"
	"testing"

	"github.com/flagpole/flagpole/internal/testutil/gitrepo"
	"github.com/flagpole/flagpole/loader/source"
)

func TestOpen(t *testing.T) {
	r := gitrepo.New(t)
	cases := []struct {
		name, repo string
		git        bool
	}{
		{"bare repository path", r.Bare, true},
		{"file URL", "file://" + r.Bare, true},
		{"https URL", "https://example.com/org/flags.git", true},
		{"scp-style address", "git@example.com:org/flags.git", true},
		{"working copy", r.Work, false},
		{"plain directory", filepath.Join(t.TempDir(), "flags"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := source.Open(tc.repo, source.GitOptions{Branch: "main"}, source.DirOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, isGit := src.(*source.Git)
			if isGit != tc.git {
				t.Errorf("Open(%s) = %T, want git %v", tc.repo, src, tc.git)
			}
		})
	}
}
