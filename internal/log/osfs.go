package log

import (
	"io"
	"os"
)

// FS is the disk the log lives on, small enough that tests can inject
// failures (see MemFS).
type FS interface {
	MkdirAll(dir string) error
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	ReadDir(dir string) ([]string, error) // names only, sorted
	Remove(name string) error
	RemoveAll(dir string) error
	Rename(oldname, newname string) error
	SyncDir(dir string) error
}

// File is one open file. The log writes only with WriteAt at positions it
// tracks itself, so concurrent ReadAt calls never see a moving offset.
type File interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
	Truncate(size int64) error
	Size() (int64, error)
	Close() error
}

// OSFS is the real disk. Its File values embed *os.File, so they implement
// syscall.Conn and the broker can sendfile(2) from them.
var OSFS FS = osFS{}

type osFS struct{}

// OSFile is an OSFS file.
type OSFile struct{ *os.File }

// Size returns the file's current length.
func (f OSFile) Size() (int64, error) {
	st, err := f.File.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (osFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return OSFile{f}, nil
}

func (osFS) ReadDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

func (osFS) Remove(name string) error             { return os.Remove(name) }
func (osFS) RemoveAll(dir string) error           { return os.RemoveAll(dir) }
func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
