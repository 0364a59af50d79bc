package log

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var policies = []FsyncPolicy{FsyncAlways, FsyncInterval, FsyncNever}

func TestAppendReadRoundTrip(t *testing.T) {
	for _, fsName := range []string{"mem", "os"} {
		for _, p := range policies {
			t.Run(fsName+"/"+p.String(), func(t *testing.T) {
				var fsys FS = NewMemFS()
				dir := "/data/p0"
				if fsName == "os" {
					fsys, dir = OSFS, filepath.Join(t.TempDir(), "p0")
				}
				l := openLog(t, fsys, dir, Config{Fsync: p, IndexIntervalBytes: 256})
				defer l.Close()
				var want [][]byte
				next := int64(0)
				for i := range 50 {
					b := simpleBatch(t, 1+i%5, int64(1000+i), 40)
					b[0] = 0xff // a client's junk base offset is overwritten
					res := mustAppend(t, l, b)
					if res.BaseOffset != next || res.LastOffset != next+int64(1+i%5)-1 {
						t.Fatalf("append %d: got %+v, want base %d", i, res, next)
					}
					next = res.LastOffset + 1
					want = append(want, append([]byte(nil), b...))
				}
				if err := l.WaitDurable(context.Background(), next); err != nil {
					t.Fatal(err)
				}
				if err := l.Sync(); err != nil {
					t.Fatal(err)
				}
				if l.LogEndOffset() != next || l.HighWatermark() != next {
					t.Fatalf("LEO %d HW %d, want %d", l.LogEndOffset(), l.HighWatermark(), next)
				}
				check := func(l *Log) {
					t.Helper()
					got := readAll(t, l, 0)
					if len(got) != len(want) {
						t.Fatalf("read %d batches, want %d", len(got), len(want))
					}
					off := int64(0)
					for i := range got {
						if !bytes.Equal(got[i], want[i]) {
							t.Fatalf("batch %d differs", i)
						}
						h, _ := parseBatchPrefix(got[i])
						if h.baseOffset != off {
							t.Fatalf("batch %d base %d, want %d", i, h.baseOffset, off)
						}
						off = h.lastOffset() + 1
					}
					// Every offset is served starting with its batch.
					for o := range next {
						v, err := l.Read(o, 1, true)
						if err != nil {
							t.Fatal(err)
						}
						b, _ := v.AppendTo(nil)
						v.Release()
						h, err := validateBatch(b, 0)
						if err != nil || h.baseOffset > o || h.lastOffset() < o || int64(len(b)) != h.size {
							t.Fatalf("Read(%d): batch %d..%d, %d bytes, err %v", o, h.baseOffset, h.lastOffset(), len(b), err)
						}
					}
				}
				check(l)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				l2 := openLog(t, fsys, dir, Config{Fsync: p, IndexIntervalBytes: 256})
				defer l2.Close()
				if l2.LogEndOffset() != next {
					t.Fatalf("reopened LEO %d, want %d", l2.LogEndOffset(), next)
				}
				check(l2)
			})
		}
	}
}

func TestReadBounds(t *testing.T) {
	l := openLog(t, NewMemFS(), "/d", Config{Fsync: FsyncNever})
	defer l.Close()
	b1 := simpleBatch(t, 3, 1, 100) // offsets 0..2
	b2 := simpleBatch(t, 2, 1, 100) // offsets 3..4
	mustAppend(t, l, b1)
	mustAppend(t, l, b2)
	n1, n2 := int32(len(b1)), int32(len(b2))
	tests := []struct {
		name     string
		offset   int64
		maxBytes int32
		minOne   bool
		wantLen  int
		wantErr  error
	}{
		{"all", 0, 1 << 20, false, int(n1 + n2), nil},
		{"mid first batch", 1, 1 << 20, false, int(n1 + n2), nil},
		{"second batch", 3, 1 << 20, false, int(n2), nil},
		{"exactly one", 0, n1, false, int(n1), nil},
		{"one and a bit", 0, n1 + n2 - 1, false, int(n1), nil},
		{"kip74 too small, minOne", 0, 10, true, int(n1), nil},
		{"kip74 too small, no minOne", 0, 10, false, 0, nil},
		{"zero maxBytes minOne", 3, 0, true, int(n2), nil},
		{"at LEO", 5, 1 << 20, true, 0, nil},
		{"past LEO", 6, 1 << 20, true, 0, ErrOffsetOutOfRange},
		{"negative", -1, 1 << 20, true, 0, ErrOffsetOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := l.Read(tt.offset, tt.maxBytes, tt.minOne)
			defer v.Release()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if v.Len() != tt.wantLen {
				t.Fatalf("len %d, want %d", v.Len(), tt.wantLen)
			}
		})
	}
}

// slowSyncFS makes every file Sync take d, like a disk.
type slowSyncFS struct {
	*MemFS
	d time.Duration
}

type slowSyncFile struct {
	File
	d time.Duration
}

func (s slowSyncFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := s.MemFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return slowSyncFile{f, s.d}, nil
}

func (f slowSyncFile) Sync() error {
	time.Sleep(f.d)
	return f.File.Sync()
}

// blockingFS holds every file Sync until release is closed.
type blockingFS struct {
	*MemFS
	release chan struct{}
}

type blockingFile struct {
	File
	release chan struct{}
}

func (b blockingFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := b.MemFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return blockingFile{f, b.release}, nil
}

func (f blockingFile) Sync() error {
	<-f.release
	return f.File.Sync()
}

func TestHighWatermarkPolicies(t *testing.T) {
	for _, p := range policies {
		t.Run(p.String(), func(t *testing.T) {
			fsys := blockingFS{NewMemFS(), make(chan struct{})}
			l := openLog(t, fsys, "/d", Config{Fsync: p, FsyncInterval: time.Hour})
			wait := l.Wait()
			res := mustAppend(t, l, simpleBatch(t, 4, 1, 10))
			if l.LogEndOffset() != 4 {
				t.Fatalf("LEO %d", l.LogEndOffset())
			}
			if p == FsyncAlways {
				if hw := l.HighWatermark(); hw != 0 {
					t.Fatalf("HW %d before fsync, want 0", hw)
				}
				if v, err := l.Read(0, 1<<20, true); err != nil || v.Len() != 0 {
					t.Fatalf("read above HW: len %d err %v", v.Len(), err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				if err := l.WaitDurable(ctx, res.LastOffset+1); !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("WaitDurable before fsync: %v", err)
				}
				cancel()
				close(fsys.release)
				if err := l.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
					t.Fatal(err)
				}
			} else if err := l.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
				t.Fatal(err)
			}
			select {
			case <-wait:
			case <-time.After(5 * time.Second):
				t.Fatal("Wait channel not closed after HW advanced")
			}
			if hw := l.HighWatermark(); hw != 4 {
				t.Fatalf("HW %d, want 4", hw)
			}
			if p != FsyncAlways {
				close(fsys.release)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := l.WaitDurable(context.Background(), 100); p == FsyncAlways && !errors.Is(err, ErrClosed) {
				t.Fatalf("WaitDurable after Close: %v", err)
			}
			if _, err := l.Append(simpleBatch(t, 1, 1, 1)); !errors.Is(err, ErrClosed) {
				t.Fatalf("Append after Close: %v", err)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
		})
	}
}

func segmentFiles(t *testing.T, fsys FS, dir string) []string {
	t.Helper()
	names, err := fsys.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, n := range names {
		if _, ok := parseSegmentName(n); ok {
			segs = append(segs, n)
		}
	}
	return segs
}

func TestRollBySizeAndAge(t *testing.T) {
	fsys := NewMemFS()
	b := simpleBatch(t, 2, 1, 100)
	l := openLog(t, fsys, "/d", Config{Fsync: FsyncNever, SegmentBytes: int64(3 * len(b)), SegmentAge: time.Hour})
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	for range 7 {
		mustAppend(t, l, append([]byte(nil), b...))
	}
	if got := segmentFiles(t, fsys, "/d"); len(got) != 3 {
		t.Fatalf("segments %v, want 3 (3+3+1 batches)", got)
	}
	now = now.Add(2 * time.Hour)
	mustAppend(t, l, append([]byte(nil), b...))
	segs := segmentFiles(t, fsys, "/d")
	if len(segs) != 4 || segs[3] != segmentName(14) {
		t.Fatalf("segments %v, want a 4th at offset 14 after SegmentAge", segs)
	}
	// EnforceRetention rolls an old active segment too.
	if err := l.EnforceRetention(now.Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if segs := segmentFiles(t, fsys, "/d"); len(segs) != 5 {
		t.Fatalf("segments %v, want 5", segs)
	}
	if got := readAll(t, l, 0); len(got) != 8 {
		t.Fatalf("read %d batches, want 8", len(got))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, fsys, "/d", Config{Fsync: FsyncNever})
	defer l.Close()
	if got := readAll(t, l, 0); len(got) != 8 || l.LogEndOffset() != 16 {
		t.Fatalf("after reopen read %d batches, LEO %d", len(got), l.LogEndOffset())
	}
}

func TestRetention(t *testing.T) {
	const hour = int64(time.Hour / time.Millisecond)
	b := func(ts int64) []byte { return simpleBatch(t, 1, ts, 100) }
	size := int64(len(b(0)))
	t.Run("age", func(t *testing.T) {
		fsys := NewMemFS()
		l := openLog(t, fsys, "/d", Config{Fsync: FsyncNever, SegmentBytes: 2 * size, RetentionAge: 2 * time.Hour})
		defer l.Close()
		for i := range 6 { // segments [0,1] [2,3] [4,5], timestamps i hours
			mustAppend(t, l, b(int64(i)*hour))
		}
		// At 4h30m the first segment (max 1h) is older than 2h, the second (max 3h) is not.
		if err := l.EnforceRetention(time.UnixMilli(4*hour + hour/2)); err != nil {
			t.Fatal(err)
		}
		if lso := l.LogStartOffset(); lso != 2 {
			t.Fatalf("log start %d, want 2", lso)
		}
		if _, err := l.Read(1, 1000, true); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("read deleted offset: %v", err)
		}
		if l.Size() != 4*size {
			t.Fatalf("size %d, want %d", l.Size(), 4*size)
		}
		// Everything expired: the active segment is rolled and deleted too.
		if err := l.EnforceRetention(time.UnixMilli(100 * hour)); err != nil {
			t.Fatal(err)
		}
		if l.LogStartOffset() != 6 || l.LogEndOffset() != 6 || l.Size() != 0 {
			t.Fatalf("start %d end %d size %d, want 6 6 0", l.LogStartOffset(), l.LogEndOffset(), l.Size())
		}
		if segs := segmentFiles(t, fsys, "/d"); len(segs) != 1 || segs[0] != segmentName(6) {
			t.Fatalf("segments %v", segs)
		}
		res := mustAppend(t, l, b(0))
		if res.BaseOffset != 6 {
			t.Fatalf("append after full deletion at %d", res.BaseOffset)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		fsys := NewMemFS()
		l := openLog(t, fsys, "/d", Config{Fsync: FsyncNever, SegmentBytes: 2 * size, RetentionBytes: 3 * size, RetentionAge: -1})
		defer l.Close()
		for i := range 7 {
			mustAppend(t, l, b(int64(i)))
		}
		if err := l.EnforceRetention(time.Now()); err != nil {
			t.Fatal(err)
		}
		// 7 batches in [0,1] [2,3] [4,5] [6]; keeping <= 3 batches' bytes leaves [4,5] [6].
		if l.LogStartOffset() != 4 || l.Size() != 3*size {
			t.Fatalf("start %d size %d", l.LogStartOffset(), l.Size())
		}
	})
	t.Run("view pins deleted segment", func(t *testing.T) {
		l := openLog(t, NewMemFS(), "/d", Config{Fsync: FsyncNever, SegmentBytes: size, RetentionBytes: size, RetentionAge: -1})
		defer l.Close()
		want := b(42)
		mustAppend(t, l, want)
		mustAppend(t, l, b(43))
		v, err := l.Read(0, 1<<20, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.EnforceRetention(time.Now()); err != nil {
			t.Fatal(err)
		}
		if l.LogStartOffset() != 1 {
			t.Fatalf("start %d", l.LogStartOffset())
		}
		got, err := v.AppendTo(nil)
		v.Release()
		v.Release()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("pinned view after deletion: %v", err)
		}
	})
}

func TestDeleteRecords(t *testing.T) {
	fsys := NewMemFS()
	b := simpleBatch(t, 2, 1, 50)
	cfg := Config{Fsync: FsyncAlways, SegmentBytes: int64(2 * len(b))}
	l := openLog(t, fsys, "/d", cfg)
	for range 5 { // offsets 0..9, segments [0..3] [4..7] [8,9]
		res := mustAppend(t, l, append([]byte(nil), b...))
		if err := l.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.DeleteRecords(11); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("delete past HW: %v", err)
	}
	lso, err := l.DeleteRecords(5)
	if err != nil || lso != 5 {
		t.Fatalf("DeleteRecords(5) = %d, %v", lso, err)
	}
	if lso, _ := l.DeleteRecords(3); lso != 5 {
		t.Fatalf("moving back: %d", lso)
	}
	if segs := segmentFiles(t, fsys, "/d"); len(segs) != 2 || segs[0] != segmentName(4) {
		t.Fatalf("segments %v", segs)
	}
	if _, err := l.Read(4, 100, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below start: %v", err)
	}
	// Reading the start offset returns its whole batch (4..5).
	v, err := l.Read(5, 1<<20, true)
	if err != nil || v.Len() != 2*len(b) {
		t.Fatalf("read at start: %d %v", v.Len(), err)
	}
	v.Release()
	// Survives a crash: the checkpoint was fsynced.
	fsys.Crash()
	l.Close()
	l = openLog(t, fsys, "/d", cfg)
	if l.LogStartOffset() != 5 || l.LogEndOffset() != 10 {
		t.Fatalf("after crash start %d end %d", l.LogStartOffset(), l.LogEndOffset())
	}
	lso, err = l.DeleteRecords(-1)
	if err != nil || lso != 10 {
		t.Fatalf("DeleteRecords(-1) = %d, %v", lso, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, fsys, "/d", cfg)
	defer l.Close()
	if l.LogStartOffset() != 10 || l.LogEndOffset() != 10 || l.Size() != 0 {
		t.Fatalf("after reopen start %d end %d size %d", l.LogStartOffset(), l.LogEndOffset(), l.Size())
	}
	if res := mustAppend(t, l, append([]byte(nil), b...)); res.BaseOffset != 10 {
		t.Fatalf("append at %d", res.BaseOffset)
	}
}

func TestTimestamps(t *testing.T) {
	l := openLog(t, NewMemFS(), "/d", Config{Fsync: FsyncNever, IndexIntervalBytes: 1, SegmentBytes: 400})
	defer l.Close()
	if o, ts, err := l.MaxTimestamp(); o != -1 || ts != -1 || err != nil {
		t.Fatalf("empty MaxTimestamp = %d %d %v", o, ts, err)
	}
	if o, ts, err := l.OffsetForTimestamp(0); o != -1 || ts != -1 || err != nil {
		t.Fatalf("empty OffsetForTimestamp = %d %d %v", o, ts, err)
	}
	gzip := kgo.GzipCompression()
	batches := []batchSpec{
		{timestamps: []int64{100, 105, 103}},                                              // 0..2
		{timestamps: []int64{110, 150, 120}, codec: gzip, compress: true},                 // 3..5
		{timestamps: []int64{1, 2}, appendTime: true, maxTs: 200},                         // 6..7 at 200
		{timestamps: []int64{130, 200, 140}, codec: kgo.Lz4Compression(), compress: true}, // 8..10
		{timestamps: []int64{300}, codec: kgo.ZstdCompression(), compress: true},          // 11
		{timestamps: []int64{250, 260}, codec: kgo.SnappyCompression(), compress: true},   // 12..13
	}
	for _, s := range batches {
		mustAppend(t, l, makeBatch(t, s))
	}
	tests := []struct{ ts, wantOff, wantTs int64 }{
		{0, 0, 100},
		{100, 0, 100},
		{101, 1, 105},
		{104, 1, 105},
		{106, 3, 110},
		{111, 4, 150},
		{121, 4, 150},
		{151, 6, 200},
		{200, 6, 200},
		{201, 11, 300},
		{255, 11, 300},
		{301, -1, -1},
	}
	for _, tt := range tests {
		o, ts, err := l.OffsetForTimestamp(tt.ts)
		if err != nil || o != tt.wantOff || ts != tt.wantTs {
			t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d", tt.ts, o, ts, err, tt.wantOff, tt.wantTs)
		}
	}
	if o, ts, err := l.MaxTimestamp(); o != 11 || ts != 300 || err != nil {
		t.Fatalf("MaxTimestamp = %d %d %v, want 11 300", o, ts, err)
	}
	// Ties: the first record wins. Deleting below 7 leaves 7 (append time 200) first.
	mustAppend(t, l, makeBatch(t, batchSpec{timestamps: []int64{300, 300}})) // 14..15
	if o, ts, _ := l.MaxTimestamp(); o != 11 || ts != 300 {
		t.Fatalf("MaxTimestamp with tie = %d %d", o, ts)
	}
	if _, err := l.DeleteRecords(12); err != nil {
		t.Fatal(err)
	}
	if o, ts, _ := l.MaxTimestamp(); o != 14 || ts != 300 {
		t.Fatalf("MaxTimestamp after delete = %d %d, want 14 300", o, ts)
	}
	if o, ts, _ := l.OffsetForTimestamp(0); o != 12 || ts != 250 {
		t.Fatalf("OffsetForTimestamp after delete = %d %d, want 12 250", o, ts)
	}
	if _, err := l.DeleteRecords(13); err != nil {
		t.Fatal(err)
	}
	if o, ts, _ := l.OffsetForTimestamp(0); o != 13 || ts != 260 {
		t.Fatalf("OffsetForTimestamp mid-batch start = %d %d, want 13 260", o, ts)
	}
}

func TestInvalidBatches(t *testing.T) {
	good := simpleBatch(t, 3, 1, 20)
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name  string
		input []byte
		want  error
	}{
		{"empty", nil, ErrInvalidRecord},
		{"short", good[:10], ErrCorrupt},
		{"truncated", good[:len(good)-1], ErrCorrupt},
		{"length too small", mod(func(b []byte) []byte { b[offLength+3] = 10; b[offLength+2] = 0; return b }), ErrCorrupt},
		{"bad crc", mod(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrCorrupt},
		{"bad magic", mod(func(b []byte) []byte { b[offMagic] = 1; return b }), ErrUnsupportedMagic},
		{"zero records", mod(func(b []byte) []byte { copy(b[offNumRecords:], []byte{0, 0, 0, 0}); fixCRC(b); return b }), ErrInvalidRecord},
		{"bad lastOffsetDelta", mod(func(b []byte) []byte { b[offLastOffsetDelta+3] = 7; fixCRC(b); return b }), ErrInvalidRecord},
		{"second batch bad", append(append([]byte(nil), good...), mod(func(b []byte) []byte { b[30] ^= 1; return b })...), ErrCorrupt},
		{"trailing garbage", append(append([]byte(nil), good...), 1, 2, 3), ErrCorrupt},
		{"too large", simpleBatch(t, 10, 1, 200), ErrMessageTooLarge},
	}
	l := openLog(t, NewMemFS(), "/d", Config{Fsync: FsyncNever, MaxBatchBytes: 1000})
	defer l.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := l.Append(tt.input); !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if l.LogEndOffset() != 0 || l.Size() != 0 {
				t.Fatalf("something was appended: LEO %d size %d", l.LogEndOffset(), l.Size())
			}
		})
	}
	mustAppend(t, l, good)
}

func TestGroupCommit(t *testing.T) {
	fsys := NewMemFS()
	l := openLog(t, slowSyncFS{fsys, 200 * time.Microsecond}, "/d", Config{Fsync: FsyncAlways})
	defer l.Close()
	const writers, each = 16, 50
	base := fsys.Syncs()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				res, err := l.Append(simpleBatch(t, 1, int64(w*1000+i), 10))
				if err == nil {
					err = l.WaitDurable(context.Background(), res.LastOffset+1)
				}
				if err == nil && l.HighWatermark() <= res.LastOffset {
					err = errors.New("acknowledged above HW")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	syncs := fsys.Syncs() - base
	t.Logf("%d appends, %d fsyncs", writers*each, syncs)
	if syncs >= writers*each {
		t.Fatalf("%d fsyncs for %d appends: no group commit", syncs, writers*each)
	}
	if l.HighWatermark() != writers*each {
		t.Fatalf("HW %d", l.HighWatermark())
	}
}

func TestStickyFailures(t *testing.T) {
	boom := errors.New("disk on fire")
	t.Run("write", func(t *testing.T) {
		fsys := NewMemFS()
		l := openLog(t, fsys, "/d", Config{Fsync: FsyncAlways})
		res := mustAppend(t, l, simpleBatch(t, 2, 1, 10))
		if err := l.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
			t.Fatal(err)
		}
		fsys.FailWrites(boom)
		wait := l.Wait()
		if _, err := l.Append(simpleBatch(t, 2, 1, 10)); !errors.Is(err, ErrStorage) || !errors.Is(err, boom) {
			t.Fatalf("Append: %v", err)
		}
		<-wait
		fsys.FailWrites(nil)
		if _, err := l.Append(simpleBatch(t, 2, 1, 10)); !errors.Is(err, ErrStorage) {
			t.Fatalf("Append after failure: %v", err)
		}
		if err := l.WaitDurable(context.Background(), 4); !errors.Is(err, ErrStorage) {
			t.Fatalf("WaitDurable: %v", err)
		}
		if l.HighWatermark() != 2 {
			t.Fatalf("HW %d", l.HighWatermark())
		}
		if err := l.Close(); !errors.Is(err, ErrStorage) {
			t.Fatalf("Close: %v", err)
		}
		l = openLog(t, fsys, "/d", Config{})
		defer l.Close()
		if l.LogEndOffset() != 2 || len(readAll(t, l, 0)) != 1 {
			t.Fatalf("reopen LEO %d", l.LogEndOffset())
		}
	})
	t.Run("sync", func(t *testing.T) {
		fsys := NewMemFS()
		l := openLog(t, fsys, "/d", Config{Fsync: FsyncAlways})
		res := mustAppend(t, l, simpleBatch(t, 2, 1, 10))
		if err := l.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
			t.Fatal(err)
		}
		fsys.FailSyncs(boom)
		res, err := l.Append(simpleBatch(t, 3, 1, 10))
		if err != nil {
			t.Fatal(err) // the write itself worked
		}
		if err := l.WaitDurable(context.Background(), res.LastOffset+1); !errors.Is(err, ErrStorage) || !errors.Is(err, boom) {
			t.Fatalf("WaitDurable: %v", err)
		}
		if l.HighWatermark() != 2 {
			t.Fatalf("HW %d: unsynced records visible", l.HighWatermark())
		}
		fsys.FailSyncs(nil)
		if _, err := l.Append(simpleBatch(t, 1, 1, 10)); !errors.Is(err, ErrStorage) {
			t.Fatalf("Append after failed sync: %v", err)
		}
		if err := l.Sync(); !errors.Is(err, ErrStorage) {
			t.Fatalf("Sync: %v", err)
		}
		l.Close()
		fsys.Crash()
		l = openLog(t, fsys, "/d", Config{})
		defer l.Close()
		if l.LogEndOffset() != 2 {
			t.Fatalf("after crash LEO %d, want 2", l.LogEndOffset())
		}
	})
}

func TestConfigDefaults(t *testing.T) {
	l := openLog(t, NewMemFS(), "/d", Config{})
	defer l.Close()
	c := l.Config()
	if c.SegmentBytes != DefaultSegmentBytes || c.RetentionBytes != -1 || c.Fsync != FsyncAlways || c.MaxBatchBytes != DefaultMaxBatchBytes {
		t.Fatalf("defaults %+v", c)
	}
	c.Fsync = FsyncNever
	c.MaxBatchBytes = 100
	l.SetConfig(c)
	if _, err := l.Append(simpleBatch(t, 3, 1, 100)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("after SetConfig: %v", err)
	}
	if _, err := Open(NewMemFS(), "/x", Config{SegmentBytes: 1 << 40}, nil); err == nil {
		t.Fatal("Open accepted a 1 TiB segment size")
	}
}

func TestDelete(t *testing.T) {
	for _, fsName := range []string{"mem", "os"} {
		t.Run(fsName, func(t *testing.T) {
			var fsys FS = NewMemFS()
			dir := "/d/p"
			if fsName == "os" {
				fsys, dir = OSFS, filepath.Join(t.TempDir(), "p")
			}
			l := openLog(t, fsys, dir, Config{Fsync: FsyncNever})
			mustAppend(t, l, simpleBatch(t, 2, 1, 1))
			v, err := l.Read(0, 1<<20, true)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Delete(); err != nil {
				t.Fatal(err)
			}
			// A pinned view still reads after the files are gone.
			if b, err := v.AppendTo(nil); err != nil || len(b) != v.Len() {
				t.Fatalf("pinned view after Delete: %v", err)
			}
			v.Release()
			select {
			case <-l.Wait():
			default:
				t.Fatal("Wait on a deleted log blocks")
			}
			if _, err := fsys.ReadDir(dir); err == nil {
				t.Fatal("directory still exists")
			}
		})
	}
}

func TestLogAppendTime(t *testing.T) {
	l := openLog(t, NewMemFS(), "lat", Config{Fsync: FsyncNever, LogAppendTime: true})
	defer l.Close()
	now := time.UnixMilli(5_000_000)
	l.now = func() time.Time { return now }
	res := mustAppend(t, l, simpleBatch(t, 3, 1000, 4))
	if res.LogAppendTime != now.UnixMilli() {
		t.Fatalf("LogAppendTime = %d", res.LogAppendTime)
	}
	got := readAll(t, l, 0) // readAll checks every CRC
	h, _ := parseBatchPrefix(got[0])
	if h.attributes&attrLogAppendTime == 0 || h.maxTimestamp != now.UnixMilli() {
		t.Fatalf("stored batch: attributes %x max timestamp %d", h.attributes, h.maxTimestamp)
	}
	if off, ts, err := l.OffsetForTimestamp(now.UnixMilli()); err != nil || off != 0 || ts != now.UnixMilli() {
		t.Fatalf("OffsetForTimestamp = %d %d %v", off, ts, err)
	}
}
