package source

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flagpole/flagpole/internal/fstat"
)

// entry is one path of a scan: a directory, a symbolic link or a regular
// file, with what the revision ID is made of.
type entry struct {
	rel    string      // slash path relative to the root; "." for the root
	kind   byte        // fstat.KindDir, KindLink, KindFile or KindOther (part of the revision ID)
	info   fs.FileInfo // lstat of a file or link; nil if unknown or a directory
	target string      // a link's target
	sum    [sha256.Size]byte
	key    fstat.Key // a file's metadata when read, valid if haveKey
	// haveKey: key is valid and sum is the content read at readAt.
	haveKey bool
	readAt  time.Time
}

// tree is every entry of a scan in the order filepath.WalkDir visits them
// (comparePaths), so that the revision ID can be recomputed after changing
// a few entries, and so that a file whose metadata says it is unchanged
// (package fstat) is not read again: a one-file change in a directory of
// 10,000 files then reads one. files holds the same entries by path
// (Revision.Files), kept in step rather than made again per revision: at
// 100,000 files making it was a sixth of a one-file change.
type tree struct {
	root    string // the directory the entries are relative to
	entries []*entry
	files   map[string]fstat.Scanned
	// gen numbers the current state of files (fstat.Scan.Gen); log holds
	// the paths each of the last states changed, oldest first, back to
	// the last full scan (from, whose state starts the log).
	gen, from uint64
	log       []genPaths
	logged    int // paths in log
}

// genPaths is the paths whose entries changed to make state gen.
type genPaths struct {
	gen   uint64
	paths []string
}

// Bounds of a tree's log: beyond them the oldest states are forgotten, and
// a receiver still at one compares every path (fstat.Scan.Since false).
const (
	maxLogGens  = 64
	maxLogPaths = 4 * maxDirty
)

// lastGen numbers the states of every tree of the process, so that a
// state's number names it whichever tree it is asked of.
var lastGen atomic.Uint64

// scanTree hashes every file under root (paths, kinds and the SHA-256 of
// contents; .git directories skipped) and lists its directories, root
// included. t holds the entries of the last scan, reused where a file is
// unchanged, and is made this scan's (its files are Revision.Files, a new
// state with no log).
func scanTree(root string, t *tree) (hash string, dirs []string, err error) {
	var old []*entry
	if t.root == root {
		old = t.entries
	}
	entries, dirs, err := walkTree(root, root, old, make([]byte, 32<<10))
	if err != nil {
		return "", nil, err
	}
	files := make(map[string]fstat.Scanned, len(entries))
	for _, e := range entries {
		files[e.rel] = e.scanned()
	}
	gen := lastGen.Add(1)
	*t = tree{root: root, entries: entries, files: files, gen: gen, from: gen}
	return sumEntries(entries), dirs, nil
}

// scan returns the tree's current state for a revision.
func (t *tree) scan() *fstat.Scan {
	return &fstat.Scan{Files: t.files, Gen: t.gen, Since: t.since}
}

// since implements fstat.Scan.Since.
func (t *tree) since(gen uint64) ([]string, bool) {
	if gen == t.gen {
		return nil, true
	}
	i := slices.IndexFunc(t.log, func(l genPaths) bool { return l.gen == gen })
	if i < 0 && gen != t.from {
		return nil, false
	}
	var paths []string
	for _, l := range t.log[i+1:] { // all of it from t.from (i = -1)
		paths = append(paths, l.paths...)
	}
	slices.Sort(paths)
	return slices.Compact(paths), true
}

// changed records a new state of files that differs from the last at
// paths.
func (t *tree) changed(paths []string) {
	t.gen = lastGen.Add(1)
	t.log = append(t.log, genPaths{gen: t.gen, paths: paths})
	t.logged += len(paths)
	for len(t.log) > maxLogGens || (t.logged > maxLogPaths && len(t.log) > 1) {
		t.logged -= len(t.log[0].paths)
		t.from = t.log[0].gen // the oldest state still known
		t.log = t.log[1:]
	}
}

// scanned is what the entry holds, as Revision.Files has it.
func (e *entry) scanned() fstat.Scanned {
	return fstat.Scanned{Info: e.info, Sum: e.sum, Kind: e.kind, Target: e.target}
}

// walkTree reads the subtree at start (root or a directory under it) into
// entries, relative to root and in walk order. old holds the entries the
// subtree had (in the same order; any others are skipped) whose content
// hashes are reused for files that fstat says are unchanged. buf is the
// read buffer.
func walkTree(root, start string, old []*entry, buf []byte) (entries []*entry, dirs []string, err error) {
	begin := time.Now()
	entries = make([]*entry, 0, len(old))
	err = filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != start && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking; the next event rescans
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		var prev *entry
		for len(old) > 0 && comparePaths(old[0].rel, rel) <= 0 {
			if old[0].rel == rel {
				prev = old[0]
			}
			old = old[1:]
		}
		switch {
		case d.IsDir():
			if d.Name() == ".git" && path != root {
				return filepath.SkipDir
			}
			dirs = append(dirs, path)
			entries = append(entries, &entry{rel: rel, kind: fstat.KindDir})
		case d.Type()&fs.ModeSymlink != 0:
			e, ok := readLink(path, rel)
			if ok {
				entries = append(entries, e)
			}
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				info = nil
			}
			e, err := readFile(path, rel, info, prev, begin, buf)
			if err != nil {
				return err
			}
			entries = append(entries, e)
		default:
			entries = append(entries, otherEntry(rel, d.Info))
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading directory %s: %w", root, err)
	}
	return entries, dirs, nil
}

// otherEntry returns the entry of a pipe, socket or device at rel.
func otherEntry(rel string, lstat func() (fs.FileInfo, error)) *entry {
	info, err := lstat()
	if err != nil {
		info = nil
	}
	return &entry{rel: rel, kind: fstat.KindOther, info: info}
}

// readLink returns the entry of the symbolic link at path, and false if
// it cannot be read (it is then left out, as if absent).
func readLink(path, rel string) (*entry, bool) {
	target, err := os.Readlink(path)
	if err != nil {
		return nil, false
	}
	e := &entry{rel: rel, kind: fstat.KindLink, target: target}
	if info, err := os.Lstat(path); err == nil {
		e.info = info
	}
	return e, true
}

// readFile returns the entry of the regular file at path whose lstat is
// info (nil if unknown), reusing prev's content hash if fstat says the file
// is unchanged since prev was read. A file removed meanwhile has a zero
// sum (and the next event rescans).
func readFile(path, rel string, info fs.FileInfo, prev *entry, begin time.Time, buf []byte) (*entry, error) {
	e := &entry{rel: rel, kind: fstat.KindFile, info: info}
	var key fstat.Key
	haveKey := false
	if info != nil {
		key, haveKey = fstat.Of(info)
	}
	if prev != nil && prev.kind == fstat.KindFile && prev.haveKey && haveKey && fstat.Unchanged(prev.key, key, prev.readAt, fstat.Margin) {
		e.sum, e.key, e.haveKey, e.readAt = prev.sum, prev.key, true, prev.readAt
		return e, nil
	}
	sum, err := hashFile(path, buf)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	e.sum = sum
	if haveKey && err == nil {
		e.key, e.haveKey, e.readAt = key, true, begin
	}
	return e, nil
}

// sumEntries returns the revision ID of entries: the SHA-256 of each
// entry's kind and path, then its content hash or link target, each field
// length-prefixed, in walk order.
func sumEntries(entries []*entry) string {
	h := sha256.New()
	// The fields go through one buffer: a Write per field, and a copy of
	// every path to bytes, were most of the hash's time at 100,000 files.
	buf := make([]byte, 0, 64<<10)
	field := func(b []byte, s string) {
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(b)+len(s)))
		buf = append(append(buf, b...), s...)
	}
	for _, e := range entries {
		if len(buf) > cap(buf)-1024-len(e.rel)-len(e.target) {
			h.Write(buf)
			buf = buf[:0]
		}
		buf = binary.BigEndian.AppendUint64(buf, uint64(1+len(e.rel)))
		buf = append(buf, e.kind)
		buf = append(buf, e.rel...)
		switch e.kind {
		case fstat.KindLink:
			field(nil, e.target)
		case fstat.KindFile:
			field(e.sum[:], "")
		}
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// comparePaths orders slash paths as filepath.WalkDir visits them: "."
// first, then component by component, each directory's entries by name
// ("a/b" before "a.yaml", unlike plain string order).
func comparePaths(a, b string) int {
	if a == b {
		return 0
	}
	if a == "." {
		return -1
	}
	if b == "." {
		return 1
	}
	for {
		ai, bi := strings.IndexByte(a, '/'), strings.IndexByte(b, '/')
		ac, bc := a, b
		if ai >= 0 {
			ac = a[:ai]
		}
		if bi >= 0 {
			bc = b[:bi]
		}
		if c := strings.Compare(ac, bc); c != 0 {
			return c
		}
		switch {
		case ai < 0 && bi < 0:
			return 0
		case ai < 0:
			return -1 // a is b's ancestor
		case bi < 0:
			return 1
		}
		a, b = a[ai+1:], b[bi+1:]
	}
}

// hashFile returns the SHA-256 of a file's content, read through buf.
// (io.Copy from an *os.File allocated a 32 KiB buffer per file: 320 MiB of
// garbage for a first scan of 10,000 files, which set the process's heap
// goal and so its resident size.)
func hashFile(path string, buf []byte) ([sha256.Size]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf); err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("reading %s: %w", path, err)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, nil
}
