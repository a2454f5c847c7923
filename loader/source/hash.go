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
	"time"

	"github.com/flagpole/flagpole/internal/fstat"
)

// fileSum is the content hash of a file as read at readAt, with its
// metadata then.
type fileSum struct {
	key    fstat.Key
	sum    [sha256.Size]byte
	readAt time.Time
}

// sums remembers the content hash of every file of the last scan, so that
// a file whose metadata says it is unchanged (package fstat) is not read
// again: a one-file change in a directory of 10,000 files then reads one.
type sums struct {
	files map[string]fileSum
}

// scanTree hashes every file under root (paths, kinds and the SHA-256 of
// contents; .git directories skipped) and lists its directories, root
// included. known, when not nil, holds the hashes of the last scan and is
// updated to this one's. stats holds the lstat of every regular file and
// symbolic link, by slash path relative to root (Revision.Stats).
func scanTree(root string, known *sums) (hash string, dirs []string, stats map[string]fs.FileInfo, err error) {
	start := time.Now()
	buf := make([]byte, 32<<10) // one read buffer for every file hashed
	size := 0
	if known != nil {
		size = len(known.files) // most scans find the files of the last one
	}
	next := make(map[string]fileSum, size)
	stats = make(map[string]fs.FileInfo, size)
	h := sha256.New()
	var lenBuf [8]byte
	writeField := func(b []byte) {
		binary.BigEndian.PutUint64(lenBuf[:], uint64(len(b)))
		h.Write(lenBuf[:])
		h.Write(b)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != root && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking; the next event rescans
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case d.IsDir():
			if d.Name() == ".git" && path != root {
				return filepath.SkipDir
			}
			dirs = append(dirs, path)
			writeField([]byte("d" + filepath.ToSlash(rel)))
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return nil
			}
			if info, err := d.Info(); err == nil {
				stats[filepath.ToSlash(rel)] = info
			}
			writeField([]byte("l" + filepath.ToSlash(rel)))
			writeField([]byte(target))
		case d.Type().IsRegular():
			writeField([]byte("f" + filepath.ToSlash(rel)))
			var key fstat.Key
			haveKey := false
			if info, err := d.Info(); err == nil {
				key, haveKey = fstat.Of(info)
				stats[filepath.ToSlash(rel)] = info
			}
			if known != nil && haveKey {
				if prev, ok := known.files[path]; ok && fstat.Unchanged(prev.key, key, prev.readAt, fstat.Margin) {
					writeField(prev.sum[:])
					next[path] = prev
					return nil
				}
			}
			sum, err := hashFile(path, buf)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			writeField(sum[:])
			if haveKey && err == nil {
				next[path] = fileSum{key: key, sum: sum, readAt: start}
			}
		}
		return nil
	})
	if err != nil {
		return "", nil, nil, fmt.Errorf("reading directory %s: %w", root, err)
	}
	if known != nil {
		known.files = next
	}
	return hex.EncodeToString(h.Sum(nil)), dirs, stats, nil
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
