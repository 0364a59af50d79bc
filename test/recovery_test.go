package test

import (
	"context"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// segmentNameRE is a segment file's name: its base offset in 20 digits.
var segmentNameRE = regexp.MustCompile(`^[0-9]{20}\.log$`)

// lastSegment returns the newest non-empty segment file of topic under dir,
// found by walking the data dir (not by knowing its layout).
func lastSegment(t *testing.T, dir, topic string) string {
	t.Helper()
	var segs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && segmentNameRE.MatchString(d.Name()) && strings.Contains(path, topic) {
			if info, err := d.Info(); err == nil && info.Size() > 0 {
				segs = append(segs, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) == 0 {
		t.Fatalf("no non-empty NNNNNNNNNNNNNNNNNNNN.log segment of topic %q under %s", topic, dir)
	}
	slices.SortFunc(segs, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	return segs[len(segs)-1]
}

// batchPos is where one RecordBatch lies in a segment file.
type batchPos struct {
	start, size int   // bytes: offset in the file, whole batch length
	base, last  int64 // first and last offset in the batch
}

// scanBatches splits a segment file into RecordBatch v2 frames
// (baseOffset int64, batchLength int32, …, magic at byte 16, lastOffsetDelta
// at byte 23), returning how many trailing bytes are not a whole batch.
func scanBatches(data []byte) (batches []batchPos, rest int) {
	pos := 0
	for len(data)-pos >= 61 {
		n := int(int32(binary.BigEndian.Uint32(data[pos+8:])))
		if n < 49 || pos+12+n > len(data) || data[pos+16] != 2 {
			break
		}
		base := int64(binary.BigEndian.Uint64(data[pos:]))
		delta := int64(int32(binary.BigEndian.Uint32(data[pos+23:])))
		batches = append(batches, batchPos{start: pos, size: 12 + n, base: base, last: base + delta})
		pos += 12 + n
	}
	return batches, len(data) - pos
}

// tornCase damages the last segment of a cleanly shut down log and returns
// the end offset the recovered log must have.
type tornCase struct {
	name   string
	damage func(t *testing.T, path string, last batchPos) (end int64)
}

var tornCases = []tornCase{
	{"truncate-mid-batch", func(t *testing.T, path string, last batchPos) int64 {
		mustTruncate(t, path, int64(last.start+last.size/2))
		return last.base
	}},
	{"truncate-mid-header", func(t *testing.T, path string, last batchPos) int64 {
		mustTruncate(t, path, int64(last.start+7))
		return last.base
	}},
	// A crash that left the last batch damaged before any index covered it:
	// after a clean shutdown the broker may trust indexed bytes without
	// reading them (as Kafka does), so the indexes go too.
	{"flip-byte-in-unindexed-batch", func(t *testing.T, path string, last batchPos) int64 {
		removeSiblings(t, path)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		at := int64(last.start + 61 + (last.size-61)/2) // inside the records, covered by the CRC
		var b [1]byte
		if _, err := f.ReadAt(b[:], at); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0xff
		if _, err := f.WriteAt(b[:], at); err != nil {
			t.Fatal(err)
		}
		return last.base
	}},
	{"zeroed-tail", func(t *testing.T, path string, last batchPos) int64 {
		// What a crash leaves after a preallocated or half-flushed tail.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			t.Fatal(err)
		}
		return last.last + 1
	}},
}

// removeSiblings removes the files next to segment path that share its
// base-offset stem (its indexes, whatever their names), keeping the segment.
func removeSiblings(t *testing.T, path string) {
	t.Helper()
	stem := strings.TrimSuffix(path, ".log")
	others, err := filepath.Glob(stem + ".*")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range others {
		if o != path {
			if err := os.Remove(o); err != nil {
				t.Fatal(err)
			}
			t.Logf("removed %s", filepath.Base(o))
		}
	}
}

func mustTruncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// truncationLogRE matches the warning a recovery must log when it drops a
// damaged tail.
var truncationLogRE = regexp.MustCompile(`(?i)level=(WARN|ERROR)\b.*truncat|truncat.*level=(WARN|ERROR)\b`)

// TestTornTailRecovery shuts a broker down cleanly, damages the tail of the
// last segment (cut mid-batch, cut mid-header, a flipped byte, a zeroed
// tail), restarts it, and checks that it starts, warns about the
// truncation, serves exactly the valid prefix, appends after it, and keeps
// all of that across another restart.
func TestTornTailRecovery(t *testing.T) {
	t.Parallel()
	const topic, n, extra = "torn", 300, 10
	forEachMode(t, func(t *testing.T, m mode) {
		if m.name == "kfake" {
			t.Skip("kfake's data dir has another layout")
		}
		for _, tc := range tornCases {
			t.Run(tc.name, func(t *testing.T) {
				s := m.start(t, "", serverOpts{})
				createTopic(t, s.Addr(), topic, 1)
				recs := makeRecords(topic, n+extra)
				produceKgoBatches(t, s.Addr(), topic, recs[:n], 10)
				for i, r := range recs[:n] {
					if r.Partition != 0 || r.Offset != int64(i) {
						t.Fatalf("record %d acknowledged at p%d@%d, want p0@%d", i, r.Partition, r.Offset, i)
					}
				}
				s.Stop(t)

				path := lastSegment(t, s.Dir(), topic)
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				batches, rest := scanBatches(data)
				if rest != 0 || len(batches) < 2 {
					t.Fatalf("%s (%d bytes) is not a sequence of RecordBatch v2 frames as received: %d batches, %d bytes left over", path, len(data), len(batches), rest)
				}
				last := batches[len(batches)-1]
				end := tc.damage(t, path, last)
				t.Logf("%s: %d batches; damaged the last (offsets %d-%d, %d bytes at %d); the valid prefix ends at %d",
					filepath.Base(path), len(batches), last.base, last.last, last.size, last.start, end)

				s.Start(t)
				warned := len(s.Logs().Grep(truncationLogRE))
				if warned == 0 {
					t.Errorf("no warning about truncation logged on recovery; log:\n%s", s.Logs().Tail(30))
				}
				if _, ends := offsets(t, s.Addr(), topic); ends[0] != end {
					t.Errorf("end offset after recovery %d, want %d", ends[0], end)
				}
				checkRecords(t, recs[:end], consumeKgo(t, s.Addr(), topic), checkOpts{codec: 0})

				// Appends continue right after the valid prefix.
				more := recs[n:]
				produceKgoBatches(t, s.Addr(), topic, more, extra)
				if more[0].Offset != end {
					t.Errorf("first record after recovery acknowledged at offset %d, want %d", more[0].Offset, end)
				}
				want := append(slices.Clone(recs[:end]), more...)
				checkRecords(t, want, consumeKgo(t, s.Addr(), topic), checkOpts{codec: 0})

				// A clean restart keeps all of it and has nothing to repair.
				s.Restart(t)
				checkRecords(t, want, consumeKgo(t, s.Addr(), topic), checkOpts{codec: 0})
				if again := s.Logs().Grep(truncationLogRE); len(again) > warned {
					t.Errorf("truncation logged again after a clean restart: %q", again[warned:])
				}
			})
		}
	})
}

// produceKgoBatches produces recs uncompressed, per at a time with no linger,
// so the log holds many small batches, and fills in partitions and offsets.
func produceKgoBatches(t *testing.T, addr, topic string, recs []rec, per int) {
	t.Helper()
	cl := newKgo(t, addr,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerLinger(0),
	)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	for i := 0; i < len(recs); i += per {
		group := recs[i:min(i+per, len(recs))]
		krs := make([]*kgo.Record, len(group))
		for j, r := range group {
			krs[j] = toKgo(topic, r)
		}
		if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
			t.Fatalf("produce records %d..%d to %s: %v", i, i+len(group)-1, topic, err)
		}
		for j, kr := range krs {
			group[j].Partition, group[j].Offset = kr.Partition, kr.Offset
		}
	}
}
