package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"sort"
)

// Sparse indexes. Both are kept in memory per segment and written to disk
// whole (tmp -> fsync -> rename) when the segment is sealed at roll and at
// Close. Their headers double as the clean-shutdown marker: the offset index
// header records how many bytes of the .log it covers (cleanSize) and the
// offset after them, so Open trusts that prefix and scans only what lies
// beyond it.

// offEntry maps a batch's base offset (relative to the segment base) to its
// byte position. Entries are strictly increasing in both fields.
type offEntry struct {
	rel uint32
	pos uint32
}

// timeEntry says: every record before byte pos in the segment has a
// timestamp <= ts. Entries are non-decreasing in ts and increasing in pos.
type timeEntry struct {
	ts  int64
	rel uint32
	pos uint32
}

// lookupOffset returns the byte position of the last indexed batch whose
// base offset is <= rel, or 0.
func lookupOffset(idx []offEntry, rel uint32) int64 {
	i := sort.Search(len(idx), func(i int) bool { return idx[i].rel > rel })
	if i == 0 {
		return 0
	}
	return int64(idx[i-1].pos)
}

// lookupTime returns a byte position before which every record's timestamp
// is < ts: the last entry whose ts is < ts, or 0.
func lookupTime(idx []timeEntry, ts int64) int64 {
	i := sort.Search(len(idx), func(i int) bool { return idx[i].ts >= ts })
	if i == 0 {
		return 0
	}
	return int64(idx[i-1].pos)
}

const (
	indexVersion    = 1
	offIdxMagic     = "OCOX"
	timeIdxMagic    = "OCTX"
	offIdxHdrLen    = 72
	timeIdxHdrLen   = 24
	offEntryLen     = 8
	timeEntryLen    = 16
	maxIndexEntries = 1 << 26 // refuses absurd counts from a corrupt header
)

// segMeta is the summary of a segment stored in its offset index header.
type segMeta struct {
	base      int64
	cleanSize int64 // bytes of .log that were complete and synced when written
	next      int64 // offset after the last batch in cleanSize
	maxTs     int64 // largest batch MaxTimestamp, -1 if none
	maxTsOff  int64 // base offset of the first batch with maxTs
	maxTsPos  int64 // its byte position
	rollTs    int64 // unix ms the segment was first appended to (for SegmentAge)
}

// Offset index file (.index), version 1, big endian:
//
//	0  magic "OCOX"   4  version u8, 3 zero bytes
//	8  base i64       16 cleanSize i64   24 next i64
//	32 maxTs i64      40 maxTsOff i64    48 maxTsPos i64   56 rollTs i64
//	64 entry count u32
//	68 crc32c u32 of bytes 0..68 and every entry
//	72 entries: rel u32, pos u32
func encodeOffIndex(m segMeta, idx []offEntry) []byte {
	b := make([]byte, offIdxHdrLen+len(idx)*offEntryLen)
	copy(b, offIdxMagic)
	b[4] = indexVersion
	be := binary.BigEndian
	be.PutUint64(b[8:], uint64(m.base))
	be.PutUint64(b[16:], uint64(m.cleanSize))
	be.PutUint64(b[24:], uint64(m.next))
	be.PutUint64(b[32:], uint64(m.maxTs))
	be.PutUint64(b[40:], uint64(m.maxTsOff))
	be.PutUint64(b[48:], uint64(m.maxTsPos))
	be.PutUint64(b[56:], uint64(m.rollTs))
	be.PutUint32(b[64:], uint32(len(idx)))
	p := b[offIdxHdrLen:]
	for i, e := range idx {
		be.PutUint32(p[i*8:], e.rel)
		be.PutUint32(p[i*8+4:], e.pos)
	}
	crc := crc32.Update(crc32.Checksum(b[:68], castagnoli), castagnoli, b[offIdxHdrLen:])
	be.PutUint32(b[68:], crc)
	return b
}

var errBadIndex = errors.New("bad index file")

func decodeOffIndex(b []byte, base int64) (segMeta, []offEntry, error) {
	var m segMeta
	if len(b) < offIdxHdrLen || string(b[:4]) != offIdxMagic {
		return m, nil, fmt.Errorf("%w: no header", errBadIndex)
	}
	if b[4] != indexVersion {
		return m, nil, fmt.Errorf("%w: version %d", errBadIndex, b[4])
	}
	be := binary.BigEndian
	n := be.Uint32(b[64:])
	if n > maxIndexEntries || len(b) != offIdxHdrLen+int(n)*offEntryLen {
		return m, nil, fmt.Errorf("%w: %d entries in %d bytes", errBadIndex, n, len(b))
	}
	crc := crc32.Update(crc32.Checksum(b[:68], castagnoli), castagnoli, b[offIdxHdrLen:])
	if crc != be.Uint32(b[68:]) {
		return m, nil, fmt.Errorf("%w: crc mismatch", errBadIndex)
	}
	m = segMeta{
		base:      int64(be.Uint64(b[8:])),
		cleanSize: int64(be.Uint64(b[16:])),
		next:      int64(be.Uint64(b[24:])),
		maxTs:     int64(be.Uint64(b[32:])),
		maxTsOff:  int64(be.Uint64(b[40:])),
		maxTsPos:  int64(be.Uint64(b[48:])),
		rollTs:    int64(be.Uint64(b[56:])),
	}
	if m.base != base || m.cleanSize < 0 || m.next < base || m.cleanSize > 1<<32 {
		return m, nil, fmt.Errorf("%w: header base %d size %d next %d", errBadIndex, m.base, m.cleanSize, m.next)
	}
	idx := make([]offEntry, n)
	p := b[offIdxHdrLen:]
	for i := range idx {
		idx[i] = offEntry{rel: be.Uint32(p[i*8:]), pos: be.Uint32(p[i*8+4:])}
		if int64(idx[i].pos) >= m.cleanSize || (i > 0 && (idx[i].rel <= idx[i-1].rel || idx[i].pos <= idx[i-1].pos)) {
			return m, nil, fmt.Errorf("%w: entry %d out of order", errBadIndex, i)
		}
	}
	return m, idx, nil
}

// Time index file (.timeindex), version 1, big endian:
//
//	0 magic "OCTX"  4 version u8, 3 zero bytes  8 base i64
//	16 entry count u32  20 crc32c u32 of bytes 0..20 and every entry
//	24 entries: ts i64, rel u32, pos u32
func encodeTimeIndex(base int64, idx []timeEntry) []byte {
	b := make([]byte, timeIdxHdrLen+len(idx)*timeEntryLen)
	copy(b, timeIdxMagic)
	b[4] = indexVersion
	be := binary.BigEndian
	be.PutUint64(b[8:], uint64(base))
	be.PutUint32(b[16:], uint32(len(idx)))
	p := b[timeIdxHdrLen:]
	for i, e := range idx {
		be.PutUint64(p[i*16:], uint64(e.ts))
		be.PutUint32(p[i*16+8:], e.rel)
		be.PutUint32(p[i*16+12:], e.pos)
	}
	be.PutUint32(b[20:], crc32.Update(crc32.Checksum(b[:20], castagnoli), castagnoli, p))
	return b
}

func decodeTimeIndex(b []byte, base, cleanSize int64) ([]timeEntry, error) {
	if len(b) < timeIdxHdrLen || string(b[:4]) != timeIdxMagic {
		return nil, fmt.Errorf("%w: no header", errBadIndex)
	}
	if b[4] != indexVersion {
		return nil, fmt.Errorf("%w: version %d", errBadIndex, b[4])
	}
	be := binary.BigEndian
	n := be.Uint32(b[16:])
	if n > maxIndexEntries || len(b) != timeIdxHdrLen+int(n)*timeEntryLen {
		return nil, fmt.Errorf("%w: %d entries in %d bytes", errBadIndex, n, len(b))
	}
	p := b[timeIdxHdrLen:]
	if crc32.Update(crc32.Checksum(b[:20], castagnoli), castagnoli, p) != be.Uint32(b[20:]) {
		return nil, fmt.Errorf("%w: crc mismatch", errBadIndex)
	}
	if int64(be.Uint64(b[8:])) != base {
		return nil, fmt.Errorf("%w: base mismatch", errBadIndex)
	}
	idx := make([]timeEntry, n)
	for i := range idx {
		idx[i] = timeEntry{ts: int64(be.Uint64(p[i*16:])), rel: be.Uint32(p[i*16+8:]), pos: be.Uint32(p[i*16+12:])}
		if int64(idx[i].pos) >= cleanSize || (i > 0 && (idx[i].ts < idx[i-1].ts || idx[i].pos <= idx[i-1].pos)) {
			return nil, fmt.Errorf("%w: entry %d out of order", errBadIndex, i)
		}
	}
	return idx, nil
}

// writeFileAtomic writes b to name via name.tmp: write, fsync, rename. The
// caller fsyncs the directory (once for several files).
func writeFileAtomic(fsys FS, name string, b []byte) error {
	tmp := name + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err = f.WriteAt(b, 0); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return fsys.Rename(tmp, name)
}

const maxMetadataBytes = 64 << 20

// readWholeFile reads a small metadata file.
func readWholeFile(fsys FS, name string) ([]byte, error) {
	if rf, ok := fsys.(interface{ ReadFile(string) ([]byte, error) }); ok {
		return rf.ReadFile(name)
	}
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := f.Size()
	if err != nil {
		return nil, err
	}
	if n > maxMetadataBytes {
		return nil, fmt.Errorf("%s: %d bytes is too large for metadata", name, n)
	}
	b := make([]byte, n)
	if n == 0 {
		return b, nil
	}
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, err
	}
	return b, nil
}
