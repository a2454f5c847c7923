//go:build unix

package loader

import (
	"os"
	"syscall"
)

// readLimited reads at most limit+1 bytes of the file at p, expecting
// about size bytes (the file may have changed since it was stat'ed).
//
// It uses plain system calls: os.Open also stats the file to decide
// whether the runtime's poller should watch it, and gives the os.File a
// cleanup, which at 10,000 small files is a tenth of reading them. The
// caller found p a regular file, for which blocking reads are what the
// poller would do anyway; but p may have been replaced since (a pipe,
// whose blocking open would wait for a writer forever, or a directory),
// so it opens without blocking and fails with errNotRegular unless the
// file it opened is a regular one.
func readLimited(p string, size, limit int64) ([]byte, error) {
	fd, err := openRead(p)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: p, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, &os.PathError{Op: "open", Path: p, Err: errNotRegular}
	}
	buf := make([]byte, 0, min(size, limit)+1)
	for int64(len(buf)) <= limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		end := int(min(int64(cap(buf)), limit+1))
		n, err := syscall.Read(fd, buf[len(buf):end])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, &os.PathError{Op: "read", Path: p, Err: err}
		case n == 0:
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
	return buf, nil
}

func openRead(p string) (int, error) {
	for {
		fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}
