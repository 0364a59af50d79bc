package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"path/filepath"
	"sort"
	"time"
)

// Idempotent producers. For each producer id the log keeps its epoch and the
// sequence ranges and offsets of its last five batches, as Kafka does, so a
// retried batch is answered with its original offsets instead of being
// written twice, and a gap in the sequence is refused.
//
// The state is derived from batch headers. It is saved in a snapshot at
// every segment roll and at Close; Open loads the snapshot and replays the
// headers of batches after it, so a clean start reads none.

var (
	ErrOutOfOrderSequence = errors.New("log: out of order sequence number")                 // OUT_OF_ORDER_SEQUENCE_NUMBER
	ErrInvalidEpoch       = errors.New("log: producer epoch is older than the current one") // INVALID_PRODUCER_EPOCH
)

// Producer fields of the batch header.
const (
	offProducerID    = 43
	offProducerEpoch = 51
	offBaseSequence  = 53
	// producerBatches is how many recent batches per producer are kept
	// for duplicate detection (Kafka's max.in.flight limit for idempotence).
	producerBatches = 5
	// producerExpiry drops producers idle this long (producer.id.expiration.ms).
	producerExpiry = 24 * time.Hour
)

type producerBatch struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
}

type producerEntry struct {
	epoch    int16
	batches  []producerBatch // oldest first, at most producerBatches
	lastSeen int64           // unix ms of the last append
}

func (e *producerEntry) add(b producerBatch, now int64) {
	if len(e.batches) == producerBatches {
		copy(e.batches, e.batches[1:])
		e.batches = e.batches[:producerBatches-1]
	}
	e.batches = append(e.batches, b)
	e.lastSeen = now
}

// batchProducer reads the producer fields of a batch; id < 0 means the
// batch is not idempotent.
func batchProducer(b []byte) (id int64, epoch int16, firstSeq int32) {
	return int64(binary.BigEndian.Uint64(b[offProducerID:])),
		int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		int32(binary.BigEndian.Uint32(b[offBaseSequence:]))
}

func lastSequence(first int32, lastOffsetDelta int32) int32 {
	if int64(first)+int64(lastOffsetDelta) > math.MaxInt32 {
		return int32(int64(first) + int64(lastOffsetDelta) - math.MaxInt32 - 1)
	}
	return first + lastOffsetDelta
}

// checkProducer applies Kafka's sequence rules to one batch. It returns the
// original batch if this one is a retry of it.
func checkProducer(e *producerEntry, epoch int16, firstSeq, lastSeq int32) (*producerBatch, error) {
	if e == nil {
		return nil, nil // a producer we have no state for may start anywhere
	}
	switch {
	case epoch < e.epoch:
		return nil, fmt.Errorf("%w: epoch %d, current %d", ErrInvalidEpoch, epoch, e.epoch)
	case epoch > e.epoch:
		if firstSeq != 0 {
			return nil, fmt.Errorf("%w: new epoch %d must start at sequence 0, not %d", ErrOutOfOrderSequence, epoch, firstSeq)
		}
		return nil, nil
	}
	for i := range e.batches {
		if b := &e.batches[i]; b.firstSeq == firstSeq && b.lastSeq == lastSeq {
			return b, nil
		}
	}
	if n := len(e.batches); n > 0 {
		last := e.batches[n-1].lastSeq
		want := last + 1
		if last == math.MaxInt32 {
			want = 0
		}
		if firstSeq != want {
			return nil, fmt.Errorf("%w: sequence %d, expected %d", ErrOutOfOrderSequence, firstSeq, want)
		}
	}
	return nil, nil
}

// applyProducer records an appended batch.
func (l *Log) applyProducerLocked(id int64, epoch int16, b producerBatch, now int64) {
	e := l.producers[id]
	if e == nil {
		e = &producerEntry{}
		l.producers[id] = e
	}
	if epoch != e.epoch {
		e.epoch, e.batches = epoch, e.batches[:0]
	}
	e.add(b, now)
}

// checkProducersLocked checks every idempotent batch of an append. dup is
// set when the (single-producer) append repeats batches already written.
func (l *Log) checkProducersLocked(batches []byte) (dup *producerBatch, err error) {
	// Several batches of one producer in one append must continue each
	// other; check them against a scratch copy.
	var scratch map[int64]*producerEntry
	for p := 0; p < len(batches); {
		h, _ := parseBatchPrefix(batches[p:])
		id, epoch, first := batchProducer(batches[p:])
		p += int(h.size)
		if id < 0 {
			continue
		}
		e := l.producers[id]
		if s, ok := scratch[id]; ok {
			e = s
		}
		last := lastSequence(first, h.lastOffsetDelta)
		d, err := checkProducer(e, epoch, first, last)
		if err != nil {
			return nil, err
		}
		if d != nil {
			return d, nil
		}
		if scratch == nil {
			scratch = make(map[int64]*producerEntry)
		}
		ne := &producerEntry{epoch: epoch}
		if e != nil && e.epoch == epoch {
			ne.batches = append(ne.batches, e.batches...)
		}
		ne.add(producerBatch{firstSeq: first, lastSeq: last}, 0)
		scratch[id] = ne
	}
	return nil, nil
}

// recordProducersLocked updates producer state for batches just written with
// offsets stamped.
func (l *Log) recordProducersLocked(batches []byte, now int64) {
	for p := 0; p < len(batches); {
		h, _ := parseBatchPrefix(batches[p:])
		id, epoch, first := batchProducer(batches[p:])
		if id >= 0 {
			l.applyProducerLocked(id, epoch, producerBatch{
				firstSeq: first, lastSeq: lastSequence(first, h.lastOffsetDelta),
				firstOffset: h.baseOffset, lastOffset: h.lastOffset(),
			}, now)
		}
		p += int(h.size)
	}
}

// Snapshot format, version 1, big endian: magic "OCPS", version u8, 3 zero
// bytes, covered-up-to offset i64, entry count u32, then per producer: id
// i64, epoch i16, lastSeen i64, batch count u8, batches (firstSeq i32,
// lastSeq i32, firstOffset i64, lastOffset i64); last, crc32c u32 of all
// that precedes it.
const producerSnapshotName = "producers.snapshot"

func encodeProducers(upTo int64, ps map[int64]*producerEntry, now int64) []byte {
	ids := make([]int64, 0, len(ps))
	for id, e := range ps {
		if now-e.lastSeen < producerExpiry.Milliseconds() {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b := append([]byte("OCPS"), 1, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(upTo))
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		e := ps[id]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastSeen))
		b = append(b, byte(len(e.batches)))
		for _, pb := range e.batches {
			b = binary.BigEndian.AppendUint32(b, uint32(pb.firstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(pb.lastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(pb.firstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(pb.lastOffset))
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var errBadSnapshot = errors.New("bad producer snapshot")

func decodeProducers(b []byte) (upTo int64, ps map[int64]*producerEntry, err error) {
	if len(b) < 24 || string(b[:4]) != "OCPS" || b[4] != 1 {
		return 0, nil, fmt.Errorf("%w: header", errBadSnapshot)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return 0, nil, fmt.Errorf("%w: checksum", errBadSnapshot)
	}
	upTo = int64(binary.BigEndian.Uint64(body[8:]))
	n := binary.BigEndian.Uint32(body[16:])
	body = body[20:]
	ps = make(map[int64]*producerEntry)
	for ; n > 0; n-- {
		if len(body) < 19 {
			return 0, nil, fmt.Errorf("%w: truncated entry", errBadSnapshot)
		}
		id := int64(binary.BigEndian.Uint64(body))
		e := &producerEntry{epoch: int16(binary.BigEndian.Uint16(body[8:])), lastSeen: int64(binary.BigEndian.Uint64(body[10:]))}
		nb := int(body[18])
		body = body[19:]
		if nb > producerBatches || len(body) < nb*24 {
			return 0, nil, fmt.Errorf("%w: batches", errBadSnapshot)
		}
		for i := 0; i < nb; i++ {
			e.batches = append(e.batches, producerBatch{
				firstSeq:    int32(binary.BigEndian.Uint32(body)),
				lastSeq:     int32(binary.BigEndian.Uint32(body[4:])),
				firstOffset: int64(binary.BigEndian.Uint64(body[8:])),
				lastOffset:  int64(binary.BigEndian.Uint64(body[16:])),
			})
			body = body[24:]
		}
		ps[id] = e
	}
	if len(body) != 0 {
		return 0, nil, fmt.Errorf("%w: %d trailing bytes", errBadSnapshot, len(body))
	}
	return upTo, ps, nil
}

// saveProducersLocked writes the snapshot for the current log end.
func (l *Log) saveProducersLocked() error {
	leo := l.leo.Load()
	b := encodeProducers(leo, l.producers, l.now().UnixMilli())
	if err := writeFileAtomic(l.fs, filepath.Join(l.dir, producerSnapshotName), b); err != nil {
		return err
	}
	l.snapUpTo = leo
	return nil
}

// loadProducers restores producer state at Open: the snapshot, then the
// headers of every batch after the offset it covers.
func (l *Log) loadProducers() error {
	l.producers = make(map[int64]*producerEntry)
	l.snapUpTo = -1
	from := l.lso.Load()
	if b, err := readWholeFile(l.fs, filepath.Join(l.dir, producerSnapshotName)); err == nil {
		upTo, ps, derr := decodeProducers(b)
		switch {
		case derr != nil:
			l.logger.Warn("log: ignoring producer snapshot; rebuilding from the log", "dir", l.dir, "err", derr)
		case upTo > l.leo.Load():
			l.logger.Warn("log: producer snapshot is ahead of the log; rebuilding from the log", "dir", l.dir, "snapshot", upTo, "log_end", l.leo.Load())
		default:
			l.producers, from, l.snapUpTo = ps, max(from, upTo), upTo
		}
	}
	now := l.now().UnixMilli()
	for _, s := range l.segs {
		if s.next <= from || s.size == 0 {
			continue
		}
		pos := int64(0)
		if from > s.base {
			pos = lookupOffset(s.offIdx, uint32(from-s.base))
		}
		c := chunkReader{f: s.file, end: s.size, chunk: 64 << 10}
		for pos < s.size {
			pre, err := c.get(pos, min(offBaseSequence+4, s.size-pos))
			if err != nil || len(pre) < offBaseSequence+4 {
				return fmt.Errorf("log: replaying producer state in %s at %d: %v", s.path, pos, err)
			}
			h, err := parseBatchPrefix(pre)
			if err != nil {
				return err
			}
			if h.lastOffset() >= from {
				if id, epoch, first := batchProducer(pre); id >= 0 {
					l.applyProducerLocked(id, epoch, producerBatch{
						firstSeq: first, lastSeq: lastSequence(first, h.lastOffsetDelta),
						firstOffset: h.baseOffset, lastOffset: h.lastOffset(),
					}, now)
				}
			}
			pos += h.size
		}
	}
	return nil
}
