package log

import (
	"fmt"
	"path/filepath"
	"time"
)

// DeleteRecords moves the log start offset to before (-1 means the high
// watermark), persists it, and deletes segments that lie entirely below it.
// It returns the new log start offset.
func (l *Log) DeleteRecords(before int64) (int64, error) {
	l.metaMu.Lock()
	defer l.metaMu.Unlock()

	l.mu.Lock()
	if err := l.usableLocked(); err != nil {
		l.mu.Unlock()
		return 0, err
	}
	hw := l.hw.Load()
	if before == -1 {
		before = hw
	}
	if before < 0 || before > hw {
		l.mu.Unlock()
		return 0, fmt.Errorf("%w: delete before %d, high watermark %d", ErrOffsetOutOfRange, before, hw)
	}
	if lso := l.lso.Load(); before <= lso {
		l.mu.Unlock()
		return lso, nil
	}
	l.mu.Unlock()

	// The checkpoint is written without mu so appends go on meanwhile;
	// metaMu keeps checkpoint writers in order.
	err := writeFileAtomic(l.fs, filepath.Join(l.dir, checkpointName), encodeCheckpoint(before))
	if err == nil {
		err = l.fs.SyncDir(l.dir)
	}

	l.mu.Lock()
	if err != nil {
		err = l.failLocked("write log start checkpoint", err)
		l.mu.Unlock()
		return 0, err
	}
	if before > l.lso.Load() {
		l.lso.Store(before)
	}
	n := 0
	for n < len(l.segs) && l.segs[n].next <= before && l.segs[n].size > 0 {
		n++
	}
	deleted, err := l.deleteFrontLocked(n)
	lso := l.lso.Load()
	l.mu.Unlock()
	if err == nil && deleted {
		err = l.syncDirAfterDelete()
	}
	return lso, err
}

func (l *Log) usableLocked() error {
	if l.closed {
		return ErrClosed
	}
	if l.werr != nil {
		return l.storageErr()
	}
	return nil
}

// deleteFrontLocked deletes the n oldest segments. If that includes the
// active one it rolls first, as Kafka does, so a log always has a segment.
func (l *Log) deleteFrontLocked(n int) (bool, error) {
	if n == 0 {
		return false, nil
	}
	if n == len(l.segs) {
		if err := l.rollLocked(); err != nil {
			return false, err
		}
	}
	for _, s := range l.segs[:n] {
		s.deleted = true
		if err := s.removeFiles(l.fs); err != nil {
			return false, l.failLocked("remove "+s.path, err)
		}
		l.size.Add(-s.size)
		s.unref()
		l.logger.Debug("log: deleted segment", "dir", l.dir, "segment", segmentName(s.base))
	}
	l.segs = append(l.segs[:0:0], l.segs[n:]...)
	if first := l.segs[0].base; first > l.lso.Load() {
		l.lso.Store(first)
	}
	return true, nil
}

// syncDirAfterDelete makes deletions durable so segments do not come back.
func (l *Log) syncDirAfterDelete() error {
	if err := l.fs.SyncDir(l.dir); err != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.failLocked("fsync dir", err)
	}
	return nil
}

// EnforceRetention rolls the active segment if it is older than SegmentAge,
// then deletes the oldest segments that are past RetentionAge (by their
// largest timestamp) or beyond RetentionBytes. Only segments wholly below
// the high watermark are deleted; the active one is rolled first if it must
// go, as in Kafka.
func (l *Log) EnforceRetention(now time.Time) error {
	l.mu.Lock()
	if err := l.usableLocked(); err != nil {
		l.mu.Unlock()
		return err
	}
	cfg := l.cfg
	nowMs := now.UnixMilli()
	if act := l.active(); act.size > 0 && nowMs-act.rollTs >= cfg.SegmentAge.Milliseconds() {
		if err := l.rollLocked(); err != nil {
			l.mu.Unlock()
			return err
		}
	}
	hw := l.hw.Load()
	total := l.size.Load()
	n := 0
	for _, s := range l.segs {
		if s.size == 0 || s.next > hw {
			break
		}
		ts := s.maxTs
		if ts < 0 {
			ts = s.rollTs
		}
		expired := cfg.RetentionAge >= 0 && ts > 0 && nowMs-ts > cfg.RetentionAge.Milliseconds()
		tooBig := cfg.RetentionBytes >= 0 && total-s.size >= cfg.RetentionBytes
		if !expired && !tooBig {
			break
		}
		total -= s.size
		n++
	}
	deleted, err := l.deleteFrontLocked(n)
	l.mu.Unlock()
	if err == nil && deleted {
		err = l.syncDirAfterDelete()
	}
	return err
}
