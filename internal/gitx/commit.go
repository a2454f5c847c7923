package gitx

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// ErrNothingToCommit is returned by Commit when the changes leave the
// parent's tree as it is (a re-applied change that the remote already has).
var ErrNothingToCommit = errors.New("nothing to commit")

// Change is one file of a commit: new content, or a deletion.
type Change struct {
	// Path is slash-separated and relative to the repository root.
	Path string
	// Content is the file's new content (created or replaced). Ignored
	// when Delete is set.
	Content []byte
	// Delete removes the file; a file that is not there is no error.
	// Directories left empty disappear, as git does not keep them.
	Delete bool
}

// Signature is who made a commit and when.
type Signature struct {
	Name, Email string
	// When is the commit time; zero means now.
	When time.Time
}

// Commit writes, into the clone only, a commit whose parent is parent
// (the zero hash for a first commit on an empty branch) and whose tree is
// parent's tree with changes applied (a later change of the same path
// wins), authored and committed by author. It returns the commit's hash;
// Push publishes it. Only the directories on the changed paths are
// rewritten, however large the tree.
func (c *Clone) Commit(parent plumbing.Hash, changes []Change, message string, author Signature) (plumbing.Hash, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.repo.Storer
	edits := map[string]*Change{}
	for i := range changes {
		p := changes[i].Path
		if err := checkPath(p); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("committing to %s: %w", c, err)
		}
		edits[p] = &changes[i]
	}
	var base plumbing.Hash // zero: the empty tree
	var parents []plumbing.Hash
	if !parent.IsZero() {
		pc, err := object.GetCommit(s, parent)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("committing to %s: reading parent %s: %w", c, parent, err)
		}
		base, parents = pc.TreeHash, []plumbing.Hash{parent}
	}
	tree, err := editTree(s, base, "", edits)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("committing to %s: %w", c, err)
	}
	if tree.IsZero() {
		if tree, err = store(s, &object.Tree{}); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("committing to %s: %w", c, err)
		}
	}
	if len(parents) > 0 && tree == base {
		return plumbing.ZeroHash, ErrNothingToCommit
	}
	when := author.When
	if when.IsZero() {
		when = time.Now()
	}
	sig := object.Signature{Name: author.Name, Email: author.Email, When: when}
	hash, err := store(s, &object.Commit{Author: sig, Committer: sig, Message: message, TreeHash: tree, ParentHashes: parents})
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("committing to %s: %w", c, err)
	}
	return hash, nil
}

// checkPath accepts clean relative paths that stay out of .git.
func checkPath(p string) error {
	if !fs.ValidPath(p) || p == "." || path.Clean(p) != p || strings.Contains(p, "\\") {
		return fmt.Errorf("invalid path %q", p)
	}
	for _, part := range strings.Split(p, "/") {
		if strings.EqualFold(part, ".git") {
			return fmt.Errorf("invalid path %q", p)
		}
	}
	return nil
}

// editTree applies edits (paths relative to the tree at dir) to the tree
// hash (zero: empty) and returns the new tree's hash, zero when it ends up
// empty.
func editTree(s storer.EncodedObjectStorer, hash plumbing.Hash, dir string, edits map[string]*Change) (plumbing.Hash, error) {
	entries := map[string]object.TreeEntry{}
	if !hash.IsZero() {
		t, err := object.GetTree(s, hash)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("reading tree %s: %w", path.Join("/", dir), err)
		}
		for _, e := range t.Entries {
			entries[e.Name] = e
		}
	}
	below := map[string]map[string]*Change{}
	for p, ch := range edits {
		if name, rest, ok := strings.Cut(p, "/"); ok {
			if below[name] == nil {
				below[name] = map[string]*Change{}
			}
			below[name][rest] = ch
			continue
		}
		old, exists := entries[p]
		if exists && old.Mode == filemode.Dir {
			return plumbing.ZeroHash, fmt.Errorf("%s is a directory", path.Join(dir, p))
		}
		if ch.Delete {
			delete(entries, p)
			continue
		}
		blob, err := storeBlob(s, ch.Content)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		mode := filemode.Regular
		if exists && old.Mode == filemode.Executable {
			mode = filemode.Executable
		}
		entries[p] = object.TreeEntry{Name: p, Mode: mode, Hash: blob}
	}
	for name, sub := range below {
		var oldHash plumbing.Hash
		if old, ok := entries[name]; ok {
			if old.Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%s is not a directory", path.Join(dir, name))
			}
			oldHash = old.Hash
		}
		h, err := editTree(s, oldHash, path.Join(dir, name), sub)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if h.IsZero() {
			delete(entries, name)
		} else {
			entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
		}
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, nil
	}
	t := &object.Tree{}
	for _, e := range entries {
		t.Entries = append(t.Entries, e)
	}
	// Git's order: by name, a directory sorting as if its name ended in '/'.
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(t.Entries, func(i, j int) bool { return key(t.Entries[i]) < key(t.Entries[j]) })
	return store(s, t)
}

// encoder is a git object that go-git can encode.
type encoder interface {
	Encode(plumbing.EncodedObject) error
}

// store writes a tree or commit into s.
func store(s storer.EncodedObjectStorer, o encoder) (plumbing.Hash, error) {
	obj := s.NewEncodedObject()
	if err := o.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding an object: %w", err)
	}
	h, err := s.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("writing an object: %w", err)
	}
	return h, nil
}

// storeBlob writes content into s as a blob.
func storeBlob(s storer.EncodedObjectStorer, content []byte) (plumbing.Hash, error) {
	obj := s.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(content)))
	w, err := obj.Writer()
	if err == nil {
		_, err = w.Write(content)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding a blob: %w", err)
	}
	h, err := s.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("writing a blob: %w", err)
	}
	return h, nil
}
