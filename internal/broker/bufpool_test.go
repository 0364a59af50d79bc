package broker

import "testing"

func TestFramePool(t *testing.T) {
	for _, n := range []int{1, 100, minPooledFrame - 1, minPooledFrame, minPooledFrame + 1, 1 << 20, 1<<20 + 3, 1 << 27, 1<<27 + 1} {
		b := frames.get(n)
		if len(b) != n {
			t.Fatalf("get(%d) has length %d", n, len(b))
		}
		frames.put(b)
		if b2 := frames.get(n); len(b2) != n {
			t.Fatalf("second get(%d) has length %d", n, len(b2))
		}
	}
}
