package log

import "fmt"

// dump describes the log state for test failure messages.
func (l *Log) dump() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := fmt.Sprintf("hw=%d leo=%d lso=%d hwSeg=%d hwPos=%d\n", l.hw.Load(), l.leo.Load(), l.lso.Load(), l.hwSeg.base, l.hwPos)
	for _, g := range l.segs {
		sz, _ := g.file.Size()
		s += fmt.Sprintf(" seg base=%d size=%d file=%d next=%d idx=%v\n", g.base, g.size, sz, g.next, g.offIdx)
	}
	return s
}
