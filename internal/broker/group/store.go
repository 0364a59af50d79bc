package group

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/octofabric/octopus/internal/fsutil"
)

// Store persists committed offsets in an append-only file of records:
//
//	u32 payload length | u32 CRC-32C of payload | payload
//	payload: u8 version (1) | u8 kind | fields (strings are u16 length + bytes)
//
// Open replays the file and truncates it at the first torn or corrupt
// record. When the file holds much more than the live offsets it is
// rewritten (tmp, fsync, rename, fsync dir).
//
// Concurrency: Store.mu guards the file and counters; Sync waits for an fsync
// that covers a record without holding mu during the fsync, so concurrent
// commits share one fsync (group commit).
type Store struct {
	path   string
	logger *slog.Logger
	sync   bool // fsync before a commit is acknowledged

	mu      sync.Mutex
	cond    *sync.Cond
	f       *os.File
	size    int64
	seq     int64 // records written
	synced  int64 // records covered by the last fsync
	syncing bool
	err     error // sticky: once a write or fsync fails, commits fail
}

const (
	recordVersion   = 1
	kindCommit      = 1
	kindDelete      = 2 // one partition's offset
	kindDeleteGroup = 3
	maxRecordBytes  = 1 << 20
	rewriteMinBytes = 16 << 20
)

// record is one decoded store record.
type record struct {
	kind      byte
	group     string
	topic     string
	partition int32
	offset    Offset
}

// Offset is a committed offset.
type Offset struct {
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	CommitTime  int64 // unix ms
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func (r record) encode(b []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, recordVersion, r.kind)
	b = appendString(b, r.group)
	if r.kind != kindDeleteGroup {
		b = appendString(b, r.topic)
		b = binary.BigEndian.AppendUint32(b, uint32(r.partition))
	}
	if r.kind == kindCommit {
		b = binary.BigEndian.AppendUint64(b, uint64(r.offset.Offset))
		b = binary.BigEndian.AppendUint32(b, uint32(r.offset.LeaderEpoch))
		b = binary.BigEndian.AppendUint64(b, uint64(r.offset.CommitTime))
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.offset.Metadata)))
		b = append(b, r.offset.Metadata...)
	}
	payload := b[start+8:]
	binary.BigEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(payload, crcTable))
	return b
}

var errBadRecord = errors.New("bad offset record")

// decodeRecord reads one record from the start of b and returns it and its
// size. io.ErrUnexpectedEOF means b ends mid-record.
func decodeRecord(b []byte) (record, int, error) {
	var r record
	if len(b) < 8 {
		return r, 0, io.ErrUnexpectedEOF
	}
	n := binary.BigEndian.Uint32(b)
	if n < 2 || n > maxRecordBytes {
		return r, 0, fmt.Errorf("%w: length %d", errBadRecord, n)
	}
	if uint64(len(b)-8) < uint64(n) {
		return r, 0, io.ErrUnexpectedEOF
	}
	p := b[8 : 8+n]
	if crc32.Checksum(p, crcTable) != binary.BigEndian.Uint32(b[4:]) {
		return r, 0, fmt.Errorf("%w: checksum mismatch", errBadRecord)
	}
	if p[0] != recordVersion {
		return r, 0, fmt.Errorf("%w: version %d", errBadRecord, p[0])
	}
	r.kind = p[1]
	d := decoder{b: p[2:]}
	r.group = d.string()
	switch r.kind {
	case kindCommit:
		r.topic, r.partition = d.string(), d.int32()
		r.offset.Offset = d.int64()
		r.offset.LeaderEpoch = d.int32()
		r.offset.CommitTime = d.int64()
		r.offset.Metadata = string(d.bytes(int(d.int32())))
	case kindDelete:
		r.topic, r.partition = d.string(), d.int32()
	case kindDeleteGroup:
	default:
		return r, 0, fmt.Errorf("%w: kind %d", errBadRecord, r.kind)
	}
	if d.bad || len(d.b) != 0 {
		return r, 0, fmt.Errorf("%w: fields do not fill the record", errBadRecord)
	}
	return r, int(8 + n), nil
}

type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) bytes(n int) []byte {
	if d.bad || n < 0 || n > len(d.b) {
		d.bad = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	b := d.bytes(2)
	if b == nil {
		return ""
	}
	return string(d.bytes(int(binary.BigEndian.Uint16(b))))
}

func (d *decoder) int32() int32 {
	b := d.bytes(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func (d *decoder) int64() int64 {
	b := d.bytes(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// offsetsByGroup is the live state replayed from the store.
type offsetsByGroup map[string]map[topicPartition]Offset

type topicPartition struct {
	topic     string
	partition int32
}

func (s offsetsByGroup) apply(r record) {
	switch r.kind {
	case kindCommit:
		g := s[r.group]
		if g == nil {
			g = make(map[topicPartition]Offset)
			s[r.group] = g
		}
		g[topicPartition{r.topic, r.partition}] = r.offset
	case kindDelete:
		delete(s[r.group], topicPartition{r.topic, r.partition})
		if len(s[r.group]) == 0 {
			delete(s, r.group)
		}
	case kindDeleteGroup:
		delete(s, r.group)
	}
}

// OpenStore opens (creating) the offsets file at path and replays it.
// fsync says whether commits wait for the disk.
func OpenStore(path string, fsync bool, logger *slog.Logger) (*Store, offsetsByGroup, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, err
	}
	if err := fsutil.RemoveTemps(filepath.Dir(path)); err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("group: read offsets: %w", err)
	}
	state := make(offsetsByGroup)
	pos := 0
	for pos < len(data) {
		r, n, err := decodeRecord(data[pos:])
		if err != nil {
			logger.Warn("offsets file: dropping a torn or corrupt tail", "file", path,
				"at_byte", pos, "bytes_dropped", len(data)-pos, "err", err)
			break
		}
		state.apply(r)
		pos += n
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("group: open offsets: %w", err)
	}
	if pos < len(data) {
		if err := f.Truncate(int64(pos)); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("group: truncate offsets: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	s := &Store{path: path, logger: logger, sync: fsync, f: f, size: int64(pos)}
	s.cond = sync.NewCond(&s.mu)
	return s, state, nil
}

// append writes records and returns the sequence number Sync waits for.
func (s *Store) append(rs []record) (int64, error) {
	var b []byte
	for i := range rs {
		b = rs[i].encode(b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if s.f == nil {
		return 0, errors.New("group: offset store closed")
	}
	if _, err := s.f.WriteAt(b, s.size); err != nil {
		s.err = fmt.Errorf("group: offsets write failed; commits are refused until restart: %w", err)
		s.logger.Error("offsets write failed", "err", err)
		return 0, s.err
	}
	s.size += int64(len(b))
	s.seq++
	return s.seq, nil
}

// waitSynced returns once an fsync covers record seq.
func (s *Store) waitSynced(seq int64) error {
	if !s.sync {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.synced < seq && s.err == nil {
		if s.syncing {
			s.cond.Wait()
			continue
		}
		s.syncing = true
		target, f := s.seq, s.f
		s.mu.Unlock()
		err := f.Sync()
		s.mu.Lock()
		s.syncing = false
		if err != nil {
			s.err = fmt.Errorf("group: offsets fsync failed; commits are refused until restart: %w", err)
			s.logger.Error("offsets fsync failed", "err", err)
		} else {
			s.synced = max(s.synced, target)
		}
		s.cond.Broadcast()
	}
	return s.err
}

// write appends records and waits until they are durable.
func (s *Store) write(rs ...record) error {
	seq, err := s.append(rs)
	if err != nil {
		return err
	}
	return s.waitSynced(seq)
}

func (s *Store) lastSeq() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// maybeRewrite replaces the file with just the live state when it has grown
// well past it. live must hold every record up to seq snap; if more were
// written since, the rewrite waits for a later pass.
func (s *Store) maybeRewrite(live offsetsByGroup, snap int64) error {
	var b []byte
	for g, offs := range live {
		for tp, o := range offs {
			r := record{kind: kindCommit, group: g, topic: tp.topic, partition: tp.partition, offset: o}
			b = r.encode(b)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.size < rewriteMinBytes || s.size < 4*int64(len(b)) || s.err != nil || s.f == nil || s.seq != snap {
		return nil
	}
	for s.syncing {
		s.cond.Wait()
	}
	if err := fsutil.WriteFileAtomic(s.path, b, 0o644); err != nil {
		return err
	}
	f, err := os.OpenFile(s.path, os.O_RDWR, 0o644)
	if err != nil {
		s.err = fmt.Errorf("group: reopen offsets: %w", err)
		return s.err
	}
	s.f.Close()
	s.f, s.size, s.synced = f, int64(len(b)), s.seq
	s.logger.Info("offsets file rewritten", "bytes", len(b))
	return nil
}

// Close fsyncs and closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.syncing {
		s.cond.Wait()
	}
	if s.f == nil {
		return nil
	}
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}
