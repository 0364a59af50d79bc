package log

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// segment is one .log file and its in-memory sparse indexes.
//
// While a segment is active its mutable fields are guarded by Log.mu. Bytes
// below size never change (we only append), so readers ReadAt them without
// the lock once they have captured a bound. Index slices only grow, so a
// slice header captured under Log.mu stays valid after the lock is dropped.
type segment struct {
	base int64
	path string // .log path; index paths derive from it
	file File
	refs atomic.Int32 // the Log's reference, Views, and the flusher

	size     int64 // bytes of whole batches written
	next     int64 // offset after the last batch
	maxTs    int64 // largest batch MaxTimestamp, -1 if none
	maxTsOff int64 // base offset of the first batch carrying maxTs
	maxTsPos int64
	rollTs   int64 // unix ms of the first append, 0 while empty
	offIdx   []offEntry
	timeIdx  []timeEntry
	sinceIdx int64 // bytes appended since the last index entry

	synced    int64 // bytes known fsynced
	diskClean int64 // cleanSize in the on-disk index; == size when it is current (-1 none)
	sealed    bool  // rolled: no more appends
	deleted   bool
}

func segmentName(base int64) string { return fmt.Sprintf("%020d.log", base) }

func parseSegmentName(name string) (int64, bool) {
	if len(name) != 24 || !strings.HasSuffix(name, ".log") {
		return 0, false
	}
	base, err := strconv.ParseInt(name[:20], 10, 64)
	return base, err == nil && base >= 0
}

func (s *segment) offIndexPath() string  { return strings.TrimSuffix(s.path, ".log") + ".index" }
func (s *segment) timeIndexPath() string { return strings.TrimSuffix(s.path, ".log") + ".timeindex" }

func newSegment(dir string, base int64, f File) *segment {
	s := &segment{
		base: base, path: filepath.Join(dir, segmentName(base)), file: f,
		next: base, maxTs: -1, maxTsOff: -1, maxTsPos: -1, diskClean: -1,
	}
	s.refs.Store(1)
	return s
}

func createSegment(fsys FS, dir string, base int64) (*segment, error) {
	f, err := fsys.OpenFile(filepath.Join(dir, segmentName(base)), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return newSegment(dir, base, f), nil
}

func (s *segment) ref() { s.refs.Add(1) }

// unref drops a reference; the last one closes the file.
func (s *segment) unref() {
	if s.refs.Add(-1) == 0 {
		s.file.Close()
	}
}

// fits reports whether n more bytes and offsets up to last can go into s
// without overflowing the 32-bit relative fields of the indexes.
func (s *segment) fits(n, last int64) bool {
	return s.size+n <= math.MaxUint32 && last-s.base <= math.MaxUint32
}

// track records a batch written at pos: indexes every interval bytes, the
// max timestamp and the new end.
func (s *segment) track(h *batchHeader, pos, interval int64) {
	if s.sinceIdx >= interval && pos > 0 {
		rel := uint32(h.baseOffset - s.base)
		s.offIdx = append(s.offIdx, offEntry{rel: rel, pos: uint32(pos)})
		if n := len(s.timeIdx); n == 0 || s.timeIdx[n-1].ts < s.maxTs {
			s.timeIdx = append(s.timeIdx, timeEntry{ts: s.maxTs, rel: rel, pos: uint32(pos)})
		}
		s.sinceIdx = 0
	}
	s.sinceIdx += h.size
	if h.maxTimestamp > s.maxTs {
		s.maxTs, s.maxTsOff, s.maxTsPos = h.maxTimestamp, h.baseOffset, pos
	}
	s.size = pos + h.size
	s.next = h.lastOffset() + 1
}

func (s *segment) meta() segMeta {
	return segMeta{base: s.base, cleanSize: s.size, next: s.next, maxTs: s.maxTs,
		maxTsOff: s.maxTsOff, maxTsPos: s.maxTsPos, rollTs: s.rollTs}
}

// writeIndexes persists both indexes for the current size. The caller has
// synced the .log up to size and fsyncs the directory afterwards.
func (s *segment) writeIndexes(fsys FS) error {
	if err := writeFileAtomic(fsys, s.offIndexPath(), encodeOffIndex(s.meta(), s.offIdx)); err != nil {
		return err
	}
	return writeFileAtomic(fsys, s.timeIndexPath(), encodeTimeIndex(s.base, s.timeIdx))
}

// removeFiles unlinks the segment's files; open descriptors stay readable.
func (s *segment) removeFiles(fsys FS) error {
	var errs []error
	for _, p := range []string{s.path, s.offIndexPath(), s.timeIndexPath()} {
		if err := fsys.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// chunkReader reads a file through a window so that scanning many small
// batch headers costs one ReadAt per window, not one per batch.
type chunkReader struct {
	f     File
	end   int64 // readable bytes end here
	buf   []byte
	off   int64 // file position of buf[0]
	n     int   // valid bytes in buf
	chunk int
}

var errShort = errors.New("short read")

// get returns n bytes at pos, valid until the next call.
func (c *chunkReader) get(pos, n int64) ([]byte, error) {
	if c.n > 0 && pos >= c.off && pos+n <= c.off+int64(c.n) {
		return c.buf[pos-c.off : pos-c.off+n], nil
	}
	if pos < 0 || n > c.end-pos {
		return nil, errShort
	}
	want := min(max(n, int64(c.chunk)), c.end-pos)
	if int64(cap(c.buf)) < want {
		c.buf = make([]byte, want)
	}
	c.buf = c.buf[:want]
	c.n = 0
	m, err := c.f.ReadAt(c.buf, pos)
	if int64(m) < want {
		if err == nil || err == io.EOF {
			err = errShort
		}
		return nil, err
	}
	c.off, c.n = pos, m
	return c.buf[:n], nil
}

// header returns the prefix of the batch at pos.
func (c *chunkReader) header(pos int64) (batchHeader, error) {
	b, err := c.get(pos, batchPrefixLen)
	if err != nil {
		return batchHeader{}, err
	}
	return parseBatchPrefix(b)
}

// headerBufs pools the read path's window buffers.
var headerBufs = sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}

// scanStop says why a scan ended before the end of the file.
type scanStop struct {
	pos    int64 // first byte not accepted
	reason error
	hdr    *batchHeader // the rejected batch's header, if it was readable
}

// scan validates whole batches from pos to fileSize (length, magic, CRC,
// expected base offset), tracks them into s, and returns where and why it
// stopped (nil reason means it reached fileSize).
func (s *segment) scan(pos, fileSize, interval int64) scanStop {
	c := chunkReader{f: s.file, end: fileSize, chunk: 1 << 20}
	for pos < fileSize {
		pre, err := c.get(pos, min(batchPrefixLen, fileSize-pos))
		if err != nil {
			return scanStop{pos: pos, reason: err}
		}
		if len(pre) < batchPrefixLen {
			return scanStop{pos: pos, reason: fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(pre))}
		}
		h, err := parseBatchPrefix(pre)
		if err != nil {
			return scanStop{pos: pos, reason: err}
		}
		if h.size > fileSize-pos {
			return scanStop{pos: pos, reason: fmt.Errorf("%w: torn batch, %d of %d bytes", ErrCorrupt, fileSize-pos, h.size), hdr: &h}
		}
		b, err := c.get(pos, h.size)
		if err != nil {
			return scanStop{pos: pos, reason: err, hdr: &h}
		}
		if _, err := validateBatch(b, 0); err != nil {
			return scanStop{pos: pos, reason: err, hdr: &h}
		}
		if h.baseOffset != s.next {
			return scanStop{pos: pos, reason: fmt.Errorf("%w: base offset %d, want %d", ErrCorrupt, h.baseOffset, s.next), hdr: &h}
		}
		if !s.fits(h.size, h.lastOffset()) {
			return scanStop{pos: pos, reason: fmt.Errorf("%w: segment overflow", ErrCorrupt), hdr: &h}
		}
		if s.rollTs == 0 && h.maxTimestamp > 0 {
			s.rollTs = h.maxTimestamp
		}
		s.track(&h, pos, interval)
		pos += h.size
	}
	return scanStop{pos: pos}
}
