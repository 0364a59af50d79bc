package log

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// benchBatch is a batch of n records of size bytes each.
func benchBatch(b *testing.B, n, size int) []byte {
	return simpleBatch(b, n, 1, size)
}

func BenchmarkAppend(b *testing.B) {
	cases := []struct {
		name       string
		records    int
		policy     FsyncPolicy
		parallel   bool
		recordSize int
	}{
		{"1MiB/never", 1000, FsyncNever, false, 1024},
		{"1MiB/always/parallel", 1000, FsyncAlways, true, 1024},
		{"small/never", 10, FsyncNever, false, 100},
		{"small/never/parallel", 10, FsyncNever, true, 100},
		{"small/always/parallel", 10, FsyncAlways, true, 100},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			batch := benchBatch(b, c.records, c.recordSize)
			l, err := Open(OSFS, filepath.Join(b.TempDir(), "p"), Config{Fsync: c.policy, SegmentBytes: 256 << 20, RetentionAge: -1}, quietLogger())
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			b.ResetTimer()
			if !c.parallel {
				for range b.N {
					if _, err := l.Append(batch); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.SetParallelism(8) // 16 appenders on 2 cores: producers waiting on fsync
			b.RunParallel(func(pb *testing.PB) {
				mine := append([]byte(nil), batch...)
				for pb.Next() {
					res, err := l.Append(mine)
					if err == nil {
						err = l.WaitDurable(context.Background(), res.LastOffset+1)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkRead(b *testing.B) {
	for _, c := range []struct {
		records, size int
		maxBytes      int32
	}{
		{1000, 1024, 1 << 20}, // one ~1 MiB batch per read
		{10, 100, 1 << 20},    // ~1 MiB of ~1 KiB batches per read
	} {
		b.Run(fmt.Sprintf("batch=%dx%d", c.records, c.size), func(b *testing.B) {
			batch := benchBatch(b, c.records, c.size)
			l, err := Open(OSFS, filepath.Join(b.TempDir(), "p"), Config{Fsync: FsyncNever, RetentionAge: -1}, quietLogger())
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			for l.Size() < 64<<20 {
				if _, err := l.Append(batch); err != nil {
					b.Fatal(err)
				}
			}
			leo := l.LogEndOffset()
			buf := make([]byte, 0, 2<<20)
			b.ReportAllocs()
			b.ResetTimer()
			var total int64
			off := int64(0)
			for range b.N {
				v, err := l.Read(off, c.maxBytes, true)
				if err != nil {
					b.Fatal(err)
				}
				buf, err = v.AppendTo(buf[:0])
				if err != nil {
					b.Fatal(err)
				}
				total += int64(v.Len())
				v.Release()
				off += int64(c.records) * int64(v.Len()/len(batch))
				if off >= leo {
					off = 0
				}
			}
			b.SetBytes(total / int64(b.N))
		})
	}
}

// BenchmarkOpenClean opens a cleanly closed one-segment log.
func BenchmarkOpenClean(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "p")
	l, err := Open(OSFS, dir, Config{Fsync: FsyncNever}, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := l.Append(benchBatch(b, 10, 100)); err != nil {
		b.Fatal(err)
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		l, err := Open(OSFS, dir, Config{Fsync: FsyncNever}, quietLogger())
		if err != nil {
			b.Fatal(err)
		}
		l.close(false)
	}
}
