//go:build !unix

package loader

import (
	"io"
	"os"
)

// readLimited reads at most limit+1 bytes of the file at p, expecting
// about size bytes (the file may have changed since it was stat'ed).
func readLimited(p string, size, limit int64) ([]byte, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if st, err := fh.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, &os.PathError{Op: "open", Path: p, Err: errNotRegular}
	}
	buf := make([]byte, 0, min(size, limit)+1)
	lr := io.LimitReader(fh, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
