package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/flagpole/flagpole/internal/redact"
)

// Bounds of History.
const (
	// MaxHistoryWalk is how many commits one history request looks at,
	// newest first: older changes of a file are not listed.
	MaxHistoryWalk = 5000
	// historyCacheSize is how many (head, file) answers are kept.
	historyCacheSize = 256
)

// Commit is one commit that changed a file.
type Commit struct {
	Hash    string    `json:"hash"`
	Author  string    `json:"author"`
	When    time.Time `json:"when"`
	Subject string    `json:"subject"`
	Paths   []string  `json:"paths"`         // which of the files asked for it changed
	URL     string    `json:"url,omitempty"` // on the web host, when known
}

// FileHistory is the commits that changed some files, newest first.
type FileHistory struct {
	Head    string   `json:"head"`
	Commits []Commit `json:"commits"`
	// Truncated is set when the walk stopped at MaxHistoryWalk commits.
	Truncated bool `json:"truncated,omitempty"`
	// Web is the repository's page on GitHub, GitLab or Gitea, when the
	// remote is one.
	Web string `json:"web,omitempty"`
}

// History reads the git history of a local repository (a work tree or a
// bare repository) for the flag view.
type History struct {
	dir, branch string
	web         webHost
	limit       int
	prefix      string // where the flags repository is in the git tree

	mu    sync.Mutex
	cache map[string]*FileHistory
	order []string
	// added is Added's answer at the head addedAt.
	added   map[string]time.Time
	addedAt plumbing.Hash
}

// OpenHistory opens the git repository at dir (a work tree, or a bare
// repository), following branch (its HEAD when the branch is missing).
// remote, when set, is the URL to link commits to; otherwise the
// repository's origin remote is used. limit caps the commits returned
// (0: 20).
func OpenHistory(dir, branch, remote string, limit int) (*History, error) {
	repo, err := openRepo(dir)
	if err != nil {
		return nil, fmt.Errorf("opening %s for its history: %w", dir, err)
	}
	if remote == "" {
		if r, err := repo.Remote("origin"); err == nil && len(r.Config().URLs) > 0 {
			remote = r.Config().URLs[0]
		}
	}
	if limit <= 0 {
		limit = DefaultHistoryCommits
	}
	prefix, err := repoPrefix(repo, dir)
	if err != nil {
		return nil, fmt.Errorf("opening %s for its history: %w", dir, err)
	}
	return &History{dir: dir, branch: branch, web: parseWebHost(remote), limit: limit, prefix: prefix, cache: map[string]*FileHistory{}}, nil
}

// repoPrefix is where dir is in the repository's tree: "" for a bare
// repository or the work tree's root, else a slash-separated path with a
// trailing slash (a flags repository kept in a subdirectory of a larger
// one, like flags.example in this project).
func repoPrefix(repo *git.Repository, dir string) (string, error) {
	wt, err := repo.Worktree()
	if err != nil {
		return "", nil // bare
	}
	root, err := filepath.EvalSymlinks(wt.Filesystem.Root())
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == "." {
		return "", err
	}
	if strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("%s is outside its work tree %s", dir, root)
	}
	return filepath.ToSlash(rel) + "/", nil
}

// openRepo opens a bare repository at dir, or the work tree dir is in.
func openRepo(dir string) (*git.Repository, error) {
	if repo, err := git.PlainOpen(dir); err == nil {
		return repo, nil
	}
	return git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
}

// FlagPaths are the repository files of flag in env: its flag file (either
// extension) and its override file.
func FlagPaths(env, flag string) []string {
	return []string{"flags/" + flag + ".yaml", "flags/" + flag + ".yml", path.Join("overrides", env, flag+".yaml")}
}

// Of returns the commits that changed any of paths, newest first, at most
// the History's limit, looking at MaxHistoryWalk commits at most.
func (h *History) Of(ctx context.Context, paths []string) (*FileHistory, error) {
	repo, err := openRepo(h.dir)
	if err != nil {
		return nil, fmt.Errorf("opening the repository: %w", err)
	}
	head, err := h.head(repo)
	if err != nil {
		return nil, err
	}
	key := head.String() + "\x00" + strings.Join(paths, "\x00")
	h.mu.Lock()
	if fh, ok := h.cache[key]; ok {
		h.mu.Unlock()
		return fh, nil
	}
	h.mu.Unlock()
	full := make([]string, len(paths))
	for i, p := range paths {
		full[i] = h.prefix + p
	}
	fh, err := h.walk(ctx, repo, head, full)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if _, ok := h.cache[key]; !ok {
		h.cache[key] = fh
		h.order = append(h.order, key)
		if len(h.order) > historyCacheSize {
			delete(h.cache, h.order[0])
			h.order = h.order[1:]
		}
	}
	h.mu.Unlock()
	return fh, nil
}

// head is the commit of the branch, or HEAD.
func (h *History) head(repo *git.Repository) (plumbing.Hash, error) {
	if h.branch != "" {
		if ref, err := repo.Reference(plumbing.NewBranchReferenceName(h.branch), true); err == nil {
			return ref.Hash(), nil
		}
	}
	ref, err := repo.Head()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading the repository's head: %w", err)
	}
	return ref.Hash(), nil
}

// walk looks at the commits from head, newest first, and keeps those whose
// tree differs from their first parent's at one of paths.
func (h *History) walk(ctx context.Context, repo *git.Repository, head plumbing.Hash, paths []string) (*FileHistory, error) {
	it, err := repo.Log(&git.LogOptions{From: head, Order: git.LogOrderCommitterTime})
	if err != nil {
		return nil, fmt.Errorf("reading the log: %w", err)
	}
	defer it.Close()
	fh := &FileHistory{Head: head.String(), Commits: []Commit{}, Web: h.web.repo}
	seen := 0
	err = it.ForEach(func(c *object.Commit) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if seen++; seen > MaxHistoryWalk {
			fh.Truncated = true
			return storer.ErrStop
		}
		changed, err := changedPaths(c, paths)
		if err != nil {
			return err
		}
		if len(changed) == 0 {
			return nil
		}
		for i, p := range changed {
			changed[i] = strings.TrimPrefix(p, h.prefix)
		}
		subject, _, _ := strings.Cut(strings.TrimSpace(c.Message), "\n")
		fh.Commits = append(fh.Commits, Commit{Hash: c.Hash.String(), Author: c.Author.Name, When: c.Author.When.UTC(),
			Subject: subject, Paths: changed, URL: h.web.commit(c.Hash.String())})
		if len(fh.Commits) >= h.limit {
			return storer.ErrStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, storer.ErrStop) {
		return nil, fmt.Errorf("reading the log: %w", err)
	}
	return fh, nil
}

// changedPaths lists which of paths differ between c and its first parent
// (all present ones for a root commit).
func changedPaths(c *object.Commit, paths []string) ([]string, error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	var parent *object.Tree
	if c.NumParents() > 0 {
		p, err := c.Parent(0)
		if err != nil {
			return nil, err
		}
		if parent, err = p.Tree(); err != nil {
			return nil, err
		}
	}
	var out []string
	for _, p := range paths {
		now := entryHash(tree, p)
		var before plumbing.Hash
		if parent != nil {
			before = entryHash(parent, p)
		}
		if now != before {
			out = append(out, p)
		}
	}
	return out, nil
}

// entryHash is the blob hash of p in t, or zero when absent.
func entryHash(t *object.Tree, p string) plumbing.Hash {
	e, err := t.FindEntry(p)
	if err != nil {
		return plumbing.ZeroHash
	}
	return e.Hash
}

// webHost builds links to a repository's pages on GitHub, GitLab or Gitea.
type webHost struct {
	repo   string // https://host/owner/name
	commit func(hash string) string
}

// parseWebHost recognises GitHub (github.com), GitLab (gitlab.com or a
// host named gitlab.*) and Gitea/Forgejo (gitea.com, codeberg.org, or a
// host named gitea.* or forgejo.*) remotes in https, ssh:// and scp-like
// forms. Any other remote gives no links. Credentials are never kept.
func parseWebHost(remote string) webHost {
	none := webHost{commit: func(string) string { return "" }}
	host, repoPath, ok := splitRemote(remote)
	if !ok {
		return none
	}
	repoPath = strings.TrimSuffix(strings.Trim(repoPath, "/"), ".git")
	if strings.Count(repoPath, "/") < 1 {
		return none
	}
	// The path is escaped (a remote may hold any byte) and the link must
	// parse back to the same host, or there is no link.
	base := (&url.URL{Scheme: "https", Host: host, Path: "/" + repoPath}).String()
	if u, err := url.Parse(base); err != nil || u.Host != host || u.User != nil {
		return none
	}
	name, _, _ := strings.Cut(host, ":")
	first, _, _ := strings.Cut(name, ".")
	switch {
	case name == "github.com":
		return webHost{repo: base, commit: func(h string) string { return base + "/commit/" + h }}
	case name == "gitlab.com" || first == "gitlab":
		return webHost{repo: base, commit: func(h string) string { return base + "/-/commit/" + h }}
	case slices.Contains([]string{"gitea.com", "codeberg.org"}, name) || first == "gitea" || first == "forgejo":
		return webHost{repo: base, commit: func(h string) string { return base + "/commit/" + h }}
	}
	return none
}

// splitRemote returns a remote's host (without credentials; with the port
// of an http(s) URL only) and path.
func splitRemote(remote string) (host, p string, ok bool) {
	remote = redact.URL(remote)
	if strings.Contains(remote, "://") {
		u, err := url.Parse(remote)
		if err != nil || u.Hostname() == "" {
			return "", "", false
		}
		if u.Scheme == "http" || u.Scheme == "https" {
			return strings.ToLower(u.Host), u.Path, true // the web pages are on the same port
		}
		return strings.ToLower(u.Hostname()), u.Path, true
	}
	// scp-like: [user@]host:path
	at := strings.LastIndex(remote, "@")
	rest := remote[at+1:]
	h, pth, found := strings.Cut(rest, ":")
	if !found || h == "" || strings.Contains(h, "/") {
		return "", "", false
	}
	return strings.ToLower(h), pth, true
}
