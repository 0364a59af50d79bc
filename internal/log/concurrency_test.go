package log

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentUse runs appenders, long-polling readers, timestamp lookups
// and retention at once (meant for -race), for each policy.
func TestConcurrentUse(t *testing.T) {
	for _, p := range policies {
		t.Run(p.String(), func(t *testing.T) {
			b := simpleBatch(t, 3, 1, 50)
			l := openLog(t, NewMemFS(), "/d", Config{Fsync: p, FsyncInterval: time.Millisecond,
				SegmentBytes: int64(10 * len(b)), IndexIntervalBytes: 200, RetentionBytes: int64(40 * len(b)), RetentionAge: -1})
			defer l.Close()
			const appenders, each = 3, 200
			var done atomic.Bool
			var wg, readers sync.WaitGroup
			for w := range appenders {
				wg.Go(func() {
					for i := range each {
						res, err := l.Append(simpleBatch(t, 1+i%3, int64(w*10000+i), 50))
						if err == nil {
							err = l.WaitDurable(context.Background(), res.LastOffset+1)
						}
						if err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			// A consumer long-polls from the start and must see every offset in order.
			readers.Go(func() {
				next := int64(0)
				for !done.Load() || next < l.HighWatermark() {
					wait := l.Wait()
					v, err := l.Read(next, 4096, true)
					if errors.Is(err, ErrOffsetOutOfRange) {
						next = l.LogStartOffset() // deleted by retention under us
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					if v.Len() == 0 {
						select {
						case <-wait:
						case <-time.After(10 * time.Millisecond):
						}
						continue
					}
					buf, err := v.AppendTo(nil)
					v.Release()
					if err != nil {
						t.Error(err)
						return
					}
					for len(buf) > 0 {
						h, err := validateBatch(buf, 0)
						if err != nil {
							t.Errorf("read a bad batch: %v", err)
							return
						}
						if h.lastOffset() >= next && h.baseOffset > next {
							t.Errorf("gap: want %d, got batch at %d", next, h.baseOffset)
							return
						}
						next = max(next, h.lastOffset()+1)
						buf = buf[h.size:]
					}
				}
			})
			readers.Go(func() {
				for !done.Load() {
					if _, _, err := l.OffsetForTimestamp(5000); err != nil {
						t.Error(err)
					}
					if _, _, err := l.MaxTimestamp(); err != nil {
						t.Error(err)
					}
					if err := l.EnforceRetention(time.Now()); err != nil {
						t.Error(err)
					}
					time.Sleep(time.Millisecond)
				}
			})
			wg.Wait()
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			done.Store(true)
			readers.Wait()
			want := int64(0)
			for i := range each {
				want += int64(appenders * (1 + i%3))
			}
			if l.LogEndOffset() != want || l.HighWatermark() != want {
				t.Fatalf("LEO %d HW %d", l.LogEndOffset(), l.HighWatermark())
			}
		})
	}
}
