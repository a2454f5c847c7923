package fstat

import (
	"crypto/sha256"
	"io/fs"
)

// Kinds of Scanned paths.
const (
	KindDir  = 'd'
	KindLink = 'l'
	KindFile = 'f'
	// KindOther is a pipe, socket or device: never read, recorded so that
	// a load listing the scan reports it where a flag file was expected.
	KindOther = 'o'
)

// Scanned is what a scan of a directory tree found at one path: the
// directory source hands it to the loader (source.Revision.Files,
// loader.Cache.UseScan), which then neither lstats the path again nor, when
// a cached file has the same content hash, reads it; and which detects a
// file that changed between the scan and its own read.
type Scanned struct {
	// Info is the path's lstat at the scan; nil for a directory, or when
	// it could not be taken.
	Info fs.FileInfo
	// Sum is a regular file's content SHA-256 as the scan read it (zero if
	// the file vanished before it could be read).
	Sum [sha256.Size]byte
	// Kind is KindDir, KindLink, KindFile or KindOther.
	Kind byte
	// Target is a symbolic link's target as the scan read it.
	Target string
}

// Scan is what one scan of a directory tree found (source.Revision.Files,
// loader.Cache.UseScan).
type Scan struct {
	// Files holds what the scan found at each path, by slash path relative
	// to the directory ("." for the directory itself). Read-only.
	Files map[string]Scanned
	// Gen numbers the scan, unique within the process; zero when the
	// scanner numbers none.
	Gen uint64
	// Since, when not nil, returns the paths whose entry in Files may
	// differ from what the scan numbered gen found (added, removed or
	// changed), sorted and without repeats, or false when it does not know
	// (gen is not one of its recent scans). A one-file change then costs
	// its receiver one path, not a comparison of every path.
	Since func(gen uint64) ([]string, bool)
}
