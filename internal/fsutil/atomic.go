// Package fsutil holds the one way Octopus replaces a small metadata file on
// the real disk so that a crash leaves either the old or the new content.
// (internal/log has its own, behind its FS interface, for fault injection.)
package fsutil

import (
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// TempPrefix starts the names of files being written; RemoveTemps deletes
// what a crash left behind.
const TempPrefix = ".tmp-"

// tempName is short and fixed per target: the target's own name may be at
// the file-name limit (a 249-character topic), and a fixed name means a
// left-over is simply overwritten by the next write. Callers serialise
// writes of one file.
func tempName(path string) string {
	h := fnv.New64a()
	h.Write([]byte(filepath.Base(path)))
	return filepath.Join(filepath.Dir(path), TempPrefix+strconv.FormatUint(h.Sum64(), 16))
}

// WriteFileAtomic replaces path with data: write a temporary file, fsync,
// rename over path, fsync the directory. perm applies to the new file.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := tempName(path)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	err = f.Chmod(perm) // a left-over temporary file keeps its old mode
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs a directory, making renames and removals in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// RemoveTemps deletes temporary files WriteFileAtomic left in dir.
func RemoveTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), TempPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
