// Package fstat tells whether a file is unchanged since it was read from
// its metadata alone, as git's index does, so that the syncer's directory
// source and the loader need not read and hash every file of a large
// repository on each change.
//
// A file is taken as unchanged when its size, modification time, change
// time, inode and device are those recorded when it was read, and it was
// not modified within Margin before that read ("racily clean" in git's
// words: a write in the same clock tick as the read could keep every
// field). The change time cannot be set by a program (writing the file,
// os.Chtimes and chmod all move it to now), so a file rewritten with the
// same size and its old modification time still counts as changed. Where
// the metadata is not available (not a Unix system) nothing is trusted.
package fstat

import (
	"os"
	"time"
)

// Margin is how long before a read a file must have last changed for its
// metadata to stand for its content later: more than the coarsest
// timestamp granularity of common file systems (1 s; ext4, XFS, btrfs and
// tmpfs record nanoseconds).
const Margin = 2 * time.Second

// Key is the metadata of a file that changes whenever its content does.
type Key struct {
	Size         int64
	Mtime, Ctime int64 // nanoseconds since the epoch
	Ino, Dev     uint64
}

// Of returns the key of fi, and false when the system does not give one.
func Of(fi os.FileInfo) (Key, bool) { return of(fi) }

// Unchanged reports whether a file whose key is now k still has the content
// it had when it was read at readAt with key was, given the file system's
// timestamp granularity margin (Margin unless known to be finer).
func Unchanged(was, k Key, readAt time.Time, margin time.Duration) bool {
	if was != k {
		return false
	}
	limit := readAt.Add(-margin).UnixNano()
	return k.Mtime < limit && k.Ctime < limit
}
