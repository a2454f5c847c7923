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
)

// scanTree hashes every file under root (paths, kinds and contents; .git
// directories skipped) and lists its directories, root included.
func scanTree(root string) (hash string, dirs []string, err error) {
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
			writeField([]byte("l" + filepath.ToSlash(rel)))
			writeField([]byte(target))
		case d.Type().IsRegular():
			writeField([]byte("f" + filepath.ToSlash(rel)))
			if err := hashFile(path, writeField); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("reading directory %s: %w", root, err)
	}
	return hex.EncodeToString(h.Sum(nil)), dirs, nil
}

// hashFile adds a file's size and content to h.
func hashFile(path string, writeField func([]byte)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	writeField(b)
	return nil
}
