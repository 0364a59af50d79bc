//go:build unix

package log

import (
	"fmt"
	"io/fs"
	"syscall"
)

// ReadFile reads a small metadata file with bare syscalls: os.Open also
// sets non-blocking mode and tries the poller, which doubles the cost of
// opening thousands of logs at startup.
func (osFS) ReadFile(name string) ([]byte, error) {
	fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Size > maxMetadataBytes {
		return nil, fmt.Errorf("%s: %d bytes is too large for metadata", name, st.Size)
	}
	b := make([]byte, st.Size)
	for n := 0; n < len(b); {
		m, err := syscall.Pread(fd, b[n:], int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: name, Err: err}
		}
		if m == 0 {
			return b[:n], nil
		}
		n += m
	}
	return b, nil
}
