package log

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchSpec describes a test batch.
type batchSpec struct {
	timestamps []int64 // one record per timestamp
	codec      kgo.CompressionCodec
	compress   bool
	appendTime bool // LogAppendTime: MaxTimestamp applies to every record
	maxTs      int64
	valueSize  int
}

// makeBatch encodes a valid RecordBatch v2 with one record per timestamp.
func makeBatch(tb testing.TB, spec batchSpec) []byte {
	tb.Helper()
	if len(spec.timestamps) == 0 {
		tb.Fatal("makeBatch: no records")
	}
	first, maxTs := spec.timestamps[0], spec.timestamps[0]
	for _, ts := range spec.timestamps {
		first, maxTs = min(first, ts), max(maxTs, ts)
	}
	if spec.appendTime {
		maxTs = spec.maxTs
	}
	var raw []byte
	for i, ts := range spec.timestamps {
		r := kmsg.Record{
			TimestampDelta64: ts - first,
			OffsetDelta:      int32(i),
			Key:              fmt.Appendf(nil, "k%d", i),
			Value:            bytes.Repeat([]byte{byte('a' + i%26)}, max(spec.valueSize, 1)),
		}
		body := r.AppendTo(nil) // with Length 0, which is one varint byte
		r.Length = int32(len(body) - 1)
		raw = r.AppendTo(raw)
	}
	var attrs int16
	if spec.compress {
		c, err := kgo.DefaultCompressor(spec.codec)
		if err != nil {
			tb.Fatal(err)
		}
		var buf bytes.Buffer
		out, typ := c.Compress(&buf, raw)
		raw = append([]byte(nil), out...)
		attrs |= int16(typ)
	}
	if spec.appendTime {
		attrs |= attrLogAppendTime
	}
	rb := kmsg.RecordBatch{
		Magic: 2, Attributes: attrs, LastOffsetDelta: int32(len(spec.timestamps) - 1),
		FirstTimestamp: first, MaxTimestamp: maxTs, ProducerID: -1, ProducerEpoch: -1,
		FirstSequence: -1, NumRecords: int32(len(spec.timestamps)), Records: raw,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-12))
	fixCRC(b)
	return b
}

func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
}

// simpleBatch is a batch of n records with timestamps ts, ts+1, ...
func simpleBatch(tb testing.TB, n int, ts int64, valueSize int) []byte {
	tss := make([]int64, n)
	for i := range tss {
		tss[i] = ts + int64(i)
	}
	return makeBatch(tb, batchSpec{timestamps: tss, valueSize: valueSize})
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testLogger sends log output to t.Log.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func openLog(tb testing.TB, fsys FS, dir string, cfg Config) *Log {
	tb.Helper()
	l, err := Open(fsys, dir, cfg, testLogger(tb))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return l
}

func mustAppend(tb testing.TB, l *Log, b []byte) AppendResult {
	tb.Helper()
	res, err := l.Append(b)
	if err != nil {
		tb.Fatalf("Append: %v", err)
	}
	return res
}

// readAll returns every visible batch from offset on, checking each one.
func readAll(tb testing.TB, l *Log, from int64) [][]byte {
	tb.Helper()
	var out [][]byte
	for off := from; off < l.HighWatermark(); {
		v, err := l.Read(off, 1<<20, true)
		if err != nil {
			tb.Fatalf("Read(%d): %v", off, err)
		}
		if v.Len() == 0 {
			tb.Fatalf("Read(%d): empty below HW %d\n%s", off, l.HighWatermark(), l.dump())
		}
		b, err := v.AppendTo(nil)
		v.Release()
		if err != nil {
			tb.Fatal(err)
		}
		for len(b) > 0 {
			h, err := validateBatch(b, 0)
			if err != nil {
				tb.Fatalf("read back a bad batch at offset %d: %v", off, err)
			}
			if h.lastOffset() < off {
				tb.Fatalf("batch %d..%d before requested %d", h.baseOffset, h.lastOffset(), off)
			}
			out = append(out, b[:h.size])
			off = h.lastOffset() + 1
			b = b[h.size:]
		}
	}
	return out
}
