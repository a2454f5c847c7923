package source

import (
	"os"
	"path/filepath"

	"github.com/flagpole/flagpole/internal/gitx"
)

// Open picks the source for a --repo argument: a URL (https://, ssh://,
// file://, user@host:path) or the path of a bare repository is followed as
// git (branch, polling and credentials from gitOpts, whose URL is set to
// repo); any other path is watched as a plain directory with dirOpts, even
// a working copy, so that uncommitted edits are served.
func Open(repo string, gitOpts GitOptions, dirOpts DirOptions) (Source, error) {
	if gitx.IsURL(repo) || isBareRepo(repo) {
		gitOpts.URL = repo
		return NewGit(gitOpts)
	}
	return NewDir(repo, dirOpts)
}

// isBareRepo reports whether dir looks like a bare git repository.
func isBareRepo(dir string) bool {
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}
