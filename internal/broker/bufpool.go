package broker

import (
	"math/bits"
	"sync"
)

// framePool recycles large request frames (Produce), whose record bytes are
// copied into the log before the handler returns. Buffers are kept in
// power-of-two classes from 64 KiB to 128 MiB; smaller frames are allocated.
type framePool struct {
	classes [12]sync.Pool // 2^16 .. 2^27
}

const minPooledFrame = 1 << 16

func classOf(n int) int { return bits.Len(uint(n-1)) - 16 }

// get returns a slice of length n.
func (p *framePool) get(n int) []byte {
	if n < minPooledFrame {
		return make([]byte, n)
	}
	c := classOf(n)
	if c >= len(p.classes) {
		return make([]byte, n)
	}
	if v, ok := p.classes[c].Get().(*[]byte); ok {
		return (*v)[:n]
	}
	return make([]byte, n, 1<<(c+16))
}

// put recycles b, which must not be used afterwards.
func (p *framePool) put(b []byte) {
	if cap(b) < minPooledFrame || cap(b)&(cap(b)-1) != 0 {
		return
	}
	c := classOf(cap(b))
	if c >= len(p.classes) {
		return
	}
	b = b[:0]
	p.classes[c].Put(&b)
}

var frames framePool
