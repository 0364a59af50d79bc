package log

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// acked is a batch whose append was acknowledged, by offset.
type acked struct {
	base  int64
	bytes []byte
}

// checkAcked reopens the log and verifies every acknowledged batch is
// present at its offset, byte for byte, and that the log reads cleanly.
func checkAcked(t *testing.T, l *Log, acks []acked) {
	t.Helper()
	got := readAll(t, l, l.LogStartOffset())
	byBase := make(map[int64][]byte, len(got))
	for _, b := range got {
		h, _ := parseBatchPrefix(b)
		byBase[h.baseOffset] = b
	}
	for _, a := range acks {
		b, ok := byBase[a.base]
		if !ok {
			t.Fatalf("acknowledged batch at %d lost (LEO %d)", a.base, l.LogEndOffset())
		}
		if !bytes.Equal(b, a.bytes) {
			t.Fatalf("acknowledged batch at %d changed", a.base)
		}
	}
}

func TestCrashKeepsAcknowledged(t *testing.T) {
	for _, torn := range []bool{false, true} {
		for seed := range uint64(5) {
			t.Run(fmt.Sprintf("torn=%v/seed=%d", torn, seed), func(t *testing.T) {
				fsys := NewMemFS()
				b0 := simpleBatch(t, 3, 1, 64)
				cfg := Config{Fsync: FsyncAlways, SegmentBytes: int64(len(b0) * 7), IndexIntervalBytes: 300}
				var acks []acked
				// Several generations: append, crash under load, reopen, check.
				for gen := range 4 {
					l := openLog(t, fsys, "/d", cfg)
					checkAcked(t, l, acks)
					var mu sync.Mutex
					var crashed atomic.Bool
					var wg sync.WaitGroup
					for w := range 4 {
						wg.Go(func() {
							for i := 0; !crashed.Load(); i++ {
								b := simpleBatch(t, 1+(w+i)%3, int64(gen*1000+i), 64)
								res, err := l.Append(b)
								if err != nil {
									t.Errorf("Append: %v", err)
									return
								}
								if err := l.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
									t.Errorf("WaitDurable: %v", err)
									return
								}
								// Only acknowledgements seen before the crash count.
								if !crashed.Load() {
									mu.Lock()
									acks = append(acks, acked{res.BaseOffset, b})
									mu.Unlock()
								}
							}
						})
					}
					time.Sleep(time.Duration(3+seed+uint64(gen)) * time.Millisecond)
					crashed.Store(true)
					img := fsys.CrashImage(torn, seed*7+uint64(gen))
					wg.Wait()
					if err := l.Close(); err != nil {
						t.Fatal(err)
					}
					fsys = img
				}
				l := openLog(t, fsys, "/d", cfg)
				defer l.Close()
				checkAcked(t, l, acks)
				t.Logf("%d acknowledged batches survived; LEO %d", len(acks), l.LogEndOffset())
				res := mustAppend(t, l, simpleBatch(t, 1, 1, 1))
				if res.BaseOffset != l.LogEndOffset()-1 {
					t.Fatalf("append after recovery at %d", res.BaseOffset)
				}
			})
		}
	}
}

// damageTests append batches, make the tail bad in some way, and expect
// recovery to keep exactly the first `keep` batches.
var damageTests = []struct {
	name   string
	damage func(t *testing.T, f File, size int64, last []byte)
	keep   int // of 6 batches
}{
	{"torn tail", func(t *testing.T, f File, size int64, last []byte) {
		if err := f.Truncate(size - int64(len(last))/2); err != nil {
			t.Fatal(err)
		}
	}, 5},
	{"flipped byte in last batch", func(t *testing.T, f File, size int64, last []byte) {
		if _, err := f.WriteAt([]byte{last[len(last)-3] ^ 0x40}, size-3); err != nil {
			t.Fatal(err)
		}
	}, 5},
	{"garbage after last batch", func(t *testing.T, f File, size int64, last []byte) {
		if _, err := f.WriteAt(bytes.Repeat([]byte{0x5a}, 100), size); err != nil {
			t.Fatal(err)
		}
	}, 6},
	{"zeros after last batch", func(t *testing.T, f File, size int64, last []byte) {
		if _, err := f.WriteAt(make([]byte, 4096), size); err != nil {
			t.Fatal(err)
		}
	}, 6},
	{"half a header", func(t *testing.T, f File, size int64, last []byte) {
		if _, err := f.WriteAt(last[:20], size); err != nil {
			t.Fatal(err)
		}
	}, 6},
	{"stale batch with wrong offset", func(t *testing.T, f File, size int64, last []byte) {
		if _, err := f.WriteAt(last, size); err != nil { // valid CRC, but base offset repeats
			t.Fatal(err)
		}
	}, 6},
}

// runDamage appends 6 batches without a clean Close (so Open must scan),
// damages the tail, reopens, and checks what survived.
func runDamage(t *testing.T, fsys FS, dir string, crash func(l *Log)) {
	for _, tt := range damageTests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(dir, tt.name)
			cfg := Config{Fsync: FsyncNever, IndexIntervalBytes: 100}
			l := openLog(t, fsys, dir, cfg)
			var batches [][]byte
			for i := range 6 {
				b := simpleBatch(t, 2, int64(i), 50)
				mustAppend(t, l, b)
				batches = append(batches, b)
			}
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			crash(l)
			f, err := fsys.OpenFile(filepath.Join(dir, segmentName(0)), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			size, _ := f.Size()
			tt.damage(t, f, size, batches[5])
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			f.Close()

			l = openLog(t, fsys, dir, cfg)
			defer l.Close()
			got := readAll(t, l, 0)
			if len(got) != tt.keep || l.LogEndOffset() != int64(2*tt.keep) {
				t.Fatalf("kept %d batches, LEO %d; want %d", len(got), l.LogEndOffset(), tt.keep)
			}
			for i := range got {
				if !bytes.Equal(got[i], batches[i]) {
					t.Fatalf("batch %d differs", i)
				}
			}
			// Appends continue right after the valid prefix, and survive a clean reopen.
			res := mustAppend(t, l, simpleBatch(t, 1, 9, 9))
			if res.BaseOffset != int64(2*tt.keep) {
				t.Fatalf("next append at %d", res.BaseOffset)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, fsys, dir, cfg)
			if n := len(readAll(t, l, 0)); n != tt.keep+1 {
				t.Fatalf("after clean reopen %d batches", n)
			}
		})
	}
}

func TestRecoverDamagedTailMemFS(t *testing.T) {
	fsys := NewMemFS()
	runDamage(t, fsys, "/d", func(l *Log) {
		fsys.Crash()
		l.Close()
	})
}

func TestRecoverDamagedTailDisk(t *testing.T) {
	// A process crash: the page cache keeps everything, no index is written.
	runDamage(t, OSFS, t.TempDir(), func(l *Log) { l.close(false) })
}

func TestRecoverRebuildsBadIndexes(t *testing.T) {
	fsys := NewMemFS()
	b := simpleBatch(t, 2, 5, 100)
	cfg := Config{Fsync: FsyncNever, SegmentBytes: int64(3 * len(b)), IndexIntervalBytes: 1}
	l := openLog(t, fsys, "/d", cfg)
	for range 8 {
		mustAppend(t, l, append([]byte(nil), b...))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Corrupt one index, truncate another, delete a third.
	f, _ := fsys.OpenFile("/d/"+segmentName(0)[:20]+".index", os.O_RDWR, 0)
	f.WriteAt([]byte{0xff}, 30)
	f.Close()
	f, _ = fsys.OpenFile("/d/"+segmentName(6)[:20]+".timeindex", os.O_RDWR, 0)
	f.Truncate(10)
	f.Close()
	fsys.Remove("/d/" + segmentName(12)[:20] + ".index")
	l = openLog(t, fsys, "/d", cfg)
	defer l.Close()
	if got := readAll(t, l, 0); len(got) != 8 || l.LogEndOffset() != 16 {
		t.Fatalf("read %d batches LEO %d", len(got), l.LogEndOffset())
	}
	if o, ts, err := l.OffsetForTimestamp(6); o != 1 || ts != 6 || err != nil {
		t.Fatalf("OffsetForTimestamp = %d %d %v", o, ts, err)
	}
}

// countingFS counts bytes read from .log segment files.
type countingFS struct {
	FS
	logBytes atomic.Int64
}

type countingFile struct {
	File
	fs *countingFS
}

func (c *countingFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return countingFile{File: f, fs: c}, nil
}

func (f countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.fs.logBytes.Add(int64(n))
	return n, err
}

// TestOpenAfterCleanCloseIsCheap: after a clean Close, Open trusts the
// indexes and reads no segment bytes, so start-up time does not grow with
// the data; after a crash it must scan.
func TestOpenAfterCleanCloseIsCheap(t *testing.T) {
	fsys := &countingFS{FS: NewMemFS()}
	cfg := Config{Fsync: FsyncNever}
	const n = 50
	for i := range n {
		l := openLog(t, fsys, fmt.Sprint(i), cfg)
		mustAppend(t, l, simpleBatch(t, 10, 1, 100))
		mustAppend(t, l, idempotentBatch(t, 2, 9, 0, 0))
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	fsys.logBytes.Store(0)
	for i := range n {
		l := openLog(t, fsys, fmt.Sprint(i), cfg)
		if l.LogEndOffset() != 12 {
			t.Fatalf("LEO %d", l.LogEndOffset())
		}
		l.Close()
	}
	if got := fsys.logBytes.Load(); got != 0 {
		t.Fatalf("opening %d cleanly closed logs read %d segment bytes, want 0", n, got)
	}

	// Unclean: the bytes appended after the last index write are scanned.
	l := openLog(t, fsys, "0", cfg)
	mustAppend(t, l, simpleBatch(t, 5, 1, 100))
	l.Sync()
	fsys.FS.(*MemFS).Crash()
	fsys.logBytes.Store(0)
	l = openLog(t, fsys, "0", cfg)
	defer l.Close()
	if l.LogEndOffset() != 17 || fsys.logBytes.Load() == 0 {
		t.Fatalf("after a crash: LEO %d, %d segment bytes read", l.LogEndOffset(), fsys.logBytes.Load())
	}
}
