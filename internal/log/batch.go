package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// RecordBatch v2 header layout (all big endian). Only baseOffset and
// partitionLeaderEpoch lie outside the CRC, which covers attributes..end.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offNumRecords      = 57
	batchHeaderLen     = 61 // bytes before the first record
	// batchPrefixLen is what must be read to know a batch's offsets,
	// extent and max timestamp.
	batchPrefixLen = offMaxTimestamp + 8
)

// Attribute bits.
const (
	attrCodecMask     = 0x07
	attrLogAppendTime = 0x08
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchHeader is the part of a batch header the log needs.
type batchHeader struct {
	baseOffset      int64
	size            int64 // whole batch, including the 12-byte prefix
	magic           int8
	attributes      int16
	lastOffsetDelta int32
	firstTimestamp  int64
	maxTimestamp    int64
}

func (h *batchHeader) lastOffset() int64 { return h.baseOffset + int64(h.lastOffsetDelta) }

// parseBatchPrefix reads the first batchPrefixLen bytes of a batch. It checks
// only that the length field is plausible; it does not check the CRC.
func parseBatchPrefix(b []byte) (batchHeader, error) {
	var h batchHeader
	if len(b) < batchPrefixLen {
		return h, fmt.Errorf("%w: %d-byte batch header", ErrCorrupt, len(b))
	}
	n := int32(binary.BigEndian.Uint32(b[offLength:]))
	if n < batchHeaderLen-12 {
		return h, fmt.Errorf("%w: batch length %d", ErrCorrupt, n)
	}
	h.baseOffset = int64(binary.BigEndian.Uint64(b[offBaseOffset:]))
	h.size = int64(n) + 12
	h.magic = int8(b[offMagic])
	h.attributes = int16(binary.BigEndian.Uint16(b[offAttributes:]))
	h.lastOffsetDelta = int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:]))
	h.firstTimestamp = int64(binary.BigEndian.Uint64(b[offFirstTimestamp:]))
	h.maxTimestamp = int64(binary.BigEndian.Uint64(b[offMaxTimestamp:]))
	return h, nil
}

// validateBatch checks the batch at the start of b and returns its header.
// maxBytes <= 0 means no size limit (recovery). The order of checks follows
// Kafka: framing, size, magic, CRC, record count.
func validateBatch(b []byte, maxBytes int32) (batchHeader, error) {
	if len(b) < 12 {
		return batchHeader{}, fmt.Errorf("%w: truncated batch (%d bytes)", ErrCorrupt, len(b))
	}
	n := int32(binary.BigEndian.Uint32(b[offLength:]))
	if n < batchHeaderLen-12 {
		return batchHeader{}, fmt.Errorf("%w: batch length %d", ErrCorrupt, n)
	}
	size := int64(n) + 12
	if maxBytes > 0 && size > int64(maxBytes) {
		return batchHeader{}, fmt.Errorf("%w: %d-byte batch, limit %d", ErrMessageTooLarge, size, maxBytes)
	}
	if int64(len(b)) < size {
		return batchHeader{}, fmt.Errorf("%w: batch of %d bytes truncated to %d", ErrCorrupt, size, len(b))
	}
	h, _ := parseBatchPrefix(b)
	if h.magic != 2 {
		return h, fmt.Errorf("%w: magic %d", ErrUnsupportedMagic, h.magic)
	}
	want := binary.BigEndian.Uint32(b[offCRC:])
	if got := crc32.Checksum(b[offAttributes:size], castagnoli); got != want {
		return h, fmt.Errorf("%w: crc %08x, want %08x", ErrCorrupt, got, want)
	}
	count := int32(binary.BigEndian.Uint32(b[offNumRecords:]))
	switch {
	case count < 1:
		return h, fmt.Errorf("%w: %d records", ErrInvalidRecord, count)
	case h.lastOffsetDelta != count-1:
		return h, fmt.Errorf("%w: lastOffsetDelta %d with %d records", ErrInvalidRecord, h.lastOffsetDelta, count)
	case h.attributes&attrCodecMask > 4:
		return h, fmt.Errorf("%w: compression codec %d", ErrInvalidRecord, h.attributes&attrCodecMask)
	}
	return h, nil
}

// validateBatches validates every batch in b and returns their count, the
// number of offsets they take, and the largest MaxTimestamp.
func validateBatches(b []byte, maxBytes int32) (nbatch int, records int64, maxTs int64, err error) {
	if len(b) == 0 {
		return 0, 0, 0, fmt.Errorf("%w: no record batches", ErrInvalidRecord)
	}
	maxTs = math.MinInt64
	for len(b) > 0 {
		h, err := validateBatch(b, maxBytes)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("batch %d: %w", nbatch, err)
		}
		nbatch++
		records += int64(h.lastOffsetDelta) + 1
		maxTs = max(maxTs, h.maxTimestamp)
		b = b[h.size:]
	}
	return nbatch, records, maxTs, nil
}

// stampBatch sets the batch's base offset and leader epoch in place; both
// lie outside the CRC.
func stampBatch(b []byte, baseOffset int64) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(baseOffset))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], 0)
}

// stampAppendTime marks every batch as LogAppendTime with maxTimestamp ts
// and recomputes its CRC. The batches have been validated.
func stampAppendTime(b []byte, ts int64) {
	for len(b) > 0 {
		size := int(binary.BigEndian.Uint32(b[offLength:])) + 12
		attrs := binary.BigEndian.Uint16(b[offAttributes:])
		binary.BigEndian.PutUint16(b[offAttributes:], attrs|attrLogAppendTime)
		binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
		binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:size], castagnoli))
		b = b[size:]
	}
}
