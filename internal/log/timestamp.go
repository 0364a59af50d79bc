package log

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// forEachRecord decodes the batch b and calls fn with each record's offset
// and timestamp until fn returns false. LogAppendTime batches give every
// record the batch MaxTimestamp.
func forEachRecord(b []byte, fn func(offset, ts int64) bool) error {
	h, err := parseBatchPrefix(b)
	if err != nil {
		return err
	}
	if int64(len(b)) < h.size || h.size < batchHeaderLen {
		return fmt.Errorf("%w: short batch", ErrCorrupt)
	}
	count := int32(binary.BigEndian.Uint32(b[offNumRecords:]))
	raw := b[batchHeaderLen:h.size]
	if codec := h.attributes & attrCodecMask; codec != 0 {
		if raw, err = decompress(raw, codec); err != nil {
			return fmt.Errorf("%w: decompress: %w", ErrCorrupt, err)
		}
	}
	appendTime := h.attributes&attrLogAppendTime != 0
	var r kmsg.Record
	for i := int32(0); i < count && len(raw) > 0; i++ {
		length, n := binary.Varint(raw)
		if n <= 0 || length < 0 || length > int64(len(raw)-n) {
			return fmt.Errorf("%w: record %d length", ErrCorrupt, i)
		}
		end := n + int(length)
		if err := r.ReadFrom(raw[:end]); err != nil {
			return fmt.Errorf("%w: record %d: %w", ErrCorrupt, i, err)
		}
		raw = raw[end:]
		ts := h.firstTimestamp + r.TimestampDelta64
		if appendTime {
			ts = h.maxTimestamp
		}
		if !fn(h.baseOffset+int64(r.OffsetDelta), ts) {
			return nil
		}
	}
	return nil
}

// segView is a segment pinned for a lookup, with bounds captured under mu.
type segView struct {
	s       *segment
	limit   int64
	next    int64
	size    int64
	maxTs   int64
	maxPos  int64 // position of the first batch carrying maxTs
	offIdx  []offEntry
	timeIdx []timeEntry
}

// snapshot pins every segment that holds visible records.
func (l *Log) snapshot() (views []segView, lso, hw int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return nil, 0, 0, err
	}
	lso, hw = l.lso.Load(), l.hw.Load()
	for _, s := range l.segs {
		if s.base >= hw {
			break
		}
		if s.next <= lso {
			continue
		}
		s.ref()
		views = append(views, segView{s: s, limit: l.limitLocked(s), next: s.next, size: s.size,
			maxTs: s.maxTs, maxPos: s.maxTsPos, offIdx: s.offIdx, timeIdx: s.timeIdx})
	}
	return views, lso, hw, nil
}

func release(views []segView) {
	for _, v := range views {
		v.s.unref()
	}
}

// OffsetForTimestamp returns the earliest visible offset whose record
// timestamp is >= ts, and that timestamp; (-1, -1) if there is none.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, err error) {
	views, lso, hw, err := l.snapshot()
	if err != nil {
		return -1, -1, err
	}
	defer release(views)
	for _, v := range views {
		if v.maxTs < ts {
			continue
		}
		start := lookupTime(v.timeIdx, ts)
		if lso > v.s.base {
			start = max(start, lookupOffset(v.offIdx, uint32(lso-v.s.base)))
		}
		c := chunkReader{f: v.s.file, end: v.limit, chunk: 64 << 10}
		for pos := start; pos < v.limit; {
			h, err := c.header(pos)
			if err != nil {
				return -1, -1, fmt.Errorf("log: %s at %d: %w", v.s.path, pos, err)
			}
			if h.lastOffset() >= lso && h.maxTimestamp >= ts {
				b, err := c.get(pos, h.size)
				if err != nil {
					return -1, -1, err
				}
				offset, timestamp = -1, -1
				err = forEachRecord(b, func(o, t int64) bool {
					if o >= lso && o < hw && t >= ts {
						offset, timestamp = o, t
						return false
					}
					return true
				})
				if err != nil || offset >= 0 {
					return offset, timestamp, err
				}
			}
			pos += h.size
		}
	}
	return -1, -1, nil
}

// MaxTimestamp returns the offset and timestamp of the visible record with
// the largest timestamp (the first such record on ties); (-1, -1) if the
// log has no visible records.
func (l *Log) MaxTimestamp() (offset, timestamp int64, err error) {
	views, lso, hw, err := l.snapshot()
	if err != nil {
		return -1, -1, err
	}
	defer release(views)
	var best *segView
	for i := range views {
		if v := &views[i]; v.size > 0 && (best == nil || v.maxTs > best.maxTs) {
			best = v
		}
	}
	if best == nil {
		return -1, -1, nil
	}
	// Fast path: the segment summary's batch is wholly visible, so it is
	// the answer (earlier segments have smaller maxima).
	if pos := best.maxPos; pos >= 0 {
		c := chunkReader{f: best.s.file, end: best.limit, chunk: 4 << 10}
		if h, err := c.header(pos); err == nil && h.baseOffset >= lso && h.lastOffset() < hw && pos+h.size <= best.limit {
			return maxRecord(&c, pos, h, lso, hw)
		}
	}
	return l.maxTimestampScan(views, lso, hw)
}

// maxRecord returns the first record in the batch at pos with the largest
// visible timestamp.
func maxRecord(c *chunkReader, pos int64, h batchHeader, lso, hw int64) (int64, int64, error) {
	b, err := c.get(pos, h.size)
	if err != nil {
		return -1, -1, err
	}
	offset, timestamp := int64(-1), int64(-1)
	err = forEachRecord(b, func(o, t int64) bool {
		if o >= lso && o < hw && (offset < 0 || t > timestamp) {
			offset, timestamp = o, t
		}
		return true
	})
	return offset, timestamp, err
}

// maxTimestampScan is the slow path: walk every visible batch header.
func (l *Log) maxTimestampScan(views []segView, lso, hw int64) (int64, int64, error) {
	offset, timestamp := int64(-1), int64(-1)
	for _, v := range views {
		start := int64(0)
		if lso > v.s.base {
			start = lookupOffset(v.offIdx, uint32(lso-v.s.base))
		}
		c := chunkReader{f: v.s.file, end: v.limit, chunk: 64 << 10}
		for pos := start; pos < v.limit; {
			h, err := c.header(pos)
			if err != nil {
				return -1, -1, err
			}
			if h.lastOffset() >= lso && h.baseOffset < hw && (offset < 0 || h.maxTimestamp > timestamp) {
				o, t, err := maxRecord(&c, pos, h, lso, hw)
				if err != nil {
					return -1, -1, err
				}
				if o >= 0 && (offset < 0 || t > timestamp) {
					offset, timestamp = o, t
				}
			}
			pos += h.size
		}
	}
	return offset, timestamp, nil
}
