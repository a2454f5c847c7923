//go:build !(linux || android || solaris || illumos || aix || openbsd || dragonfly || darwin || ios || freebsd || netbsd)

package fstat

import "os"

func of(os.FileInfo) (Key, bool) { return Key{}, false }
