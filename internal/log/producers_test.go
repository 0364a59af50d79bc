package log

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// producerBatch returns a batch of n records from producer id at epoch,
// starting at sequence seq.
func idempotentBatch(tb testing.TB, n int, id int64, epoch int16, seq int32) []byte {
	b := simpleBatch(tb, n, 1000, 10)
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(id))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(seq))
	fixCRC(b)
	return b
}

func TestIdempotentProducer(t *testing.T) {
	fsys := NewMemFS()
	l := openLog(t, fsys, "p", Config{Fsync: FsyncNever})
	first := mustAppend(t, l, idempotentBatch(t, 3, 7, 0, 0))  // offsets 0-2, seq 0-2
	mustAppend(t, l, simpleBatch(t, 2, 1, 1))                  // non-idempotent: 3-4
	second := mustAppend(t, l, idempotentBatch(t, 2, 7, 0, 3)) // 5-6, seq 3-4

	// A retry of either batch is answered with its original offsets.
	for _, tc := range []struct {
		batch []byte
		want  AppendResult
	}{
		{idempotentBatch(t, 3, 7, 0, 0), first},
		{idempotentBatch(t, 2, 7, 0, 3), second},
	} {
		got := mustAppend(t, l, tc.batch)
		if !got.Duplicate || got.BaseOffset != tc.want.BaseOffset || got.LastOffset != tc.want.LastOffset {
			t.Fatalf("retry: got %+v, want offsets of %+v", got, tc.want)
		}
	}
	if leo := l.LogEndOffset(); leo != 7 {
		t.Fatalf("duplicates were written: log end %d", leo)
	}

	for _, tc := range []struct {
		name  string
		batch []byte
		want  error
	}{
		{"gap", idempotentBatch(t, 1, 7, 0, 9), ErrOutOfOrderSequence},
		{"old epoch", idempotentBatch(t, 1, 7, -1, 5), ErrInvalidEpoch},
		{"new epoch not at 0", idempotentBatch(t, 1, 7, 1, 5), ErrOutOfOrderSequence},
	} {
		if _, err := l.Append(tc.batch); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	mustAppend(t, l, idempotentBatch(t, 1, 7, 0, 5))  // in order: 7
	mustAppend(t, l, idempotentBatch(t, 1, 7, 1, 0))  // new epoch from 0: 8
	mustAppend(t, l, idempotentBatch(t, 1, 9, 0, 42)) // unknown producer may start anywhere: 9

	// State survives a clean restart (snapshot) and a crash (replay).
	for _, crash := range []bool{false, true} {
		if crash {
			l.Sync()
			fsys.Crash()
		} else {
			l.Close()
		}
		l = openLog(t, fsys, "p", Config{Fsync: FsyncNever})
		got := mustAppend(t, l, idempotentBatch(t, 1, 7, 1, 0))
		if !got.Duplicate || got.BaseOffset != 8 {
			t.Fatalf("crash=%v: retry after restart: %+v", crash, got)
		}
		if _, err := l.Append(idempotentBatch(t, 1, 9, 0, 44)); !errors.Is(err, ErrOutOfOrderSequence) {
			t.Fatalf("crash=%v: gap after restart: %v", crash, err)
		}
	}
	l.Close()
}

func TestSequenceWraps(t *testing.T) {
	l := openLog(t, NewMemFS(), "w", Config{Fsync: FsyncNever})
	mustAppend(t, l, idempotentBatch(t, 2, 1, 0, math.MaxInt32-1)) // seq MaxInt32-1 .. MaxInt32
	mustAppend(t, l, idempotentBatch(t, 1, 1, 0, 0))               // wraps to 0
	if _, err := l.Append(idempotentBatch(t, 1, 1, 0, 5)); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap after wrap: %v", err)
	}
	l.Close()
}

func TestOnlyFiveBatchesRemembered(t *testing.T) {
	l := openLog(t, NewMemFS(), "f", Config{Fsync: FsyncNever})
	for seq := int32(0); seq < 6; seq++ {
		mustAppend(t, l, idempotentBatch(t, 1, 3, 0, seq))
	}
	// The oldest batch (seq 0) is forgotten, so its retry is out of order.
	if _, err := l.Append(idempotentBatch(t, 1, 3, 0, 0)); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("retry of the sixth-newest batch: %v", err)
	}
	if got := mustAppend(t, l, idempotentBatch(t, 1, 3, 0, 1)); !got.Duplicate {
		t.Fatalf("retry of the fifth-newest batch: %+v", got)
	}
	l.Close()
}

func FuzzDecodeProducers(f *testing.F) {
	ps := map[int64]*producerEntry{1: {epoch: 2, lastSeen: 3, batches: []producerBatch{{1, 2, 3, 4}}}}
	f.Add(encodeProducers(10, ps, 0))
	f.Add(encodeProducers(0, nil, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		upTo, ps, err := decodeProducers(b)
		if err != nil {
			return
		}
		// What decodes survives a round trip (nothing expires when now is
		// the newest lastSeen).
		now := int64(math.MinInt64)
		for _, e := range ps {
			now = max(now, e.lastSeen)
		}
		upTo2, ps2, err := decodeProducers(encodeProducers(upTo, ps, now))
		if err != nil || upTo2 != upTo || len(ps2) != len(ps) {
			t.Fatalf("round trip: %v, %d entries of %d", err, len(ps2), len(ps))
		}
		for id, e := range ps {
			e2 := ps2[id]
			if e2 == nil || e2.epoch != e.epoch || e2.lastSeen != e.lastSeen || len(e2.batches) != len(e.batches) {
				t.Fatalf("producer %d differs after a round trip", id)
			}
		}
	})
}
