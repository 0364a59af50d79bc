package log

import (
	"context"
	"fmt"
	"time"
)

// kickLocked makes sure a flusher goroutine runs. Flushers are started on
// demand and exit when idle, so an idle log costs no goroutine.
func (l *Log) kickLocked() {
	if l.flushing || l.closed || l.werr != nil {
		return
	}
	l.flushing = true
	l.flushWG.Add(1)
	go l.flushLoop()
}

// armTimerLocked schedules an FsyncInterval flush if none is pending.
func (l *Log) armTimerLocked() {
	if l.timerArmed || l.closed || l.werr != nil {
		return
	}
	l.timerArmed = true
	if l.timer == nil {
		l.timer = time.AfterFunc(l.cfg.FsyncInterval, l.intervalFire)
		return
	}
	l.timer.Reset(l.cfg.FsyncInterval)
}

func (l *Log) intervalFire() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timerArmed = false
	l.syncReq = true
	l.kickLocked()
}

// flushWork is one flusher round, captured under mu and done without it.
type flushWork struct {
	seals    []*segment // sealed segments to fsync and index
	act      *segment   // active segment when the round started, or nil
	actSize  int64      // its size then
	syncAct  bool       // act has unsynced bytes
	target   int64      // log end offset durable once the round succeeds
	dirDirty bool
}

// takeWorkLocked captures what the next flusher round must do; ok is false
// when there is nothing to do.
func (l *Log) takeWorkLocked() (w flushWork, ok bool) {
	for _, s := range l.pendingSeal {
		if s.deleted {
			s.unref()
			continue
		}
		w.seals = append(w.seals, s)
	}
	l.pendingSeal = nil
	act := l.active()
	if (l.cfg.Fsync == FsyncAlways || l.syncReq) && (l.durable < l.leo.Load() || act.synced < act.size) {
		act.ref()
		w.act, w.actSize, w.syncAct, w.target = act, act.size, act.synced < act.size, l.leo.Load()
	}
	l.syncReq = false
	w.dirDirty = l.dirDirty
	l.dirDirty = false
	return w, len(w.seals) > 0 || w.act != nil || w.dirDirty
}

// flushLoop runs rounds until there is nothing left. One fsync of the active
// segment covers every append made before it started (group commit).
func (l *Log) flushLoop() {
	defer l.flushWG.Done()
	l.mu.Lock()
	for !l.closed && l.werr == nil {
		w, ok := l.takeWorkLocked()
		if !ok {
			break
		}
		l.mu.Unlock()
		op, err := l.doFlush(&w)
		l.mu.Lock()
		l.finishFlushLocked(&w, op, err)
	}
	l.flushing = false
	l.mu.Unlock()
}

// doFlush fsyncs, without mu: sealed segments and their indexes, the
// active segment, then the directory.
func (l *Log) doFlush(w *flushWork) (string, error) {
	for _, s := range w.seals {
		if err := s.file.Sync(); err != nil {
			return "fsync " + s.path, err
		}
		if err := s.writeIndexes(l.fs); err != nil {
			return "write index of " + s.path, err
		}
		w.dirDirty = true
	}
	if w.syncAct {
		if err := w.act.file.Sync(); err != nil {
			return "fsync " + w.act.path, err
		}
	}
	if w.dirDirty {
		if err := l.fs.SyncDir(l.dir); err != nil {
			return "fsync dir", err
		}
	}
	return "", nil
}

func (l *Log) finishFlushLocked(w *flushWork, op string, err error) {
	defer func() {
		for _, s := range w.seals {
			s.unref()
		}
		if w.act != nil {
			w.act.unref()
		}
	}()
	if err != nil {
		l.failLocked(op, err)
		return
	}
	for _, s := range w.seals {
		s.synced, s.diskClean = s.size, s.size
	}
	if w.act == nil {
		return
	}
	w.act.synced = max(w.act.synced, w.actSize)
	if w.target > l.durable {
		l.durable = w.target
		if l.cfg.Fsync == FsyncAlways {
			l.setHWLocked(w.target, w.act, w.actSize)
		}
		l.notifyLocked()
	}
}

// WaitDurable blocks, under FsyncAlways, until every offset below offset is
// fsynced. It returns nil at once under the other policies.
func (l *Log) WaitDurable(ctx context.Context, offset int64) error {
	l.mu.Lock()
	if l.cfg.Fsync != FsyncAlways {
		l.mu.Unlock()
		return nil
	}
	return l.waitDurableLocked(ctx, offset)
}

// Durable reports whether WaitDurable(offset) would return nil at once:
// the policy does not wait, or an fsync already covers offset.
func (l *Log) Durable(offset int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.werr == nil && !l.closed && (l.cfg.Fsync != FsyncAlways || l.durable >= offset)
}

// waitDurableLocked waits with mu held on entry; it returns with mu released.
func (l *Log) waitDurableLocked(ctx context.Context, offset int64) error {
	for {
		switch {
		case l.durable >= offset:
			l.mu.Unlock()
			return nil
		case l.werr != nil:
			err := l.storageErr()
			l.mu.Unlock()
			return err
		case l.closed:
			l.mu.Unlock()
			return ErrClosed
		}
		l.kickLocked()
		l.notifyTaken = true
		ch := l.notify
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		l.mu.Lock()
	}
}

// Sync fsyncs everything appended so far, whatever the policy.
func (l *Log) Sync() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.syncReq = true
	return l.waitDurableLocked(context.Background(), l.leo.Load())
}

// Close flushes and fsyncs everything, writes the indexes (whose headers are
// the clean-shutdown marker that lets the next Open skip scanning) and
// closes the files once no View pins them. It is idempotent.
func (l *Log) Close() error { return l.close(true) }

func (l *Log) close(flush bool) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
	}
	l.mu.Unlock()
	l.flushWG.Wait() // the flusher sees closed and exits after its round

	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if l.werr == nil && flush {
		if op, ferr := l.flushAllLocked(); ferr != nil {
			err = l.failLocked(op, ferr)
		}
	} else if l.werr != nil {
		err = l.storageErr()
	}
	if l.notifyTaken {
		close(l.notify)
	}
	l.notify, l.notifyTaken = closedChan, false
	for _, s := range l.pendingSeal {
		s.unref()
	}
	l.pendingSeal = nil
	for _, s := range l.segs {
		s.unref()
	}
	return err
}

// flushAllLocked is Close's final flush: nothing else runs any more.
func (l *Log) flushAllLocked() (string, error) {
	dirty := l.dirDirty
	// Never mark clean a file that is not what we think it is.
	act := l.active()
	if n, err := act.file.Size(); err != nil || n != act.size {
		if err == nil {
			err = fmt.Errorf("%s is %d bytes, expected %d", act.path, n, act.size)
		}
		return "stat " + act.path, err
	}
	for _, s := range l.segs {
		if s.synced < s.size {
			if err := s.file.Sync(); err != nil {
				return "fsync " + s.path, err
			}
			s.synced = s.size
		}
		if s.diskClean != s.size {
			if err := s.writeIndexes(l.fs); err != nil {
				return "write index of " + s.path, err
			}
			s.diskClean = s.size
			dirty = true
		}
	}
	if leo := l.leo.Load(); l.snapUpTo != leo && (len(l.producers) > 0 || leo != l.lso.Load()) {
		if err := l.saveProducersLocked(); err != nil {
			return "write producer snapshot", err
		}
		dirty = true
	}
	if dirty {
		if err := l.fs.SyncDir(l.dir); err != nil {
			return "fsync dir", err
		}
	}
	l.durable = l.leo.Load()
	l.setHWLocked(l.durable, act, act.size)
	return "", nil
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	l.close(false)
	if err := l.fs.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("log: delete %s: %w", l.dir, err)
	}
	return nil
}
