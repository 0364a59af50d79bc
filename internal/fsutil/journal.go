package fsutil

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
)

// Journal is an append-only file of checksummed records that extends a
// snapshot file written with WriteFileAtomic: the state is the snapshot plus
// the journal's records replayed in order. Each Append is fsynced before it
// returns; Reset empties the journal once its records are folded into a new
// snapshot. Callers serialise calls on one Journal.
//
// Frame of one record (integers big-endian):
//
//	length   uint32  len(payload)
//	crc      uint32  CRC-32C (Castagnoli) of length, version and payload
//	version  uint8   format of payload, the caller's to choose and check
//	payload  [length]byte
//
// The file is opened for each Append and closed after it: the owners have
// no Close, and an open/close is a few µs next to an fsync's 100+ µs.
type Journal struct {
	path    string
	perm    os.FileMode
	size    int64 // bytes of whole records
	records int
	exists  bool  // the file exists and its directory entry is durable
	err     error // sticky: once a write fails the file's tail is unknown
}

// JournalHeaderLen is the size of a record's frame before its payload.
const JournalHeaderLen = 9

// MaxJournalRecord bounds a payload; a larger length is corruption.
const MaxJournalRecord = 1 << 28

// ErrJournalCorrupt is wrapped by OpenJournal's error when a record that is
// not the last one fails its checks, or fn refuses a record.
var ErrJournalCorrupt = errors.New("corrupt journal")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFrame appends one framed record to dst.
func appendFrame(dst []byte, version byte, payload []byte) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, 0, 0, 0, 0, version)
	dst = append(dst, payload...)
	binary.BigEndian.PutUint32(dst[start+4:], frameCRC(dst[start:]))
	return dst
}

// frameCRC is the checksum of a whole frame f, skipping its crc field.
func frameCRC(f []byte) uint32 {
	return crc32.Update(crc32.Checksum(f[:4], castagnoli), castagnoli, f[8:])
}

// nextFrame parses the frame at the start of b. ok is false if b holds no
// whole, valid frame there.
func nextFrame(b []byte) (version byte, payload []byte, n int, ok bool) {
	if len(b) < JournalHeaderLen {
		return 0, nil, 0, false
	}
	l := binary.BigEndian.Uint32(b)
	if l > MaxJournalRecord || uint64(l) > uint64(len(b)-JournalHeaderLen) {
		return 0, nil, 0, false
	}
	n = JournalHeaderLen + int(l)
	if frameCRC(b[:n]) != binary.BigEndian.Uint32(b[4:]) {
		return 0, nil, 0, false
	}
	return b[8], b[JournalHeaderLen:n], n, true
}

// scanJournal splits data into records and returns how many bytes they
// fill. Bytes after the last good record are a torn tail — an append a
// crash interrupted, never acknowledged — unless a good frame starts
// anywhere in them: then a record in the middle went bad, and scanJournal
// fails with ErrJournalCorrupt rather than drop the records after it.
func scanJournal(data []byte, fn func(version byte, payload []byte) error) (good int, err error) {
	for i := 0; good < len(data); i++ {
		v, p, n, ok := nextFrame(data[good:])
		if !ok {
			for off := good + 1; off+JournalHeaderLen <= len(data); off++ {
				if _, _, _, ok := nextFrame(data[off:]); ok {
					return good, fmt.Errorf("%w: bad record %d at offset %d followed by a good one at %d",
						ErrJournalCorrupt, i, good, off)
				}
			}
			return good, nil
		}
		if err := fn(v, p); err != nil {
			return good, fmt.Errorf("%w: record %d at offset %d: %w", ErrJournalCorrupt, i, good, err)
		}
		good += n
	}
	return good, nil
}

// OpenJournal reads the journal at path (none is an empty journal; the file
// is created by the first Append) and calls fn with each record in order.
// A torn tail is cut off the file (dropped says how many bytes); any other
// bad record, or an error from fn, fails with ErrJournalCorrupt and leaves
// the file alone. perm applies when Append creates the file.
func OpenJournal(path string, perm os.FileMode, fn func(version byte, payload []byte) error) (j *Journal, dropped int64, err error) {
	j = &Journal{path: path, perm: perm}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return j, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	j.exists = true
	count := 0
	good, err := scanJournal(data, func(v byte, p []byte) error {
		count++
		return fn(v, p)
	})
	if err != nil {
		return nil, 0, err
	}
	if good < len(data) {
		if err := truncateSync(path, int64(good)); err != nil {
			return nil, 0, fmt.Errorf("cut torn tail: %w", err)
		}
	}
	j.size, j.records = int64(good), count
	return j, int64(len(data) - good), nil
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Append writes one record and fsyncs it; the directory too when the
// append created the file. Once an append fails, every later one fails
// with the same error: a partly written record may sit at the tail.
func (j *Journal) Append(version byte, payload []byte) error {
	if j.err != nil {
		return j.err
	}
	if len(payload) > MaxJournalRecord {
		return fmt.Errorf("journal record of %d bytes exceeds %d", len(payload), MaxJournalRecord)
	}
	frame := appendFrame(make([]byte, 0, JournalHeaderLen+len(payload)), version, payload)
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, j.perm)
	if err != nil {
		// Nothing was written: the journal is as it was.
		return err
	}
	_, err = f.Write(frame)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !j.exists {
		err = SyncDir(filepath.Dir(j.path))
	}
	if err != nil {
		j.err = err
		return err
	}
	j.exists = true
	j.size += int64(len(frame))
	j.records++
	return nil
}

// Reset empties the journal (truncate and fsync) after its records were
// folded into a durable snapshot. A failure sticks, as for Append.
func (j *Journal) Reset() error {
	if j.err != nil {
		return j.err
	}
	if !j.exists {
		return nil
	}
	if err := truncateSync(j.path, 0); err != nil {
		j.err = err
		return err
	}
	j.size, j.records = 0, 0
	return nil
}

// Size is the journal's length in bytes; Records its number of records.
func (j *Journal) Size() int64 { return j.size }

// Records is the number of records in the journal.
func (j *Journal) Records() int { return j.records }

// Err is the sticky write error, or nil.
func (j *Journal) Err() error { return j.err }

// CompactAt is the journal size from which callers fold it into their
// snapshot: below it replay at open is cheap whatever the snapshot's size.
const CompactAt = 1 << 20

// ShouldCompact reports whether the journal has grown past both CompactAt
// and the snapshot it extends (snapshotSize bytes), so the two files stay
// within about twice the state's size and a compaction's cost (rewriting
// the snapshot) is paid once per at least that many appended bytes.
func (j *Journal) ShouldCompact(snapshotSize int64) bool {
	return j.size >= CompactAt && j.size >= snapshotSize
}
