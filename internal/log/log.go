package log

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultSegmentBytes       = 1 << 30
	DefaultSegmentAge         = 7 * 24 * time.Hour
	DefaultRetentionAge       = 7 * 24 * time.Hour
	DefaultIndexIntervalBytes = 4096
	DefaultMaxBatchBytes      = 1048588
	DefaultFsyncInterval      = time.Second
	DefaultMaxTimestampAhead  = time.Hour // Kafka 4's message.timestamp.after.max.ms
)

// WithDefaults returns c with zero fields set to their defaults. A zero
// RetentionBytes means unlimited (-1).
func (c Config) WithDefaults() Config {
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.SegmentAge == 0 {
		c.SegmentAge = DefaultSegmentAge
	}
	if c.RetentionBytes == 0 {
		c.RetentionBytes = -1
	}
	if c.RetentionAge == 0 {
		c.RetentionAge = DefaultRetentionAge
	}
	if c.IndexIntervalBytes == 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.FsyncInterval == 0 {
		c.FsyncInterval = DefaultFsyncInterval
	}
	if c.MaxTimestampAhead == 0 {
		c.MaxTimestampAhead = DefaultMaxTimestampAhead
	}
	if c.MaxTimestampBehind == 0 {
		c.MaxTimestampBehind = -1
	}
	return c
}

// Validate reports settings the log cannot honour. Segments hold at most
// 4 GiB because index positions are 32-bit.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.SegmentBytes < 0 || c.SegmentBytes > math.MaxUint32:
		return fmt.Errorf("log: SegmentBytes %d out of range", c.SegmentBytes)
	case c.SegmentAge < 0:
		return fmt.Errorf("log: negative SegmentAge")
	case c.IndexIntervalBytes < 0:
		return fmt.Errorf("log: negative IndexIntervalBytes")
	case c.MaxBatchBytes < batchHeaderLen:
		return fmt.Errorf("log: MaxBatchBytes %d too small", c.MaxBatchBytes)
	case c.Fsync > FsyncNever:
		return fmt.Errorf("log: unknown %v", c.Fsync)
	case c.FsyncInterval < 0:
		return fmt.Errorf("log: negative FsyncInterval")
	}
	return nil
}

// Log is one partition's durable log. See the package comment for its
// concurrency model.
type Log struct {
	fs     FS
	dir    string
	logger *slog.Logger
	now    func() time.Time // tests move the clock

	// Read without mu; written with mu held.
	leo, hw, lso, size atomic.Int64
	maxBatch           atomic.Int32
	appendTime         atomic.Bool // cfg.LogAppendTime

	metaMu sync.Mutex // serialises log-start checkpoint writers; taken before mu

	mu          sync.Mutex
	cfg         Config
	segs        []*segment // oldest first; the last is active
	werr        error      // sticky storage error
	closed      bool
	durable     int64    // offsets below are fsynced
	hwSeg       *segment // segment and byte position of the high watermark
	hwPos       int64
	notify      chan struct{} // closed when hw/durable advance or the log fails/closes
	notifyTaken bool          // someone holds notify; replace it on the next event
	flushing    bool          // a flusher goroutine is running
	flushWG     sync.WaitGroup
	syncReq     bool // flush the active segment even if the policy would not
	dirDirty    bool // entries created/removed since the last SyncDir
	pendingSeal []*segment
	timer       *time.Timer // FsyncInterval
	timerArmed  bool
	producers   map[int64]*producerEntry // idempotent producers (producers.go)
	snapUpTo    int64                    // log end offset the producer snapshot on disk covers, -1 none
}

// AppendResult describes a successful Append.
type AppendResult struct {
	BaseOffset    int64 // offset of the first record appended
	LastOffset    int64 // offset of the last record appended
	MaxTimestamp  int64 // largest batch MaxTimestamp among the appended batches
	Duplicate     bool  // a retried idempotent batch: nothing was written, offsets are the original's
	LogAppendTime int64 // the broker's timestamp under LogAppendTime, else -1
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

func (l *Log) storageErr() error { return fmt.Errorf("%w: %w", ErrStorage, l.werr) }

// failLocked makes err sticky: no more appends, no clean metadata.
func (l *Log) failLocked(op string, err error) error {
	if l.werr == nil {
		l.werr = err
		l.logger.Error("log: storage failure, partition offline", "dir", l.dir, "op", op, "err", err)
		if l.timer != nil {
			l.timer.Stop()
		}
		l.notifyLocked()
	}
	return l.storageErr()
}

// notifyLocked wakes Wait and WaitDurable callers.
func (l *Log) notifyLocked() {
	if l.notifyTaken {
		close(l.notify)
		l.notify = make(chan struct{})
		l.notifyTaken = false
	}
}

// setHWLocked moves the high watermark forward to offset at (seg, pos).
func (l *Log) setHWLocked(offset int64, seg *segment, pos int64) {
	hw := l.hw.Load()
	if offset < hw {
		return
	}
	l.hwSeg, l.hwPos = seg, pos
	if offset > hw {
		l.hw.Store(offset)
		l.notifyLocked()
	}
}

// Append validates batches (one or more RecordBatch v2), stamps their base
// offsets and leader epochs in place, and appends them. If any batch is
// invalid nothing is appended.
func (l *Log) Append(batches []byte) (AppendResult, error) {
	_, records, maxTs, err := validateBatches(batches, l.maxBatch.Load())
	if err != nil {
		return AppendResult{}, err
	}
	n := int64(len(batches))
	now := l.now()
	appendTime := l.appendTime.Load()
	if !appendTime {
		if err := l.checkTimestamps(batches, now.UnixMilli()); err != nil {
			return AppendResult{}, err
		}
	}
	if appendTime {
		// The stamp lies inside the CRC, so each batch's CRC is
		// recomputed: the one case where the log rewrites bytes.
		maxTs = now.UnixMilli()
		stampAppendTime(batches, maxTs)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return AppendResult{}, ErrClosed
	}
	if l.werr != nil {
		return AppendResult{}, l.storageErr()
	}
	if dup, err := l.checkProducersLocked(batches); err != nil || dup != nil {
		if err != nil {
			return AppendResult{}, err
		}
		return AppendResult{BaseOffset: dup.firstOffset, LastOffset: dup.lastOffset, MaxTimestamp: maxTs, Duplicate: true, LogAppendTime: -1}, nil
	}
	base := l.leo.Load()
	last := base + records - 1
	seg := l.active()
	if seg.size > 0 && (seg.size+n > l.cfg.SegmentBytes || !seg.fits(n, last) ||
		now.UnixMilli()-seg.rollTs >= l.cfg.SegmentAge.Milliseconds()) {
		if err := l.rollLocked(); err != nil {
			return AppendResult{}, err
		}
		seg = l.active()
	}
	if !seg.fits(n, last) {
		return AppendResult{}, fmt.Errorf("%w: %d bytes, %d records do not fit one segment", ErrInvalidRecord, n, records)
	}

	pos := seg.size
	interval := int64(l.cfg.IndexIntervalBytes)
	off := base
	for p := int64(0); p < n; {
		b := batches[p:]
		stampBatch(b, off)
		h, _ := parseBatchPrefix(b)
		seg.track(&h, pos+p, interval)
		off = h.lastOffset() + 1
		p += h.size
	}
	if _, err := seg.file.WriteAt(batches, pos); err != nil {
		return AppendResult{}, l.failLocked("write "+seg.path, err)
	}
	if seg.rollTs == 0 {
		seg.rollTs = now.UnixMilli()
	}
	l.leo.Store(off)
	l.size.Add(n)
	l.recordProducersLocked(batches, now.UnixMilli())

	switch l.cfg.Fsync {
	case FsyncAlways:
		l.kickLocked()
	case FsyncInterval:
		l.armTimerLocked()
		l.setHWLocked(off, seg, seg.size)
	default:
		l.setHWLocked(off, seg, seg.size)
	}
	res := AppendResult{BaseOffset: base, LastOffset: off - 1, MaxTimestamp: maxTs, LogAppendTime: -1}
	if appendTime {
		res.LogAppendTime = maxTs
	}
	return res, nil
}

// checkTimestamps applies the CreateTime bounds to every batch, using its
// first and max timestamps (-1 means none).
func (l *Log) checkTimestamps(batches []byte, now int64) error {
	l.mu.Lock()
	ahead, behind := l.cfg.MaxTimestampAhead, l.cfg.MaxTimestampBehind
	l.mu.Unlock()
	for p := 0; p < len(batches); {
		h, _ := parseBatchPrefix(batches[p:])
		p += int(h.size)
		if ahead >= 0 && h.maxTimestamp > now+ahead.Milliseconds() {
			return fmt.Errorf("%w: timestamp %d is more than %v after the broker's time %d", ErrInvalidTimestamp, h.maxTimestamp, ahead, now)
		}
		if behind >= 0 && h.firstTimestamp != -1 && h.firstTimestamp < now-behind.Milliseconds() {
			return fmt.Errorf("%w: timestamp %d is more than %v before the broker's time %d", ErrInvalidTimestamp, h.firstTimestamp, behind, now)
		}
	}
	return nil
}

// rollLocked seals the active segment and starts a new one at the log end.
// The flusher fsyncs the sealed segment and writes its indexes.
func (l *Log) rollLocked() error {
	// Producer state as of the roll bounds what Open must replay.
	if err := l.saveProducersLocked(); err != nil {
		return l.failLocked("write producer snapshot", err)
	}
	old := l.active()
	seg, err := createSegment(l.fs, l.dir, l.leo.Load())
	if err != nil {
		return l.failLocked("create segment", err)
	}
	old.sealed = true
	old.ref()
	l.pendingSeal = append(l.pendingSeal, old)
	l.segs = append(l.segs, seg)
	l.dirDirty = true
	if l.hwSeg == old && l.hwPos == old.size {
		l.hwSeg, l.hwPos = seg, 0
	}
	l.kickLocked()
	return nil
}

// HighWatermark is the offset below which records are visible to readers.
func (l *Log) HighWatermark() int64 { return l.hw.Load() }

// LogEndOffset is the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 { return l.leo.Load() }

// LogStartOffset is the first offset readers may ask for.
func (l *Log) LogStartOffset() int64 { return l.lso.Load() }

// Size is the bytes on disk of all segments.
func (l *Log) Size() int64 { return l.size.Load() }

// Wait returns a channel closed the next time the high watermark advances,
// or when the log fails or closes.
func (l *Log) Wait() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.werr != nil {
		return closedChan
	}
	l.notifyTaken = true
	return l.notify
}

// Config returns the current settings (defaults filled in).
func (l *Log) Config() Config {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg
}

// SetConfig changes settings for later appends and retention. Invalid
// settings are ignored with a warning; callers should Validate first.
func (l *Log) SetConfig(cfg Config) {
	if err := cfg.Validate(); err != nil {
		l.logger.Warn("log: ignoring invalid config", "dir", l.dir, "err", err)
		return
	}
	cfg = cfg.WithDefaults()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg = cfg
	l.maxBatch.Store(cfg.MaxBatchBytes)
	l.appendTime.Store(cfg.LogAppendTime)
	if cfg.Fsync != FsyncAlways {
		seg := l.active()
		l.setHWLocked(l.leo.Load(), seg, seg.size)
	}
	if cfg.Fsync == FsyncInterval && l.active().synced < l.active().size {
		l.armTimerLocked()
	}
}

// View is a range of whole batches in one segment file. It pins the file
// until Release. Copies of a View share the pin: release exactly one.
type View struct {
	seg *segment
	pos int64
	n   int
}

// Len is the number of bytes in the view.
func (v View) Len() int { return v.n }

// File is the segment file (an OSFS file implements syscall.Conn), nil for
// an empty view.
func (v View) File() File {
	if v.seg == nil {
		return nil
	}
	return v.seg.file
}

// Pos is the byte position of the view in File.
func (v View) Pos() int64 { return v.pos }

// AppendTo appends the view's bytes to dst.
func (v View) AppendTo(dst []byte) ([]byte, error) {
	if v.n == 0 {
		return dst, nil
	}
	if v.seg == nil {
		return dst, errors.New("log: View used after Release")
	}
	start := len(dst)
	dst = append(dst, make([]byte, v.n)...)
	if _, err := v.seg.file.ReadAt(dst[start:], v.pos); err != nil {
		return dst[:start], fmt.Errorf("log: read %s: %w", v.seg.path, err)
	}
	return dst, nil
}

// Release unpins the segment file. It is idempotent.
func (v *View) Release() {
	if v.seg != nil {
		v.seg.unref()
		v.seg = nil
	}
}

// findSegLocked returns the segment holding offset, or nil.
func (l *Log) findSegLocked(offset int64) *segment {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset })
	if i == 0 {
		return nil
	}
	return l.segs[i-1]
}

// limitLocked is how far readers may read in seg: its end, or the high
// watermark position if the high watermark lies in it.
func (l *Log) limitLocked(seg *segment) int64 {
	if seg == l.hwSeg {
		return l.hwPos
	}
	return seg.size
}

// Read returns whole batches from one segment starting with the batch that
// holds offset, at most maxBytes in total and never past the high
// watermark. If the first batch is larger than maxBytes it is returned alone
// when minOneBatch is set (KIP-74), else the view is empty. A failed log
// answers ErrStorage, so long-polls do not spin on it.
func (l *Log) Read(offset int64, maxBytes int32, minOneBatch bool) (View, error) {
	l.mu.Lock()
	if err := l.usableLocked(); err != nil {
		l.mu.Unlock()
		return View{}, err
	}
	if offset < l.lso.Load() || offset > l.leo.Load() {
		l.mu.Unlock()
		return View{}, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, offset, l.lso.Load(), l.leo.Load())
	}
	if offset >= l.hw.Load() {
		l.mu.Unlock()
		return View{}, nil
	}
	seg := l.findSegLocked(offset)
	if seg == nil {
		l.mu.Unlock()
		return View{}, fmt.Errorf("%w: %d below the first segment", ErrOffsetOutOfRange, offset)
	}
	limit := l.limitLocked(seg)
	start := lookupOffset(seg.offIdx, uint32(offset-seg.base))
	seg.ref()
	l.mu.Unlock()

	bp := headerBufs.Get().(*[]byte)
	c := chunkReader{f: seg.file, end: limit, buf: *bp, chunk: len(*bp)}
	first, end, err := scanRange(&c, start, limit, offset, int64(maxBytes), minOneBatch)
	headerBufs.Put(bp)
	if err != nil || end == first {
		seg.unref()
		if err != nil {
			return View{}, fmt.Errorf("log: read %s at %d: %w", seg.path, first, err)
		}
		return View{}, nil
	}
	return View{seg: seg, pos: first, n: int(end - first)}, nil
}

// scanRange walks batch headers from pos: it skips batches that end before
// offset, then takes whole batches while they fit in maxBytes.
func scanRange(c *chunkReader, pos, limit, offset, maxBytes int64, minOne bool) (first, end int64, err error) {
	for pos < limit {
		h, err := c.header(pos)
		if err != nil {
			return pos, pos, err
		}
		if h.lastOffset() >= offset {
			break
		}
		pos += h.size
	}
	first, end = pos, pos
	for end < limit {
		h, err := c.header(end)
		if err != nil {
			return first, first, err
		}
		if h.size > limit-end {
			break // never past the limit, even for a damaged file
		}
		if end-first+h.size > maxBytes {
			if end == first && minOne {
				end += h.size
			}
			break
		}
		end += h.size
	}
	return first, end, nil
}
