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

// Store is an Authorizer whose bindings live in two files: a snapshot
// (path, the v1 format below, written atomically: tmp, fsync, rename, fsync
// dir) and a log beside it (path + ".log", an fsutil.Journal) of the
// changes made since. Open reads the snapshot and replays the log. A change
// is appended to the log and fsynced before it is published to readers and
// before Add or Delete returns, so its cost does not grow with the number
// of bindings. When the log outgrows the snapshot (at least 1 MiB and at
// least the snapshot's size: fsutil.Journal.ShouldCompact), or no snapshot
// exists yet, the current bindings are written as the new snapshot and the
// log is emptied. Once a write fails the Store refuses further changes (the error
// sticks) because the files' state is unknown. Change bindings through the
// Store's Add, Delete and DeleteFiltered: the embedded Authorizer's own Add
// and Delete change memory only.
//
// Snapshot file format, version 1 (integers big-endian):
//
//	magic    [8]byte "OCTOACL\n"
//	version  uint16  1
//	count    uint32  number of records
//	records  count × record
//	crc      uint32  CRC-32C (Castagnoli) of every byte before it
//
//	record:  resourceType int8, pattern int8, operation int8, permission int8,
//	         name, principal, host: each uvarint length + bytes
//
// Log: fsutil.Journal frames (length, CRC-32C, version), one per change;
// the payload of version 1 is
//
//	added    uvarint count, count × record (as above)
//	removed  uvarint count, count × record
//
// each list sorted and unique, the two disjoint, not both empty: the
// concrete bindings the change added and removed, never filters.
//
// Why a crash in the middle of a compaction is safe: the new snapshot is
// the old one with every log record applied and nothing else (the change
// that triggers a compaction is appended first), and it is durable before
// the log is emptied. A record sets each of its bindings present (added) or
// absent (removed), whatever it was, so replaying all the records over any
// state leaves each binding a record touches as the last record touching
// it says, and every other binding as it was. Over the new snapshot that is
// exactly the new snapshot: a crash after the snapshot's rename and before
// the log's truncation reopens to the same bindings.
type Store struct {
	*Authorizer
	path     string
	log      *fsutil.Journal
	baseSize int64 // bytes of the snapshot file, -1 while there is none
	dropped  int64 // bytes of a torn last log record Open cut off
	werr     error // sticky write error; guarded by Authorizer.mu
}

const (
	fileMagic   = "OCTOACL\n"
	fileVersion = 1
	headerLen   = len(fileMagic) + 2 + 4
	maxString   = 1 << 16 // longer than any Kafka string (int16 length)
	logVersion  = 1       // version of a log record's payload
	minRecord   = 7       // smallest encoded binding
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by Open's error when the files cannot be trusted.
// Open never drops bindings it cannot read: losing a DENY would open access.
// (A torn last log record is not corruption: that change was never
// acknowledged. Open cuts it off; see DroppedTail.)
var ErrCorrupt = errors.New("acl: corrupt ACL file")

// Open loads the bindings stored at path and path + ".log" (none if the
// files do not exist; they are created on the first change) and returns a
// Store that authorizes with them. A file that fails its checks makes Open
// fail with ErrCorrupt.
func Open(path string, opts ...Option) (*Store, error) {
	data, err := os.ReadFile(path)
	var bs []Binding
	baseSize := int64(-1)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("acl: read %s: %w", path, err)
	default:
		if bs, err = decode(data); err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrCorrupt, path, err)
		}
		baseSize = int64(len(data))
	}
	// A leftover temp file is an interrupted write that never became current.
	if err := os.Remove(path + ".tmp"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("acl: remove stale temp file: %w", err)
	}
	var set map[Binding]struct{} // made by the first record
	logPath := path + ".log"
	j, dropped, err := fsutil.OpenJournal(logPath, 0o600, func(v byte, p []byte) error {
		if v != logVersion {
			return fmt.Errorf("unsupported record version %d", v)
		}
		c, err := decodeChange(p)
		if err != nil {
			return err
		}
		if set == nil {
			set = make(map[Binding]struct{}, len(bs)+len(c.add))
			for _, b := range bs {
				set[b] = struct{}{}
			}
		}
		for _, b := range c.remove {
			delete(set, b)
		}
		for _, b := range c.add {
			set[b] = struct{}{}
		}
		return nil
	})
	switch {
	case errors.Is(err, fsutil.ErrJournalCorrupt):
		return nil, fmt.Errorf("%w %s: %w", ErrCorrupt, logPath, err)
	case err != nil:
		return nil, fmt.Errorf("acl: read %s: %w", logPath, err)
	}
	if set != nil {
		bs = make([]Binding, 0, len(set))
		for b := range set {
			bs = append(bs, b)
		}
		slices.SortFunc(bs, compareBindings)
	}
	a := New(opts...)
	a.snap.Store(buildSnapshot(bs))
	return &Store{Authorizer: a, path: path, log: j, baseSize: baseSize, dropped: dropped}, nil
}

// DroppedTail is the size in bytes of the torn last log record Open cut
// off, 0 if none: a change a crash interrupted before it was acknowledged.
func (s *Store) DroppedTail() int64 { return s.dropped }

// Add validates bs and adds them durably (see Authorizer.Add).
func (s *Store) Add(bs []Binding) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.werr != nil {
		return s.werr
	}
	cur := s.snap.Load()
	c, err := planAdd(cur, bs)
	if err != nil {
		return err
	}
	return s.commitLocked(cur, c)
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
	return slices.Compact(all), nil
}

// DeleteFiltered is Delete returning, per filter, the bindings it selected,
// as DeleteAcls answers (see Authorizer.Delete).
func (s *Store) DeleteFiltered(filters []Filter) ([][]Binding, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.werr != nil {
		return nil, s.werr
	}
	cur := s.snap.Load()
	removed, c, err := planDelete(cur, filters)
	if err != nil {
		return nil, err
	}
	if err := s.commitLocked(cur, c); err != nil {
		return nil, err
	}
	return removed, nil
}

// commitLocked logs c durably, then publishes it; called with mu held.
func (s *Store) commitLocked(cur *snapshot, c change) error {
	if c.empty() {
		return nil
	}
	if err := s.log.Append(logVersion, encodeChange(c)); err != nil {
		s.werr = fmt.Errorf("acl: append to %s.log (store now read-only): %w", s.path, err)
		return s.werr
	}
	next := cur.apply(c)
	s.snap.Store(next)
	if s.baseSize < 0 || s.log.ShouldCompact(s.baseSize) {
		s.compactLocked(next)
	}
	return nil
}

// compactLocked writes next as the snapshot, then empties the log. The
// change that triggered it is durable in the log already, so a failure
// here does not fail that change; it sticks and fails the next one.
func (s *Store) compactLocked(next *snapshot) {
	data := encode(next.all())
	if err := fsutil.WriteFileAtomic(s.path, data, 0o600); err != nil {
		s.werr = fmt.Errorf("acl: write %s (store now read-only): %w", s.path, err)
		return
	}
	s.baseSize = int64(len(data))
	if err := s.log.Reset(); err != nil {
		s.werr = fmt.Errorf("acl: truncate %s.log (store now read-only): %w", s.path, err)
	}
}

func encode(bs []Binding) []byte {
	buf := make([]byte, 0, headerLen+len(bs)*48+4)
	buf = append(buf, fileMagic...)
	buf = binary.BigEndian.AppendUint16(buf, fileVersion)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(bs)))
	for _, b := range bs {
		buf = appendBinding(buf, b)
	}
	return binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
}

func appendBinding(buf []byte, b Binding) []byte {
	buf = append(buf, byte(b.ResourceType), byte(b.Pattern), byte(b.Operation), byte(b.Permission))
	for _, s := range [...]string{b.Name, b.Principal, b.Host} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	return buf
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
	bs, rest, err := readBindings(body[headerLen:], uint64(count), 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d bytes after the last record", len(rest))
	}
	return bs, nil
}

// readBindings reads count records from data; they must be valid, sorted
// and unique. first numbers the first record in errors.
func readBindings(data []byte, count uint64, first int) (bs []Binding, rest []byte, err error) {
	if count > uint64(len(data))/minRecord {
		return nil, nil, fmt.Errorf("record count %d exceeds the data", count)
	}
	bs = make([]Binding, 0, count)
	for i := range int(count) {
		if len(data) < 4 {
			return nil, nil, fmt.Errorf("record %d: truncated", first+i)
		}
		b := Binding{
			ResourceType: ResourceType(data[0]),
			Pattern:      PatternType(data[1]),
			Operation:    Operation(data[2]),
			Permission:   Permission(data[3]),
		}
		data = data[4:]
		for _, dst := range [...]*string{&b.Name, &b.Principal, &b.Host} {
			n, k := uvarint(data)
			if k <= 0 || n > maxString || n > uint64(len(data)-k) {
				return nil, nil, fmt.Errorf("record %d: bad string length", first+i)
			}
			*dst = string(data[k : k+int(n)])
			data = data[k+int(n):]
		}
		if err := b.Validate(); err != nil {
			return nil, nil, fmt.Errorf("record %d: %w", first+i, err)
		}
		if len(bs) > 0 && compareBindings(bs[len(bs)-1], b) >= 0 {
			return nil, nil, fmt.Errorf("record %d: out of order or duplicate", first+i)
		}
		bs = append(bs, b)
	}
	return bs, data, nil
}

// uvarint is binary.Uvarint refusing overlong encodings (k = 0), so that
// one value has one encoding. An overlong one ends in a zero byte.
func uvarint(b []byte) (n uint64, k int) {
	n, k = binary.Uvarint(b)
	if k > 1 && b[k-1] == 0 {
		return 0, 0
	}
	return n, k
}

// encodeChange is the payload of c's log record (version logVersion).
func encodeChange(c change) []byte {
	n := 2 * binary.MaxVarintLen64
	for _, l := range [...][]Binding{c.add, c.remove} {
		for _, b := range l {
			n += 4 + 3*binary.MaxVarintLen16 + len(b.Name) + len(b.Principal) + len(b.Host)
		}
	}
	buf := make([]byte, 0, n)
	for _, l := range [...][]Binding{c.add, c.remove} {
		buf = binary.AppendUvarint(buf, uint64(len(l)))
		for _, b := range l {
			buf = appendBinding(buf, b)
		}
	}
	return buf
}

// decodeChange parses a log record's payload written by encodeChange.
func decodeChange(p []byte) (change, error) {
	var lists [2][]Binding
	for i := range lists {
		n, k := uvarint(p)
		if k <= 0 {
			return change{}, errors.New("bad record count")
		}
		var err error
		if lists[i], p, err = readBindings(p[k:], n, 0); err != nil {
			return change{}, err
		}
	}
	if len(p) != 0 {
		return change{}, fmt.Errorf("%d bytes after the last record", len(p))
	}
	c := change{add: lists[0], remove: lists[1]}
	if c.empty() {
		return change{}, errors.New("empty change")
	}
	// Disjoint: both lists are sorted, so a merge finds any common binding.
	for i, j := 0, 0; i < len(c.add) && j < len(c.remove); {
		switch d := compareBindings(c.add[i], c.remove[j]); {
		case d < 0:
			i++
		case d > 0:
			j++
		default:
			return change{}, fmt.Errorf("%v both added and removed", c.add[i])
		}
	}
	return c, nil
}
