package writeback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/flagpole/flagpole/internal/gitx"
	"github.com/flagpole/flagpole/ruleset"
)

// ErrPermanent marks a write that no retry can make (the flag file to
// disable is gone at the head): the Writer gives it up and reports it with
// Landed.Dropped instead of retrying.
var ErrPermanent = errors.New("write cannot be made")

// maxFlagFile is the largest flag file the Writer edits: the loader's
// limit on any file of the repository.
const maxFlagFile = 1 << 20

// FlagPaths are the repository paths a flag's file may have, in the order
// the Writer looks for them: flags/<flag>.yaml, then flags/<flag>.yml.
func FlagPaths(flag string) []string {
	return []string{path.Join("flags", flag+".yaml"), path.Join("flags", flag+".yml")}
}

// Disable queues setting enabled: false in env's overlay of o.Flag's file
// (flags/<flag>.yaml or .yml): the breaker's on_trip: commit. o is the
// layer's override that serves the off variant meanwhile; its reason, by
// and at go into the commit message, and Landed reports it back. Every
// attempt edits the file as it is at the fetched head. It returns at once,
// like Set; a write of the same flag and environment still pending is
// replaced.
func (w *Writer) Disable(_ context.Context, env string, o ruleset.Override, requester string) error {
	if err := checkName("environment", env); err != nil {
		return fmt.Errorf("disabling a flag: %w", err)
	}
	if err := checkName("flag", o.Flag); err != nil {
		return fmt.Errorf("disabling a flag: %w", err)
	}
	if o.Environment == "" {
		o.Environment = env
	}
	if o.Environment != env {
		return fmt.Errorf("disabling %s: environment %q, want %q", o.Flag, o.Environment, env)
	}
	w.enqueue(&write{env: env, flag: o.Flag, action: ActionDisable, override: o,
		requester: requester, reason: o.Reason})
	return nil
}

// disableAt returns the change that disables wr's flag in its
// environment, made to the flag file as commit head has it.
func (w *Writer) disableAt(head plumbing.Hash, wr *write) (gitx.Change, error) {
	repo := w.clone.Repository()
	c, err := repo.CommitObject(head)
	if err != nil {
		return gitx.Change{}, fmt.Errorf("reading commit %s: %w", head, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return gitx.Change{}, fmt.Errorf("reading commit %s: %w", head, err)
	}
	for _, p := range FlagPaths(wr.flag) {
		e, err := tree.FindEntry(p)
		if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
			continue
		}
		if err != nil {
			return gitx.Change{}, fmt.Errorf("reading %s at %s: %w", p, head, err)
		}
		if e.Mode != filemode.Regular && e.Mode != filemode.Executable {
			return gitx.Change{}, fmt.Errorf("%w: %s at %s is not a regular file; disable %s in %s by hand",
				ErrPermanent, p, head, wr.flag, wr.env)
		}
		f, err := tree.TreeEntryFile(e)
		if err == nil && f.Size > maxFlagFile {
			err = fmt.Errorf("%w: larger than %d bytes", ErrPermanent, maxFlagFile)
		}
		var data []byte
		if err == nil {
			data, err = readBlob(f)
		}
		if err != nil {
			return gitx.Change{}, fmt.Errorf("reading %s at %s: %w", p, head, err)
		}
		edited, err := disableIn(data, wr.env)
		if err != nil {
			return gitx.Change{}, fmt.Errorf("%w: editing %s at %s: %w", ErrPermanent, p, head, err)
		}
		return gitx.Change{Path: p, Content: edited}, nil
	}
	return gitx.Change{}, fmt.Errorf("%w: flag %s has no file at %s (%s): it was removed or renamed",
		ErrPermanent, wr.flag, head, FlagPaths(wr.flag)[0])
}

func readBlob(f *object.File) ([]byte, error) {
	r, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, maxFlagFile+1))
}

// disableDir edits the flag file in the directory repository, through a
// temporary file and a rename.
func (w *Writer) disableDir(wr *write) error {
	for _, p := range FlagPaths(wr.flag) {
		file := filepath.Join(w.opts.Dir, filepath.FromSlash(p))
		st, err := os.Lstat(file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", file, err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file; disable %s in %s by hand", ErrPermanent, file, wr.flag, wr.env)
		}
		if st.Size() > maxFlagFile {
			return fmt.Errorf("%w: %s is larger than %d bytes", ErrPermanent, file, maxFlagFile)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("reading %s: %w", file, err)
		}
		edited, err := disableIn(data, wr.env)
		if err != nil {
			return fmt.Errorf("%w: editing %s: %w", ErrPermanent, file, err)
		}
		if string(edited) == string(data) {
			return nil
		}
		return replaceFile(file, edited)
	}
	return fmt.Errorf("%w: flag %s has no file in %s: it was removed or renamed", ErrPermanent, wr.flag, w.opts.Dir)
}
