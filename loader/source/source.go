// Package source watches where a flags repository lives — a plain directory
// or a git branch — and hands each new version of it, checked out in a
// directory, to a callback (the syncer), together with the errors met on the
// way (an unreachable remote, a deleted branch, a missing directory).
package source

import (
	"context"

	"github.com/flagpole/flagpole/internal/fstat"
)

// Revision is one version of the repository, ready to load.
type Revision struct {
	// ID identifies the version: the full commit hash for git, the SHA-256
	// of the files' paths and content hashes for a directory.
	ID string
	// Dir holds the files. It is valid only during the callback that
	// receives the revision; the source may remove it afterwards.
	Dir string
	// Files, when not nil, holds what the source's own scan of Dir found
	// at each path (by path relative to Dir with slashes: lstat, content
	// hash, kind), the scan whose result ID is, and which paths changed
	// since an earlier scan (fstat.Scan.Since). The loader then need not
	// lstat every file again, reads no file whose content hash it has
	// cached, compares only the paths that changed, and finds out when a
	// file it reads is not the one the scan hashed (loader.Cache.UseScan):
	// Dir is a live directory, and a write between the scan and the load
	// must not be published under ID. Read-only, and valid only during the
	// callback that receives the revision: the source changes it in place
	// for the next one.
	Files *fstat.Scan
	// Retry, when not nil, tells the source that the receiver could not
	// use this revision because Dir changed after the scan
	// (loader.ErrChanged): the source then reads Dir again soon and
	// reports what it finds even when the ID is this one again. Call it
	// only during the callback that received the revision.
	Retry func()
}

// Short is the first 12 characters of ID, used as the rule-set version.
func (r Revision) Short() string {
	if len(r.ID) > 12 {
		return r.ID[:12]
	}
	return r.ID
}

// Update is what a source reports: a new revision, or an error.
type Update struct {
	// Revision is set when Err is nil.
	Revision Revision
	// Err says why no revision could be produced (fetch failed, branch
	// deleted, directory missing). The last good revision stays current and
	// the source retries by itself. Errors never contain credentials.
	Err error
}

// Source produces revisions of a flags repository.
type Source interface {
	// Run reports the current revision, then every new one, to fn until ctx
	// is done (it then returns nil). fn runs on Run's goroutine: the source
	// waits for it before looking for the next revision, and reports a
	// revision only when it differs from the last one reported or follows
	// an error (then it may be the same revision: the source recovered). It returns
	// an error only when the source cannot work at all.
	Run(ctx context.Context, fn func(context.Context, Update)) error
	// Trigger asks for an immediate check (a webhook announced a push). It
	// never blocks; triggers during a check coalesce into one more check.
	Trigger()
	// String describes the source for status and logs, without credentials.
	String() string
}

// Brancher is implemented by sources that follow a branch.
type Brancher interface {
	Branch() string
}
