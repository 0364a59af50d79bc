package log

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// MemFS is an in-memory FS for tests, safe for concurrent use. It models
// what a power loss keeps: file bytes up to the last successful Sync, and the
// directory entries as of the last successful SyncDir of their directory.
// A WriteAt below the synced length makes the file durable only up to that
// position again (conservative: we never overwrite, so the log never hits it).
type MemFS struct {
	mu         sync.Mutex
	files      map[string]*memFile // current names
	durable    map[string]*memFile // names as of the last SyncDir
	dirs       map[string]bool
	gen        int // bumped by Crash; handles from older generations are dead
	failWrites error
	failSyncs  error
	syncs      atomic.Int64
}

type memFile struct {
	mu     sync.RWMutex
	data   []byte
	synced int // prefix that survives Crash
}

var errCrashed = errors.New("memfs: file handle from before a crash")

// NewMemFS returns an empty in-memory FS.
func NewMemFS() *MemFS {
	return &MemFS{
		files:   make(map[string]*memFile),
		durable: make(map[string]*memFile),
		dirs:    make(map[string]bool),
	}
}

// FailWrites makes every later write (WriteAt, Truncate) fail with err; nil
// stops it.
func (m *MemFS) FailWrites(err error) {
	m.mu.Lock()
	m.failWrites = err
	m.mu.Unlock()
}

// FailSyncs makes every later Sync and SyncDir fail with err; nil stops it.
func (m *MemFS) FailSyncs(err error) {
	m.mu.Lock()
	m.failSyncs = err
	m.mu.Unlock()
}

// Syncs returns how many file Syncs have succeeded.
func (m *MemFS) Syncs() int64 { return m.syncs.Load() }

// Crash simulates a power loss in place: every file drops the bytes
// written since its last successful Sync, names revert to the last SyncDir,
// and every handle opened before fails from now on. No torn prefix is kept
// (see CrashTorn). Stop using Logs opened before the crash: only their
// handles die, and a Log still running could create new files. To crash
// under concurrent load, use CrashImage.
func (m *MemFS) Crash() { m.crashInPlace(nil) }

// CrashTorn is Crash, except that each file keeps a random prefix (chosen by
// seed) of its unsynced bytes, as a disk that wrote part of a request would.
func (m *MemFS) CrashTorn(seed uint64) { m.crashInPlace(newRand(seed)) }

// CrashImage returns a new MemFS holding what a power loss at this instant
// would leave (with a random torn prefix of unsynced bytes if torn), and
// leaves m untouched, so Logs still running on m cannot disturb the image.
func (m *MemFS) CrashImage(torn bool, seed uint64) *MemFS {
	var rng *rand.Rand
	if torn {
		rng = newRand(seed)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	img := NewMemFS()
	for d := range m.dirs {
		img.dirs[d] = true
	}
	copies := make(map[*memFile]*memFile)
	for _, name := range sortedNames(m.durable) {
		f := m.durable[name]
		c := copies[f]
		if c == nil {
			f.mu.RLock()
			keep := crashLen(f, rng)
			c = &memFile{data: append([]byte(nil), f.data[:keep]...), synced: keep}
			f.mu.RUnlock()
			copies[f] = c
		}
		img.files[name], img.durable[name] = c, c
	}
	return img
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func sortedNames(files map[string]*memFile) []string {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names) // deterministic torn lengths for a seed
	return names
}

// crashLen is how many bytes of f a crash keeps.
func crashLen(f *memFile, rng *rand.Rand) int {
	keep := f.synced
	if rng != nil && len(f.data) > f.synced {
		keep += rng.IntN(len(f.data) - f.synced + 1)
	}
	return keep
}

func (m *MemFS) crashInPlace(rng *rand.Rand) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.files = make(map[string]*memFile, len(m.durable))
	seen := make(map[*memFile]bool)
	for _, name := range sortedNames(m.durable) {
		f := m.durable[name]
		m.files[name] = f
		if seen[f] {
			continue
		}
		seen[f] = true
		f.mu.Lock()
		keep := crashLen(f, rng)
		f.data = f.data[:keep:keep]
		f.synced = keep
		f.mu.Unlock()
	}
}

func (m *MemFS) MkdirAll(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		m.dirs[d] = true
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (m *MemFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	name = filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[filepath.Dir(name)] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f := m.files[name]
	switch {
	case f == nil && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case f != nil && flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case f == nil:
		f = &memFile{}
		m.files[name] = f
	case flag&os.O_TRUNC != 0:
		f.mu.Lock()
		f.data = nil
		f.synced = 0
		f.mu.Unlock()
	}
	return &memHandle{fs: m, f: f, gen: m.gen, name: name}, nil
}

func (m *MemFS) ReadDir(dir string) ([]string, error) {
	dir = filepath.Clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[dir] {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	var names []string
	for name := range m.files {
		if filepath.Dir(name) == dir {
			names = append(names, filepath.Base(name))
		}
	}
	for d := range m.dirs {
		if d != dir && filepath.Dir(d) == dir {
			names = append(names, filepath.Base(d))
		}
	}
	sort.Strings(names)
	return names, nil
}

func (m *MemFS) Remove(name string) error {
	name = filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.files[name] == nil {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(m.files, name)
	return nil
}

func (m *MemFS) RemoveAll(dir string) error {
	dir = filepath.Clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	prefix := dir + string(filepath.Separator)
	for name := range m.files {
		if name == dir || strings.HasPrefix(name, prefix) {
			delete(m.files, name)
		}
	}
	for d := range m.dirs {
		if d == dir || strings.HasPrefix(d, prefix) {
			delete(m.dirs, d)
		}
	}
	return nil
}

func (m *MemFS) Rename(oldname, newname string) error {
	oldname, newname = filepath.Clean(oldname), filepath.Clean(newname)
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[oldname]
	if f == nil {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	delete(m.files, oldname)
	m.files[newname] = f
	return nil
}

// SyncDir makes the current entries of dir survive Crash.
func (m *MemFS) SyncDir(dir string) error {
	dir = filepath.Clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSyncs != nil {
		return m.failSyncs
	}
	for name := range m.durable {
		if filepath.Dir(name) == dir {
			delete(m.durable, name)
		}
	}
	for name, f := range m.files {
		if filepath.Dir(name) == dir {
			m.durable[name] = f
		}
	}
	return nil
}

type memHandle struct {
	fs     *MemFS
	f      *memFile
	gen    int
	name   string
	closed atomic.Bool
}

// check returns the error an operation must fail with, if any.
func (h *memHandle) check(write, sync bool) error {
	if h.closed.Load() {
		return os.ErrClosed
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	switch {
	case h.gen != h.fs.gen:
		return errCrashed
	case write && h.fs.failWrites != nil:
		return h.fs.failWrites
	case sync && h.fs.failSyncs != nil:
		return h.fs.failSyncs
	}
	return nil
}

func (h *memHandle) ReadAt(p []byte, off int64) (int, error) {
	if err := h.check(false, false); err != nil {
		return 0, err
	}
	h.f.mu.RLock()
	defer h.f.mu.RUnlock()
	if off < 0 {
		return 0, errors.New("memfs: negative offset")
	}
	if off >= int64(len(h.f.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h *memHandle) WriteAt(p []byte, off int64) (int, error) {
	if err := h.check(true, false); err != nil {
		return 0, err
	}
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	end := off + int64(len(p))
	if end > int64(len(h.f.data)) {
		if end > int64(cap(h.f.data)) {
			nd := make([]byte, end, max(end, int64(cap(h.f.data))*2))
			copy(nd, h.f.data)
			h.f.data = nd
		} else {
			h.f.data = h.f.data[:end]
		}
	}
	copy(h.f.data[off:], p)
	if int(off) < h.f.synced {
		h.f.synced = int(off)
	}
	return len(p), nil
}

func (h *memHandle) Sync() error {
	if err := h.check(false, true); err != nil {
		return err
	}
	h.f.mu.Lock()
	h.f.synced = len(h.f.data)
	h.f.mu.Unlock()
	h.fs.syncs.Add(1)
	return nil
}

func (h *memHandle) Truncate(size int64) error {
	if err := h.check(true, false); err != nil {
		return err
	}
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if size <= int64(len(h.f.data)) {
		h.f.data = h.f.data[:size]
	} else {
		h.f.data = append(h.f.data, make([]byte, size-int64(len(h.f.data)))...)
	}
	h.f.synced = min(h.f.synced, int(size))
	return nil
}

func (h *memHandle) Size() (int64, error) {
	if err := h.check(false, false); err != nil {
		return 0, err
	}
	h.f.mu.RLock()
	defer h.f.mu.RUnlock()
	return int64(len(h.f.data)), nil
}

func (h *memHandle) Close() error {
	if h.closed.Swap(true) {
		return os.ErrClosed
	}
	return nil
}
