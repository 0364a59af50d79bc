package acl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"slices"

	"github.com/octofabric/octopus/internal/fsutil"
)

// Store is an Authorizer whose bindings live in one file, rewritten
// atomically (tmp, fsync, rename, fsync dir) on every change; ACL changes
// are rare, so a whole rewrite is simpler than a log. A change is published
// to readers only after it is durable. Once a write fails the Store refuses
// further changes (the error sticks) because the file's state is unknown.
// Change bindings through the Store's Add, Delete and DeleteFiltered: the
// embedded Authorizer's own Add and Delete change memory only.
//
// File format, version 1 (integers big-endian):
//
//	magic    [8]byte "OCTOACL\n"
//	version  uint16  1
//	count    uint32  number of records
//	records  count × record
//	crc      uint32  CRC-32C (Castagnoli) of every byte before it
//
//	record:  resourceType int8, pattern int8, operation int8, permission int8,
//	         name, principal, host: each uvarint length + bytes
type Store struct {
	*Authorizer
	path string
	werr error // sticky write error; guarded by Authorizer.mu
}

const (
	fileMagic   = "OCTOACL\n"
	fileVersion = 1
	headerLen   = len(fileMagic) + 2 + 4
	maxString   = 1 << 16 // longer than any Kafka string (int16 length)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by Open's error when the file cannot be trusted.
// Open never drops bindings it cannot read: losing a DENY would open access.
var ErrCorrupt = errors.New("acl: corrupt ACL file")

// Open loads the bindings stored at path (none if the file does not exist;
// it is created on the first change) and returns a Store that authorizes
// with them. A file that fails its checks makes Open fail with ErrCorrupt.
func Open(path string, opts ...Option) (*Store, error) {
	data, err := os.ReadFile(path)
	var bs []Binding
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("acl: read %s: %w", path, err)
	default:
		if bs, err = decode(data); err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrCorrupt, path, err)
		}
	}
	// A leftover temp file is an interrupted write that never became current.
	if err := os.Remove(path + ".tmp"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("acl: remove stale temp file: %w", err)
	}
	a := New(opts...)
	a.snap.Store(buildSnapshot(bs))
	return &Store{Authorizer: a, path: path}, nil
}

// Add validates bs and adds them durably (see Authorizer.Add).
func (s *Store) Add(bs []Binding) error {
	return s.update(func(cur []Binding) ([]Binding, error) {
		if s.werr != nil {
			return nil, s.werr
		}
		return addBindings(cur, bs)
	}, s.persist)
}

// Delete durably removes every binding selected by any of filters and
// returns them, each once, sorted. DeleteFiltered gives the per-filter view.
func (s *Store) Delete(filters []Filter) ([]Binding, error) {
	per, err := s.DeleteFiltered(filters)
	if err != nil {
		return nil, err
	}
	var all []Binding
	for _, r := range per {
		all = append(all, r...)
	}
	slices.SortFunc(all, compareBindings)
	return slices.CompactFunc(all, func(x, y Binding) bool { return x == y }), nil
}

// DeleteFiltered is Delete returning, per filter, the bindings it selected,
// as DeleteAcls answers (see Authorizer.Delete).
func (s *Store) DeleteFiltered(filters []Filter) ([][]Binding, error) {
	var removed [][]Binding
	err := s.update(func(cur []Binding) ([]Binding, error) {
		if s.werr != nil {
			return nil, s.werr
		}
		var next []Binding
		var err error
		removed, next, err = deleteBindings(cur, filters)
		return next, err
	}, s.persist)
	if err != nil {
		return nil, err
	}
	return removed, nil
}

// persist writes bs to the file; called with Authorizer.mu held.
func (s *Store) persist(bs []Binding) error {
	if err := fsutil.WriteFileAtomic(s.path, encode(bs), 0o600); err != nil {
		s.werr = fmt.Errorf("acl: write %s (store now read-only): %w", s.path, err)
		return s.werr
	}
	return nil
}

func encode(bs []Binding) []byte {
	buf := make([]byte, 0, headerLen+len(bs)*48+4)
	buf = append(buf, fileMagic...)
	buf = binary.BigEndian.AppendUint16(buf, fileVersion)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(bs)))
	for _, b := range bs {
		buf = append(buf, byte(b.ResourceType), byte(b.Pattern), byte(b.Operation), byte(b.Permission))
		for _, s := range [...]string{b.Name, b.Principal, b.Host} {
			buf = binary.AppendUvarint(buf, uint64(len(s)))
			buf = append(buf, s...)
		}
	}
	return binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
}

// decode parses a file written by encode. Every record must be valid,
// sorted and unique, and nothing may follow the last one.
func decode(data []byte) ([]Binding, error) {
	if len(data) < headerLen+4 {
		return nil, fmt.Errorf("file too short (%d bytes)", len(data))
	}
	if string(data[:len(fileMagic)]) != fileMagic {
		return nil, errors.New("bad magic")
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("CRC-32C mismatch: stored %08x, computed %08x", sum, got)
	}
	if v := binary.BigEndian.Uint16(data[len(fileMagic):]); v != fileVersion {
		return nil, fmt.Errorf("unsupported version %d", v)
	}
	count := binary.BigEndian.Uint32(data[len(fileMagic)+2:])
	rest := body[headerLen:]
	if uint64(count) > uint64(len(rest))/7 { // a record is at least 7 bytes
		return nil, fmt.Errorf("record count %d exceeds file size", count)
	}
	bs := make([]Binding, 0, count)
	for i := uint32(0); i < count; i++ {
		if len(rest) < 4 {
			return nil, fmt.Errorf("record %d: truncated", i)
		}
		b := Binding{
			ResourceType: ResourceType(rest[0]),
			Pattern:      PatternType(rest[1]),
			Operation:    Operation(rest[2]),
			Permission:   Permission(rest[3]),
		}
		rest = rest[4:]
		for _, dst := range [...]*string{&b.Name, &b.Principal, &b.Host} {
			n, k := binary.Uvarint(rest)
			if k <= 0 || n > maxString || n > uint64(len(rest)-k) {
				return nil, fmt.Errorf("record %d: bad string length", i)
			}
			*dst = string(rest[k : k+int(n)])
			rest = rest[k+int(n):]
		}
		if err := b.Validate(); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		if len(bs) > 0 && compareBindings(bs[len(bs)-1], b) >= 0 {
			return nil, fmt.Errorf("record %d: out of order or duplicate", i)
		}
		bs = append(bs, b)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d bytes after the last record", len(rest))
	}
	return bs, nil
}
