//go:build linux || android || solaris || illumos || aix || openbsd || dragonfly || darwin || ios || freebsd || netbsd

package fstat

import (
	"os"
	"syscall"
)

func of(fi os.FileInfo) (Key, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Key{}, false
	}
	return Key{Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Ctime: ctime(st),
		Ino: uint64(st.Ino), Dev: uint64(st.Dev)}, true
}
