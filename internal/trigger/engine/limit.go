package engine

import (
	"context"
	"sync"
)

// limiter bounds the batches of a trigger in flight at once on this
// instance; the scaler moves its limit between the spec's minimum and
// maximum. Waiters wake on every release and limit change.
type limiter struct {
	mu      sync.Mutex
	limit   int
	used    int
	changed chan struct{} // closed and replaced on every release or change
}

func newLimiter(n int) *limiter {
	return &limiter{limit: n, changed: make(chan struct{})}
}

// acquire takes a slot; false if ctx ended or quit closed first.
func (l *limiter) acquire(ctx context.Context, quit <-chan struct{}) bool {
	for {
		l.mu.Lock()
		if l.used < l.limit {
			l.used++
			l.mu.Unlock()
			return true
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-quit:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (l *limiter) release() {
	l.mu.Lock()
	l.used--
	l.broadcastLocked()
	l.mu.Unlock()
}

func (l *limiter) setLimit(n int) {
	l.mu.Lock()
	l.limit = n
	l.broadcastLocked()
	l.mu.Unlock()
}

// state returns the limit and the slots in use.
func (l *limiter) state() (limit, used int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit, l.used
}

func (l *limiter) broadcastLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// Scaling rule, applied every TickEvery (default 1 s) to each running
// trigger: the backlog B is the records of its assigned partitions that
// are not finished (the fetch's high watermark minus the committable
// offset, summed), and need = ceil(B / batch size), the batches it would
// take to clear B at once. With concurrency C:
//
//   - need > C: C grows to min(need, 2·C, max) — at most doubling per tick;
//   - need < C for scaleDownAfter ticks in a row: C shrinks by one, to no
//     less than max(need, min);
//   - otherwise C stays.
//
// So a backlog scales a trigger up within a few seconds and an idle one
// returns to its minimum one step per tick after a quiet spell. With
// ordering "partition" at most one batch per assigned partition is in
// flight, so C above the partition count buys nothing there.
const scaleDownAfter = 5

// scale returns the next concurrency for backlog, the current concurrency
// cur, the number of ticks need has been below cur (including this one,
// updated), and the spec's bounds.
func scale(backlog int64, batchSize, cur, lo, hi int, below *int) int {
	need := int((backlog + int64(batchSize) - 1) / int64(batchSize))
	switch {
	case need > cur:
		*below = 0
		return max(lo, min(need, 2*cur, hi))
	case need < cur:
		*below++
		if *below >= scaleDownAfter {
			return max(lo, need, cur-1)
		}
	default:
		*below = 0
	}
	return max(lo, min(cur, hi))
}
