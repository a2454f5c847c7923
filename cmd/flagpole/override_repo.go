package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/flagpole/flagpole/internal/backoff"
	"github.com/flagpole/flagpole/internal/redact"
	"github.com/flagpole/flagpole/loader"
	"github.com/flagpole/flagpole/loader/writeback"
	"github.com/flagpole/flagpole/ruleset"
)

// pushAttempts is how many times --repo mode commits and pushes before it
// gives up on a branch that keeps moving.
const pushAttempts = 5

// pushBackoff spaces the attempts after a rejected push.
var pushBackoff = backoff.Policy{Min: 200 * time.Millisecond, Max: 3 * time.Second}

// beforePush, when set (tests), runs between commit and push.
var beforePush func()

// errRejected is a push the remote refused because the branch moved.
var errRejected = errors.New("push rejected: the branch moved on the remote")

// repoClone is a user's work tree of the flags repository, driven with the
// git CLI so that the user's identity, credentials (ssh agent, credential
// helpers) and upstream configuration apply.
type repoClone struct {
	dir            string // top of the work tree
	remote, branch string // upstream: origin, main
	remoteURL      string // for scrubbing errors
	local          string // the checked-out branch; "" when detached
	tracks         string // the remote branch local tracks; "" for none
	branchChecked  bool   // branch is the one flagpole.yaml's writeback.branch names
	noPush         bool
}

// git runs git in the clone with stdin and returns its trimmed output.
func (r *repoClone) git(ctx context.Context, stdin []byte, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", r.dir}, args...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "GIT_TERMINAL_PROMPT=0")
	cmd.Env = append(cmd.Env, env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", args[0], redact.Text(msg, r.remoteURL))
	}
	return strings.TrimSpace(out.String()), nil
}

// openClone finds the work tree of dir and the branch to push to: the
// checked-out branch's upstream (none needed with noPush).
func openClone(ctx context.Context, dir string, noPush bool) (*repoClone, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, errors.New("--repo needs the git command, which is not installed (or use --server)")
	}
	r := &repoClone{dir: dir, noPush: noPush}
	top, err := r.git(ctx, nil, nil, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("%s is not a git clone of the flags repository: %w", dir, err)
	}
	r.dir = top
	r.local, _ = r.git(ctx, nil, nil, "symbolic-ref", "--quiet", "--short", "HEAD")
	if noPush {
		return r, nil
	}
	var merge string
	if r.local != "" {
		r.remote, _ = r.git(ctx, nil, nil, "config", "branch."+r.local+".remote")
		merge, _ = r.git(ctx, nil, nil, "config", "branch."+r.local+".merge")
	}
	r.branch = strings.TrimPrefix(merge, "refs/heads/")
	r.tracks = r.branch
	if r.remote == "" || r.remote == "." || r.branch == "" {
		// No upstream: origin, on the branch flagpole.yaml names (main
		// until it is read).
		if _, err := r.git(ctx, nil, nil, "remote", "get-url", "origin"); err != nil {
			return nil, fmt.Errorf("%s: the checked-out branch has no upstream and there is no remote origin to push to: set one with git branch --set-upstream-to origin/main (or pass --no-push)", top)
		}
		r.remote, r.branch, r.tracks = "origin", "main", ""
	}
	r.remoteURL, _ = r.git(ctx, nil, nil, "remote", "get-url", r.remote)
	return r, nil
}

// upstream names the branch pushed to, e.g. origin/main.
func (r *repoClone) upstream() string { return r.remote + "/" + r.branch }

// base returns the commit to build on: the upstream branch freshly
// fetched, or HEAD with noPush.
func (r *repoClone) base(ctx context.Context) (string, error) {
	if r.noPush {
		h, err := r.git(ctx, nil, nil, "rev-parse", "--verify", "HEAD^{commit}")
		if err != nil {
			return "", fmt.Errorf("%s has no commit yet: %w", r.dir, err)
		}
		return h, nil
	}
	track := "refs/remotes/" + r.remote + "/" + r.branch
	if _, err := r.git(ctx, nil, nil, "fetch", "--quiet", "--no-tags", r.remote, "+refs/heads/"+r.branch+":"+track); err != nil {
		return "", fmt.Errorf("fetching %s: %w", r.upstream(), err)
	}
	return r.git(ctx, nil, nil, "rev-parse", "--verify", track+"^{commit}")
}

// checkout writes the tree of commit into a new temporary directory, for
// the loader, and returns it; the caller removes it.
func (r *repoClone) checkout(ctx context.Context, commit string) (string, error) {
	tmp, err := os.MkdirTemp("", "flagpole-override-")
	if err != nil {
		return "", err
	}
	index := []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "index")}
	tree := filepath.Join(tmp, "tree") + string(filepath.Separator)
	if _, err = r.git(ctx, nil, index, "read-tree", commit); err == nil {
		_, err = r.git(ctx, nil, index, "checkout-index", "--all", "--prefix="+tree)
	}
	if err == nil {
		err = os.MkdirAll(tree, 0o755) // an empty tree writes nothing
	}
	if err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("reading commit %s: %w", short(commit), err)
	}
	return tmp, nil
}

// commitFile commits content at rel (nil: remove it) onto parent with
// message and returns the new commit, or "" when the tree would not change.
// Author and committer come from the clone's git config, else fallback.
func (r *repoClone) commitFile(ctx context.Context, parent, rel string, content []byte, message string, fallback loader.Author) (string, error) {
	tmp, err := os.MkdirTemp("", "flagpole-index-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	env := []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "index")}
	if _, err := r.git(ctx, nil, env, "read-tree", parent); err != nil {
		return "", err
	}
	if content == nil {
		_, err = r.git(ctx, nil, env, "update-index", "--force-remove", "--", rel)
	} else {
		var blob string
		blob, err = r.git(ctx, content, nil, "hash-object", "-w", "--stdin")
		if err == nil {
			_, err = r.git(ctx, nil, env, "update-index", "--add", "--cacheinfo", "100644,"+blob+","+rel)
		}
	}
	if err != nil {
		return "", err
	}
	tree, err := r.git(ctx, nil, env, "write-tree")
	if err != nil {
		return "", err
	}
	if old, _ := r.git(ctx, nil, nil, "rev-parse", parent+"^{tree}"); old == tree {
		return "", nil
	}
	return r.git(ctx, []byte(message), r.identityEnv(ctx, fallback), "commit-tree", tree, "-p", parent, "-F", "-")
}

// identity is the user's git name and email ("" when not configured).
func (r *repoClone) identity(ctx context.Context) (name, email string) {
	name = os.Getenv("GIT_AUTHOR_NAME")
	if name == "" {
		name, _ = r.git(ctx, nil, nil, "config", "user.name")
	}
	email = os.Getenv("GIT_AUTHOR_EMAIL")
	if email == "" {
		email, _ = r.git(ctx, nil, nil, "config", "user.email")
	}
	return name, email
}

// identityEnv fills in the fallback author for what git config lacks.
func (r *repoClone) identityEnv(ctx context.Context, fallback loader.Author) []string {
	name, email := r.identity(ctx)
	var env []string
	if name == "" {
		env = append(env, "GIT_AUTHOR_NAME="+fallback.Name, "GIT_COMMITTER_NAME="+fallback.Name)
	}
	if email == "" {
		env = append(env, "GIT_AUTHOR_EMAIL="+fallback.Email, "GIT_COMMITTER_EMAIL="+fallback.Email)
	}
	return env
}

// push publishes commit to the upstream branch without force.
func (r *repoClone) push(ctx context.Context, commit string) error {
	_, err := r.git(ctx, nil, nil, "push", "--quiet", r.remote, commit+":refs/heads/"+r.branch)
	if err == nil {
		_, _ = r.git(ctx, nil, nil, "update-ref", "refs/remotes/"+r.upstream(), commit)
		return nil
	}
	msg := err.Error()
	for _, s := range []string{"[rejected]", "non-fast-forward", "fetch first", "stale info", "cannot lock ref"} {
		if strings.Contains(msg, s) {
			return fmt.Errorf("%w: %s", errRejected, msg)
		}
	}
	return fmt.Errorf("pushing to %s: %w", r.upstream(), err)
}

// advance moves the checked-out branch (and work tree) to commit when that
// is a fast-forward that leaves local changes alone; it reports whether it
// did.
func (r *repoClone) advance(ctx context.Context, commit string) bool {
	if !r.noPush && (r.local == "" || r.branch != r.tracks) {
		return false
	}
	if _, err := r.git(ctx, nil, nil, "merge-base", "--is-ancestor", "HEAD", commit); err != nil {
		return false
	}
	_, err := r.git(ctx, nil, nil, "merge", "--ff-only", "--quiet", commit)
	return err == nil
}

// repoChange is one set or clear to record in the repository.
type repoChange struct {
	spec   overrideSpec
	action writeback.Action
}

// record validates ch against the commit it builds on, commits it and
// pushes it, re-applying it on the new head after a rejected push.
func record(ctx context.Context, dir string, ch repoChange, stdout, stderr io.Writer) int {
	cmd := "override " + ch.action.String()
	r, err := openClone(ctx, dir, ch.spec.noPush)
	if err != nil {
		return fail(stderr, cmd, err)
	}
	retry := backoff.Counter{Policy: pushBackoff}
	for attempt := 1; ; attempt++ {
		commit, subject, err := r.apply(ctx, ch)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		if commit == "" {
			fmt.Fprintf(stdout, "%s already records this: nothing to commit\n", r.where())
			return exitOK
		}
		if r.noPush {
			if !r.advance(ctx, commit) {
				return fail(stderr, cmd, fmt.Errorf("committed %s but could not move %s to it: a local change to %s is in the way (the commit is kept: git merge --ff-only %s)",
					short(commit), r.where(), writeback.Path(ch.spec.env, ch.spec.flag), commit))
			}
			fmt.Fprintf(stdout, "committed %s %q on %s (not pushed)\n", short(commit), subject, r.where())
			return exitOK
		}
		if beforePush != nil {
			beforePush()
		}
		err = r.push(ctx, commit)
		if err == nil {
			fmt.Fprintf(stdout, "committed %s %q and pushed to %s\n", short(commit), subject, r.upstream())
			switch {
			case r.advance(ctx, commit):
			case r.local != "" && r.branch == r.tracks:
				fmt.Fprintf(stdout, "note: %s did not move (local commits or changes); run git pull to see the override\n", r.local)
			default:
				fmt.Fprintf(stdout, "note: the checked-out branch does not track %s, where the override is (flagpole.yaml writeback.branch)\n", r.upstream())
			}
			return exitOK
		}
		if !errors.Is(err, errRejected) || attempt >= pushAttempts {
			return fail(stderr, cmd, fmt.Errorf("%s in %s: committed %s but did not push it: %w", ch.spec.flag, ch.spec.env, short(commit), err))
		}
		d := retry.Next()
		fmt.Fprintf(stderr, "flagpole %s: %s moved while pushing; fetching and re-applying in %s (attempt %d of %d)\n",
			cmd, r.upstream(), d.Round(time.Millisecond), attempt+1, pushAttempts)
		select {
		case <-ctx.Done():
			return fail(stderr, cmd, ctx.Err())
		case <-time.After(d):
		}
	}
}

// where names the branch committed to.
func (r *repoClone) where() string {
	if r.noPush {
		if r.local != "" {
			return r.local
		}
		return "HEAD"
	}
	return r.upstream()
}

// apply builds ch onto the current base after checking it against the
// repository there; it returns the commit ("" when nothing changes) and its
// subject.
func (r *repoClone) apply(ctx context.Context, ch repoChange) (commit, subject string, err error) {
	base, err := r.base(ctx)
	if err != nil {
		return "", "", err
	}
	tmp, err := r.checkout(ctx, base)
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "tree")
	at := fmt.Sprintf("%s (commit %s)", r.where(), short(base))
	repo, err := loader.Load(tree, loader.Options{Now: func() time.Time { return ch.spec.now }})
	if err != nil {
		return "", "", fmt.Errorf("the flags repository on %s is not valid, so no override can be checked against it (run flagpole validate):\n%w", at, err)
	}
	if wb := repo.Settings.Writeback.Branch; !r.noPush && !r.branchChecked && wb != "" && wb != r.branch {
		// Overrides go to the branch the servers follow, whatever is
		// checked out.
		r.branch, r.branchChecked = wb, true
		return r.apply(ctx, ch)
	}
	r.branchChecked = true
	s := ch.spec
	if s.by == "" {
		s.by = defaultBy(ctx, r, repo)
	}
	rel := writeback.Path(s.env, s.flag)
	var content []byte
	var o ruleset.Override
	switch ch.action {
	case writeback.ActionSet:
		if o, err = buildOverride(repo, s, at); err != nil {
			return "", "", err
		}
		if content, err = writeback.Render(o); err != nil {
			return "", "", err
		}
		if err := checkResult(tree, rel, content, s.now); err != nil {
			return "", "", fmt.Errorf("the override of %s in %s would not be valid: %w", s.flag, s.env, err)
		}
	default:
		if err := checkTarget(repo, s.env, "", at); err != nil {
			return "", "", err
		}
		if _, err := os.Stat(filepath.Join(tree, filepath.FromSlash(rel))); err != nil {
			return "", "", fmt.Errorf("no override of %s in %s on %s: %s does not exist", s.flag, s.env, at, rel)
		}
	}
	msg := writeback.Message(ch.action, s.env, s.flag, o, s.by, s.reason)
	commit, err = r.commitFile(ctx, base, rel, content, msg, repo.Settings.Writeback.Author)
	if err != nil {
		return "", "", fmt.Errorf("committing %s: %w", rel, err)
	}
	subject, _, _ = strings.Cut(msg, "\n")
	return commit, subject, nil
}

// buildOverride checks s against repo and returns the override to write.
func buildOverride(repo *loader.Repo, s overrideSpec, at string) (ruleset.Override, error) {
	if err := checkTarget(repo, s.env, s.flag, at); err != nil {
		return ruleset.Override{}, err
	}
	f := repo.Documents[s.env].Flags.Get(s.flag)
	serve := s.serve
	if s.off {
		serve = f.Off
	}
	var names []string
	found := false
	for _, v := range f.Variants {
		names = append(names, v.Name)
		found = found || v.Name == serve
	}
	if !found {
		return ruleset.Override{}, fmt.Errorf("flag %s has no variant %q in %s (variants: %s)", s.flag, serve, s.env, strings.Join(names, ", "))
	}
	o := ruleset.Override{Flag: s.flag, Environment: s.env, Serve: serve, Reason: s.reason, By: s.by, At: s.now}
	switch {
	case s.forDur > 0:
		exp := s.now.Add(s.forDur).Truncate(time.Second)
		o.Expires = &exp
	case s.until != nil:
		o.Expires = s.until
	}
	return o, nil
}

// checkTarget checks that env is declared and flag (when not "") exists
// there, naming what is missing.
func checkTarget(repo *loader.Repo, env, flag, at string) error {
	doc, ok := repo.Documents[env]
	if !ok {
		return fmt.Errorf("environment %q is not declared in flagpole.yaml on %s (declared: %s)", env, at, strings.Join(repo.Settings.Environments, ", "))
	}
	if flag == "" {
		return nil
	}
	if !doc.Flags.Has(flag) {
		keys := make([]string, 0, doc.Flags.Len())
		for k := range doc.Flags.All() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if near := nearest(flag, keys); near != "" {
			return fmt.Errorf("flag %q not found in environment %s on %s: did you mean %s?", flag, env, at, near)
		}
		return fmt.Errorf("flag %q not found in environment %s on %s (flags: %s)", flag, env, at, abbreviate(keys, 10))
	}
	return nil
}

// nearest returns the key closest to name when it is a likely typo (at
// most two edits away), else "".
func nearest(name string, keys []string) string {
	best, bestD := "", 3
	for _, k := range keys {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// checkResult writes content at rel in the checked-out tree and loads it,
// so that what is committed is a valid repository.
func checkResult(tree, rel string, content []byte, now time.Time) error {
	file := filepath.Join(tree, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(file, content, 0o644); err != nil {
		return err
	}
	_, err := loader.Load(tree, loader.Options{Now: func() time.Time { return now }})
	return err
}

// defaultBy is who sets an override in --repo mode when --by is not given:
// the git identity, else flagpole.yaml's write-back author.
func defaultBy(ctx context.Context, r *repoClone, repo *loader.Repo) string {
	if name, _ := r.identity(ctx); name != "" {
		return name
	}
	return repo.Settings.Writeback.Author.Name
}

func setInRepo(ctx context.Context, dir string, spec overrideSpec, stdout, stderr io.Writer) int {
	return record(ctx, dir, repoChange{spec: spec, action: writeback.ActionSet}, stdout, stderr)
}

func clearInRepo(ctx context.Context, dir string, spec overrideSpec, stdout, stderr io.Writer) int {
	return record(ctx, dir, repoChange{spec: spec, action: writeback.ActionClear}, stdout, stderr)
}

// listInRepo lists the overrides of the repository in dir (its work tree,
// as checked out) in the admin API's JSON form.
func listInRepo(dir, env string) ([]byte, error) {
	repo, err := loader.Load(dir, loader.Options{Now: time.Now})
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid flags repository (run flagpole validate):\n%w", dir, err)
	}
	if env != "" {
		if err := checkTarget(repo, env, "", dir); err != nil {
			return nil, err
		}
	}
	out := struct {
		Overrides []overrideEntry `json:"overrides"`
	}{Overrides: []overrideEntry{}}
	for _, e := range repo.Settings.Environments {
		if env != "" && e != env {
			continue
		}
		for _, o := range repo.Documents[e].Overrides {
			entry := overrideEntry{Environment: e, Flag: o.Flag, Serve: o.Serve, Reason: o.Reason, By: o.By,
				At: o.At.UTC().Format(time.RFC3339), Source: "git", Writeback: "landed"}
			if o.Expires != nil {
				entry.Expires = o.Expires.UTC().Format(time.RFC3339)
			}
			if o.Recovery != nil {
				entry.Recovery, _ = json.Marshal(o.Recovery)
			}
			out.Overrides = append(out.Overrides, entry)
		}
	}
	sortEntries(out.Overrides)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err = enc.Encode(out)
	return b.Bytes(), err
}

// short abbreviates a commit hash.
func short(h string) string {
	if len(h) > 7 {
		return h[:7]
	}
	return h
}
