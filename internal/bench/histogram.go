package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// histSubBits sets the histogram's precision: values below 1<<histSubBits are
// counted exactly, larger values fall in buckets 1/2^(histSubBits-1) of their
// magnitude wide, so a reported percentile is at most 0.8% above the true
// sample (never below it).
const histSubBits = 8

// histBuckets is the bucket count that covers every uint64 value.
const histBuckets = (64-histSubBits)<<(histSubBits-1) + 1<<histSubBits

// Histogram is a log-linear (HDR-style) histogram of durations in
// nanoseconds. Record is safe for concurrent use and does not allocate; the
// zero value is not usable, call NewHistogram.
type Histogram struct {
	counts []atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64 // nanoseconds; wraps only after ~584 years of samples
	min    atomic.Uint64 // stored as ^v so that the zero value means "none"
	max    atomic.Uint64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{counts: make([]atomic.Uint64, histBuckets)}
}

// bucketOf maps a value to its bucket index. Values below 1<<histSubBits map
// to themselves; above that, the top histSubBits significant bits of the value
// select a bucket within the value's power-of-two range.
func bucketOf(v uint64) int {
	n := bits.Len64(v)
	if n <= histSubBits {
		return int(v)
	}
	shift := n - histSubBits
	return shift<<(histSubBits-1) + int(v>>uint(shift))
}

// bucketHigh is the largest value that maps to bucket i.
func bucketHigh(i int) uint64 {
	if i < 1<<histSubBits {
		return uint64(i)
	}
	shift := i>>(histSubBits-1) - 1
	mant := uint64(i - shift<<(histSubBits-1))
	return (mant+1)<<uint(shift) - 1
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	for {
		cur := h.min.Load()
		if cur != 0 && ^cur <= v {
			break
		}
		if h.min.CompareAndSwap(cur, ^v) {
			break
		}
	}
	for {
		cur := h.max.Load()
		if cur >= v || h.max.CompareAndSwap(cur, v) {
			break
		}
	}
}

// Count is the number of recorded samples.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Min is the smallest sample, or 0 if there are none.
func (h *Histogram) Min() time.Duration {
	m := h.min.Load()
	if m == 0 {
		return 0
	}
	return time.Duration(^m)
}

// Max is the largest sample, or 0 if there are none.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Mean is the arithmetic mean of the samples, or 0 if there are none.
func (h *Histogram) Mean() time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Percentile returns the smallest bucket bound at or below which at least
// p percent of the samples lie (nearest-rank), clamped to [Min, Max]. p is in
// [0, 100]; it returns 0 for an empty histogram. Read it after recording has
// finished: concurrent Records make the answer approximate.
func (h *Histogram) Percentile(p float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	switch {
	case p <= 0:
		return h.Min()
	case p >= 100:
		return h.Max()
	}
	// The epsilon keeps 99.9% of 1000 at rank 999 despite 99.9/100 not
	// being exact in binary.
	rank := uint64(math.Ceil(p/100*float64(n) - 1e-9))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			v := time.Duration(bucketHigh(i))
			return min(max(v, h.Min()), h.Max())
		}
	}
	return h.Max()
}

// Latency is a summary of a histogram, in the form results carry.
type Latency struct {
	Count uint64
	Mean  time.Duration
	P50   time.Duration
	P99   time.Duration
	P999  time.Duration
	Max   time.Duration
}

// Summary reads the usual percentiles off h.
func (h *Histogram) Summary() Latency {
	return Latency{
		Count: h.Count(),
		Mean:  h.Mean(),
		P50:   h.Percentile(50),
		P99:   h.Percentile(99),
		P999:  h.Percentile(99.9),
		Max:   h.Max(),
	}
}
