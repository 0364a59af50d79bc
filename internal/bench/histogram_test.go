package bench

import (
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	// Every bucket's high bound maps back to it, the next value maps to the
	// next bucket, and buckets are no wider than 1/128 of their values.
	for i := 0; i < histBuckets-1; i++ {
		hi := bucketHigh(i)
		if got := bucketOf(hi); got != i {
			t.Fatalf("bucketOf(bucketHigh(%d)=%d) = %d", i, hi, got)
		}
		if got := bucketOf(hi + 1); got != i+1 {
			t.Fatalf("bucketOf(%d) = %d, want %d", hi+1, got, i+1)
		}
		if i > 0 {
			lo := bucketHigh(i-1) + 1
			if width := hi - lo + 1; lo >= 1<<histSubBits && width*128 > lo {
				t.Fatalf("bucket %d [%d,%d] too wide", i, lo, hi)
			}
		}
	}
	if got := bucketOf(^uint64(0)); got != histBuckets-1 {
		t.Fatalf("bucketOf(max) = %d, want %d", got, histBuckets-1)
	}
}

func TestPercentile(t *testing.T) {
	seq := func(from, to int) []time.Duration {
		var out []time.Duration
		for v := from; v <= to; v++ {
			out = append(out, time.Duration(v))
		}
		return out
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample p50", []time.Duration{42}, 50, 42},
		{"one sample p99.9", []time.Duration{42}, 99.9, 42},
		{"1..100 p0 is min", seq(1, 100), 0, 1},
		{"1..100 p50", seq(1, 100), 50, 50},
		{"1..100 p99", seq(1, 100), 99, 99},
		{"1..100 p99.9", seq(1, 100), 99.9, 100},
		{"1..100 p100 is max", seq(1, 100), 100, 100},
		{"1..1000 p99.9", seq(1, 1000), 99.9, 999},
		{"negative counts as zero", []time.Duration{-5, -5, 7}, 50, 0},
		// 1000 ns and 1 ms are above the exact range: a percentile is the
		// bucket's high bound, clamped to the largest sample.
		{"bucketed, clamped to max", []time.Duration{1000, 1000, 1000}, 50, 1000},
		{"bucketed p50", []time.Duration{1000, 1000, 1000, time.Millisecond}, 50, 1003},
		{"bucketed p99 is max", []time.Duration{1000, 1000, 1000, time.Millisecond}, 99, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistogram()
			for _, s := range tt.samples {
				h.Record(s)
			}
			if got := h.Percentile(tt.p); got != tt.want {
				t.Fatalf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

// TestPercentileAgainstSort checks the histogram against the exact
// nearest-rank percentile of a sorted sample: never below it, at most 1/128
// above it.
func TestPercentileAgainstSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var samples []time.Duration
	h := NewHistogram()
	for range 100_000 {
		// Log-uniform from 1 µs to ~1 s, like real latencies.
		d := time.Duration(float64(time.Microsecond) * pow2(r.Float64()*20))
		samples = append(samples, d)
		h.Record(d)
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	for _, p := range []float64{1, 50, 90, 99, 99.9, 99.99} {
		rank := int(float64(len(samples))*p/100+0.999999999) - 1
		exact := samples[rank]
		got := h.Percentile(p)
		if got < exact || float64(got-exact) > float64(exact)/128 {
			t.Errorf("p%v = %v, exact %v", p, got, exact)
		}
	}
	if h.Min() != samples[0] || h.Max() != samples[len(samples)-1] {
		t.Errorf("min/max = %v/%v, want %v/%v", h.Min(), h.Max(), samples[0], samples[len(samples)-1])
	}
}

func pow2(x float64) float64 {
	v := 1.0
	for x >= 1 {
		v *= 2
		x--
	}
	// Linear between powers of two is enough for a test distribution.
	return v * (1 + x)
}

func TestHistogramConcurrent(t *testing.T) {
	h := NewHistogram()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 10_000 {
				h.Record(time.Duration(g*10_000 + i + 1))
			}
		})
	}
	wg.Wait()
	s := h.Summary()
	if s.Count != 40_000 || h.Min() != 1 || s.Max != 40_000 {
		t.Fatalf("summary %+v min %v", s, h.Min())
	}
	if s.Mean != 20_000 { // (1+40000)/2 rounded down
		t.Fatalf("mean = %v", s.Mean)
	}
}
