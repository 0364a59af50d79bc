package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// checkpointName holds the log start offset moved by DeleteRecords.
//
// Format, version 1, big endian: magic "OCLS", version u8, 3 zero bytes,
// offset i64, crc32c u32 of the first 16 bytes.
const checkpointName = "log-start-offset.ckpt"

func encodeCheckpoint(off int64) []byte {
	b := make([]byte, 20)
	copy(b, "OCLS")
	b[4] = 1
	binary.BigEndian.PutUint64(b[8:], uint64(off))
	binary.BigEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	return b
}

func decodeCheckpoint(b []byte) (int64, error) {
	if len(b) != 20 || string(b[:4]) != "OCLS" || b[4] != 1 ||
		crc32.Checksum(b[:16], castagnoli) != binary.BigEndian.Uint32(b[16:]) {
		return 0, errors.New("bad log start checkpoint")
	}
	off := int64(binary.BigEndian.Uint64(b[8:]))
	if off < 0 {
		return 0, errors.New("negative log start checkpoint")
	}
	return off, nil
}

// Open opens or creates the log in dir. After a clean Close it trusts the
// index files and reads no segment data. Otherwise it scans every segment
// byte the indexes do not vouch for, truncates at the first bad or torn
// batch (dropping any later segments) and says with slog.Warn what was lost.
func Open(fsys FS, dir string, cfg Config, logger *slog.Logger) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	cfg = cfg.WithDefaults()
	l := &Log{fs: fsys, dir: dir, logger: logger, now: time.Now, cfg: cfg, notify: make(chan struct{})}
	l.maxBatch.Store(cfg.MaxBatchBytes)
	l.appendTime.Store(cfg.LogAppendTime)
	err := l.recover()
	if err == nil {
		err = l.loadProducers()
	}
	if err != nil {
		for _, s := range l.segs {
			s.unref()
		}
		return nil, fmt.Errorf("log: open %s: %w", dir, err)
	}
	return l, nil
}

func (l *Log) recover() error {
	names, err := l.fs.ReadDir(l.dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := l.fs.MkdirAll(l.dir); err != nil {
			return err
		}
		names, err = nil, nil
	}
	if err != nil {
		return err
	}
	var bases []int64
	logs := make(map[string]bool)
	haveCheckpoint := false
	for _, name := range names {
		haveCheckpoint = haveCheckpoint || name == checkpointName
		if base, ok := parseSegmentName(name); ok {
			bases = append(bases, base)
			logs[strings.TrimSuffix(name, ".log")] = true
		}
	}
	removed := false
	for _, name := range names {
		stem, ext, _ := strings.Cut(name, ".")
		// Leftovers of interrupted metadata writes, and indexes of
		// segments deleted while the flusher was writing them.
		if strings.HasSuffix(name, ".tmp") || ((ext == "index" || ext == "timeindex") && !logs[stem]) {
			if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil {
				return err
			}
			removed = true
		}
	}

	lso := int64(0)
	if haveCheckpoint {
		b, err := readWholeFile(l.fs, filepath.Join(l.dir, checkpointName))
		if err != nil {
			return err
		}
		if lso, err = decodeCheckpoint(b); err != nil {
			l.logger.Warn("log: ignoring log start checkpoint", "dir", l.dir, "err", err)
		}
	}

	interval := int64(l.cfg.IndexIntervalBytes)
	unclean := false
	for i, base := range bases {
		if n := len(l.segs); n > 0 && base < l.segs[n-1].next {
			l.logger.Warn("log: dropping overlapping segments after recovery point", "dir", l.dir,
				"segments", len(bases)-i, "first_base", base, "prev_end", l.segs[n-1].next)
			for _, b := range bases[i:] {
				s := newSegment(l.dir, b, nil)
				if err := s.removeFiles(l.fs); err != nil {
					return err
				}
			}
			removed = true
			break
		}
		s, scanned, truncated, err := l.openSegment(base, interval)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
		unclean = unclean || scanned
		if truncated && i < len(bases)-1 {
			// A hole in the middle: later segments would leave a gap.
			for _, b := range bases[i+1:] {
				l.logger.Warn("log: dropping segment after truncated one", "dir", l.dir, "segment", segmentName(b))
				if err := newSegment(l.dir, b, nil).removeFiles(l.fs); err != nil {
					return err
				}
			}
			removed = true
			break
		}
	}

	// Segments entirely below the log start offset were being deleted.
	for len(l.segs) > 1 && l.segs[1].base <= lso {
		s := l.segs[0]
		if err := s.removeFiles(l.fs); err != nil {
			return err
		}
		s.unref()
		l.segs = l.segs[1:]
		removed = true
	}
	if n := len(l.segs); n > 0 && l.segs[n-1].next < lso {
		l.logger.Warn("log: log start offset is past the recovered end; starting empty",
			"dir", l.dir, "log_start", lso, "log_end", l.segs[n-1].next)
		for _, s := range l.segs {
			if err := s.removeFiles(l.fs); err != nil {
				return err
			}
			s.unref()
		}
		l.segs = nil
		removed = true
	}
	if len(l.segs) == 0 {
		s, err := createSegment(l.fs, l.dir, lso)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
		l.dirDirty = true
	}

	act := l.active()
	if act.size > 0 && act.rollTs == 0 {
		act.rollTs = l.now().UnixMilli()
	}
	if unclean {
		// The scanned bytes may only be in the page cache: make what we
		// are about to serve durable.
		for _, s := range l.segs {
			if s.synced < s.size {
				if err := s.file.Sync(); err != nil {
					return err
				}
				s.synced = s.size
			}
		}
	}
	if removed {
		if err := l.fs.SyncDir(l.dir); err != nil {
			return err
		}
	}
	var size int64
	for _, s := range l.segs {
		size += s.size
	}
	leo := act.next
	l.size.Store(size)
	l.leo.Store(leo)
	l.hw.Store(leo)
	l.lso.Store(max(lso, l.segs[0].base))
	l.durable = leo
	l.hwSeg, l.hwPos = act, act.size
	return nil
}

// openSegment opens one segment, loading its indexes and scanning whatever
// they do not cover.
func (l *Log) openSegment(base, interval int64) (s *segment, scanned, truncated bool, err error) {
	path := filepath.Join(l.dir, segmentName(base))
	f, err := l.fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, false, false, err
	}
	s = newSegment(l.dir, base, f)
	fileSize, err := f.Size()
	if err != nil {
		s.unref()
		return nil, false, false, err
	}
	if err := l.loadIndexes(s, fileSize); err != nil && !errors.Is(err, fs.ErrNotExist) {
		l.logger.Warn("log: rebuilding index", "dir", l.dir, "segment", segmentName(base), "err", err)
	}
	if s.size == fileSize {
		return s, false, false, nil
	}
	from := s.size
	stop := s.scan(from, fileSize, interval)
	if stop.reason == nil {
		return s, true, false, nil
	}
	if errors.Is(stop.reason, errShort) || !isFormatErr(stop.reason) {
		s.unref()
		return nil, false, false, stop.reason
	}
	attrs := []any{"dir", l.dir, "segment", segmentName(base), "position", stop.pos,
		"bytes_dropped", fileSize - stop.pos, "first_offset_dropped", s.next, "reason", stop.reason}
	if stop.hdr != nil {
		attrs = append(attrs, "claimed_offsets", fmt.Sprintf("%d..%d", stop.hdr.baseOffset, stop.hdr.lastOffset()))
	}
	l.logger.Warn("log: truncating damaged tail", attrs...)
	if err := f.Truncate(stop.pos); err != nil {
		s.unref()
		return nil, false, false, err
	}
	if err := f.Sync(); err != nil {
		s.unref()
		return nil, false, false, err
	}
	s.synced = stop.pos
	return s, true, true, nil
}

// isFormatErr reports whether err is about the bytes (truncate them) rather
// than the disk (fail the open).
func isFormatErr(err error) bool {
	return errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupportedMagic) || errors.Is(err, ErrInvalidRecord)
}

// loadIndexes seeds s from its index files if they are valid and cover no
// more than the file holds. On any problem s stays empty, to be scanned.
func (l *Log) loadIndexes(s *segment, fileSize int64) error {
	b, err := readWholeFile(l.fs, s.offIndexPath())
	if err != nil {
		return err
	}
	m, offIdx, err := decodeOffIndex(b, s.base)
	if err != nil {
		return err
	}
	if m.cleanSize > fileSize {
		return fmt.Errorf("%w: index covers %d bytes, segment has %d", errBadIndex, m.cleanSize, fileSize)
	}
	if b, err = readWholeFile(l.fs, s.timeIndexPath()); err != nil {
		return err
	}
	timeIdx, err := decodeTimeIndex(b, s.base, m.cleanSize)
	if err != nil {
		return err
	}
	s.size, s.next, s.maxTs, s.maxTsOff, s.maxTsPos, s.rollTs = m.cleanSize, m.next, m.maxTs, m.maxTsOff, m.maxTsPos, m.rollTs
	s.offIdx, s.timeIdx = offIdx, timeIdx
	s.synced, s.diskClean = m.cleanSize, m.cleanSize
	s.sinceIdx = m.cleanSize
	if n := len(offIdx); n > 0 {
		s.sinceIdx = m.cleanSize - int64(offIdx[n-1].pos)
	}
	return nil
}
