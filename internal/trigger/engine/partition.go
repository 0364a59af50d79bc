package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/octofabric/octopus/internal/trigger"
	"github.com/octofabric/octopus/internal/trigger/filter"
)

// partition works one assigned partition of a trigger: it filters the
// records the poll loop queues, cuts batches (size or window), hands each
// to the trigger's pipeline under the runner's concurrency limit, and
// tracks the offset below which everything is finished — the only offset
// the runner commits, so delivery is at-least-once and has no gaps.
//
// Concurrency: the poll loop (push), the worker goroutine (run), the
// batches' goroutines and the engine's tick share the fields under mu; no
// other lock is taken while holding it.
type partition struct {
	r       *runner
	topic   string
	part    int32
	ctx     context.Context // ends at revocation or stop: calls are abandoned
	cancel  context.CancelFunc
	quit    chan struct{} // closed to stop cutting and dispatching batches
	runDone chan struct{} // closed when run returned
	done    chan struct{} // closed when run and every batch goroutine returned
	wake    chan struct{} // 1-buffered: records queued or a batch finished

	mu        sync.Mutex
	queue     []*kgo.Record // polled, not yet looked at by the worker
	next      int64         // offset after the last record the worker took; -1 before any
	cutFirst  int64         // first offset of the batch being cut; -1 if none
	flights   []*flight     // dispatched batches in offset order, finished ones popped from the front
	hwm       int64         // high watermark from the last fetch
	committed int64         // the last offset committed; -1 before any
	running   sync.WaitGroup
}

// flight is a dispatched batch.
type flight struct {
	first, last int64
	finished    bool
}

func newPartition(r *runner, topic string, part int32) *partition {
	ctx, cancel := context.WithCancel(r.work)
	return &partition{r: r, topic: topic, part: part, ctx: ctx, cancel: cancel,
		quit: make(chan struct{}), runDone: make(chan struct{}), done: make(chan struct{}),
		wake: make(chan struct{}, 1), next: -1, cutFirst: -1, hwm: -1, committed: -1}
}

func (p *partition) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// push queues polled records; it never blocks (the poll loop waits for
// room before polling: runner.waitRoom).
func (p *partition) push(recs []*kgo.Record, hwm int64) {
	p.mu.Lock()
	p.queue = append(p.queue, recs...)
	if hwm >= 0 {
		p.hwm = hwm
	}
	p.mu.Unlock()
	p.signal()
}

// full reports whether the queue has reached the runner's limit.
func (p *partition) full() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue) >= p.r.queueHigh
}

// take returns the queued records; taking a full queue makes room.
func (p *partition) take() []*kgo.Record {
	p.mu.Lock()
	recs := p.queue
	p.queue = nil
	p.mu.Unlock()
	if len(recs) >= p.r.queueHigh {
		p.r.roomMade()
	}
	return recs
}

// committable returns the offset to commit: everything below it is
// finished (called, dead-lettered, or filtered out). -1: nothing yet.
func (p *partition) committable() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.committableLocked()
}

func (p *partition) committableLocked() int64 {
	for len(p.flights) > 0 && p.flights[0].finished {
		p.flights = p.flights[1:]
	}
	c := p.next
	if p.cutFirst >= 0 {
		c = p.cutFirst
	}
	if len(p.flights) > 0 {
		c = min(c, p.flights[0].first)
	}
	return c
}

// lag is how many records of the partition are not finished: known from
// the fetch's high watermark.
func (p *partition) lag() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.committableLocked()
	if c < 0 || p.hwm < 0 {
		return int64(len(p.queue))
	}
	return max(0, p.hwm-c)
}

// inFlight reports whether a dispatched batch is unfinished.
func (p *partition) inFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.committableLocked()
	n := 0
	for _, f := range p.flights {
		if !f.finished {
			n++
		}
	}
	return n
}

// run is the worker: it takes queued records, filters them and cuts
// batches until ctx ends. With OrderPartition a batch is dispatched only
// when the one before it finished.
func (p *partition) run() {
	defer func() {
		close(p.runDone)
		p.running.Wait()
		close(p.done)
	}()
	spec := &p.r.d.Spec
	window := time.Duration(spec.BatchWindowMs) * time.Millisecond
	var (
		batch []trigger.Record
		timer *time.Timer
		fire  <-chan time.Time
	)
	flush := func() bool {
		if timer != nil {
			timer.Stop()
			timer, fire = nil, nil
		}
		if len(batch) == 0 {
			return true
		}
		ok := p.dispatch(batch)
		batch = nil
		return ok
	}
	for {
		select {
		case <-p.quit:
			return
		case <-p.ctx.Done():
			return
		case <-fire:
			if !flush() {
				return
			}
			continue
		case <-p.wake:
		}
		for _, kr := range p.take() {
			matched := p.r.matches(kr)
			p.mu.Lock()
			p.next = kr.Offset + 1
			if matched && p.cutFirst < 0 {
				p.cutFirst = kr.Offset
			}
			p.mu.Unlock()
			if !matched {
				p.r.counts.filtered.Inc()
				continue
			}
			p.r.counts.matched.Inc()
			batch = append(batch, toRecord(kr))
			if len(batch) >= spec.BatchSize && !flush() {
				return
			}
		}
		switch {
		case len(batch) == 0:
		case window == 0:
			if !flush() {
				return
			}
		case timer == nil:
			timer = time.NewTimer(window)
			fire = timer.C
		}
	}
}

// dispatch starts a batch's call, waiting first for the batch before it
// (OrderPartition) and for a concurrency slot. It returns false when ctx
// ended first.
func (p *partition) dispatch(recs []trigger.Record) bool {
	spec := &p.r.d.Spec
	if spec.Ordering == trigger.OrderPartition {
		woken := false
		for p.inFlight() > 0 {
			select {
			case <-p.quit:
				return false
			case <-p.ctx.Done():
				return false
			case <-p.wake:
				woken = true
			}
		}
		// A wake-up may have been for records queued meanwhile: pass it on
		// to the worker loop, which takes them after this batch.
		if woken {
			defer p.signal()
		}
	}
	if !p.r.limit.acquire(p.ctx, p.quit) {
		return false
	}
	f := &flight{first: recs[0].Offset, last: recs[len(recs)-1].Offset}
	p.mu.Lock()
	p.flights = append(p.flights, f)
	p.cutFirst = -1
	p.mu.Unlock()
	b := &trigger.Batch{TriggerID: p.r.d.ID, TriggerName: spec.Name,
		ID: deliveryID(p.r.d.ID, p.topic, p.part, f.first, f.last), Records: recs}
	p.running.Add(1)
	go func() {
		defer p.running.Done()
		defer p.r.limit.release()
		if p.r.call(p.ctx, b) {
			p.mu.Lock()
			f.finished = true
			p.mu.Unlock()
			p.r.active.Store(true)
		}
		p.signal()
	}()
	return true
}

// deliveryID names a batch the same way at every attempt and after a
// restart that cuts the same batch, so a receiver can drop repeats.
func deliveryID(trig, topic string, part int32, first, last int64) string {
	h := sha256.New()
	for _, s := range []string{trig, topic, strconv.Itoa(int(part)), strconv.FormatInt(first, 10), strconv.FormatInt(last, 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func toRecord(kr *kgo.Record) trigger.Record {
	r := trigger.Record{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset,
		Timestamp: kr.Timestamp, Key: kr.Key, Value: kr.Value}
	if len(kr.Headers) > 0 {
		r.Headers = make([]trigger.Header, len(kr.Headers))
		for i, h := range kr.Headers {
			r.Headers[i] = trigger.Header{Key: h.Key, Value: h.Value}
		}
	}
	return r
}

// filterRecord is what the filter sees of a record.
func filterRecord(kr *kgo.Record, hs []filter.Header) filter.Record {
	return filter.Record{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset,
		Timestamp: kr.Timestamp.UnixMilli(), Key: kr.Key, Value: kr.Value, Headers: hs}
}

// stop ends the partition's work: no batch is cut or dispatched any more;
// batches in flight get up to grace to finish, then their calls are
// abandoned (unfinished, so the partition's next owner calls them again).
func (p *partition) stop(grace time.Duration) {
	close(p.quit)
	<-p.runDone
	t := time.NewTimer(grace)
	select {
	case <-p.done:
	case <-t.C:
	}
	t.Stop()
	p.cancel()
	<-p.done
}
