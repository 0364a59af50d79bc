package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Fuzz modes for FuzzRecover: where the fuzzed bytes go.
const (
	fuzzTail       = iota // appended to the active segment after valid batches
	fuzzSegment           // the whole content of a second segment
	fuzzOffIndex          // the active segment's .index after a clean close
	fuzzTimeIndex         // the active segment's .timeindex after a clean close
	fuzzCheckpoint        // the log start checkpoint
	fuzzModes
)

func FuzzRecover(f *testing.F) {
	valid := simpleBatch(f, 3, 100, 20)
	stamped := append([]byte(nil), valid...)
	stampBatch(stamped, 9) // the next offset after the 3 fixed batches
	seg := simpleBatch(f, 2, 100, 5)
	stampBatch(seg, 9)
	f.Add([]byte{}, uint8(fuzzTail))
	f.Add(stamped, uint8(fuzzTail))
	f.Add(stamped[:40], uint8(fuzzTail))
	f.Add(append(append([]byte(nil), stamped...), 0, 0, 0), uint8(fuzzTail))
	f.Add(bytes.Repeat([]byte{0xff}, 100), uint8(fuzzTail))
	f.Add(seg, uint8(fuzzSegment))
	f.Add(append(append([]byte(nil), seg...), seg[:30]...), uint8(fuzzSegment))
	f.Add(encodeOffIndex(segMeta{cleanSize: 50, next: 3}, []offEntry{{1, 10}}), uint8(fuzzOffIndex))
	f.Add(encodeOffIndex(segMeta{cleanSize: 1 << 20, next: 3}, nil), uint8(fuzzOffIndex))
	f.Add(encodeTimeIndex(0, []timeEntry{{5, 1, 10}}), uint8(fuzzTimeIndex))
	f.Add(encodeCheckpoint(4), uint8(fuzzCheckpoint))
	f.Add(encodeCheckpoint(1000), uint8(fuzzCheckpoint))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		mode %= fuzzModes
		fsys := NewMemFS()
		cfg := Config{Fsync: FsyncNever, IndexIntervalBytes: 64}
		l, err := Open(fsys, "/d", cfg, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		var want [][]byte
		for range 3 {
			b := simpleBatch(t, 3, 100, 20)
			mustAppend(t, l, b)
			want = append(want, b)
		}
		write := func(name string, b []byte, at int64) {
			f, err := fsys.OpenFile(filepath.Join("/d", name), os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			if at < 0 {
				f.Truncate(0)
				at = 0
			}
			f.WriteAt(b, at)
			f.Close()
		}
		switch mode {
		case fuzzTail:
			l.close(false)
			write(segmentName(0), data, l.Size())
		case fuzzSegment:
			l.close(false)
			write(segmentName(9), data, -1)
		case fuzzOffIndex, fuzzTimeIndex:
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			ext := ".index"
			if mode == fuzzTimeIndex {
				ext = ".timeindex"
			}
			write(segmentName(0)[:20]+ext, data, -1)
		case fuzzCheckpoint:
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			write(checkpointName, data, -1)
		}

		l, err = Open(fsys, "/d", cfg, quietLogger())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer l.Close()
		got := readAll(t, l, l.LogStartOffset())
		if mode != fuzzCheckpoint {
			if l.LogStartOffset() != 0 || len(got) < len(want) {
				t.Fatalf("lost valid batches: start %d, %d batches", l.LogStartOffset(), len(got))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("batch %d changed", i)
				}
			}
		}
		if _, _, err := l.OffsetForTimestamp(0); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("OffsetForTimestamp: %v", err)
		}
		if _, _, err := l.MaxTimestamp(); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("MaxTimestamp: %v", err)
		}
		leo := l.LogEndOffset()
		if res, err := l.Append(simpleBatch(t, 1, 1, 1)); err != nil || res.BaseOffset != leo {
			t.Fatalf("append after recovery: %+v %v", res, err)
		}
	})
}

func FuzzAppend(f *testing.F) {
	f.Add(simpleBatch(f, 1, 1, 1), false)
	f.Add(simpleBatch(f, 5, 1000, 30), false)
	two := append(simpleBatch(f, 2, 5, 5), simpleBatch(f, 3, 7, 5)...)
	f.Add(two, false)
	f.Add(two[:len(two)-5], false)
	f.Add(makeBatch(f, batchSpec{timestamps: []int64{3, 1, 2}, codec: kgo.GzipCompression(), compress: true}), false)
	f.Add(makeBatch(f, batchSpec{timestamps: []int64{3, 1}, appendTime: true, maxTs: 9}), false)
	bad := simpleBatch(f, 2, 1, 10)
	bad[offMagic] = 1
	f.Add(bad, false)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 49}, false)
	f.Add(simpleBatch(f, 2, 1, 1)[:70], true)
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		// fix makes the framing, magic and CRC right so the fuzzer reaches
		// record decoding (OffsetForTimestamp) instead of stopping at the CRC.
		if fix && len(data) >= batchHeaderLen {
			data = append([]byte(nil), data...)
			binary.BigEndian.PutUint32(data[offLength:], uint32(len(data)-12))
			data[offMagic] = 2
			fixCRC(data)
		}
		l, err := Open(NewMemFS(), "/d", Config{Fsync: FsyncNever, MaxBatchBytes: 1 << 16, IndexIntervalBytes: 32}, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		mustAppend(t, l, simpleBatch(t, 2, 1, 3))
		in := append([]byte(nil), data...)
		res, err := l.Append(in)
		if err != nil {
			if l.LogEndOffset() != 2 || len(readAll(t, l, 0)) != 1 {
				t.Fatalf("rejected append (%v) changed the log", err)
			}
			return
		}
		if res.BaseOffset != 2 || res.LastOffset != l.LogEndOffset()-1 {
			t.Fatalf("result %+v, LEO %d", res, l.LogEndOffset())
		}
		got := readAll(t, l, 2)
		if !bytes.Equal(bytes.Join(got, nil), in) {
			t.Fatal("read back differs from the stamped input")
		}
		l.OffsetForTimestamp(res.MaxTimestamp)
		l.MaxTimestamp()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
