//go:build darwin || ios || freebsd || netbsd

package fstat

import "syscall"

func ctime(st *syscall.Stat_t) int64 { return int64(st.Ctimespec.Sec)*1e9 + int64(st.Ctimespec.Nsec) }
