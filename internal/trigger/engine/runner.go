package engine

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/trigger"
	"github.com/octofabric/octopus/internal/trigger/filter"
)

type topicPartition struct {
	topic string
	part  int32
}

// runner runs one trigger on this instance: a member of the trigger's
// consumer group whose poll loop feeds one partition worker per assigned
// partition; the engine's tick commits and scales it.
//
// Concurrency: the poll loop, franz-go's rebalance callbacks and the tick
// share parts under mu. A partition is removed from parts before it is
// stopped, so the poll loop never feeds a stopped partition. Commits are
// issued under commitMu, at most one asynchronous one at a time.
type runner struct {
	e       *Engine
	d       trigger.Deployed
	log     *slog.Logger
	metrics *metrics
	counts  recordCounters
	ctx     context.Context // ends the poll loop and ticks
	cancel  context.CancelFunc
	// work is the partitions' context: it outlives ctx so that stopping
	// drains batches in flight (partition.stop) instead of cutting them off.
	work       context.Context
	cancelWork context.CancelFunc
	done       chan struct{}

	cl      *kgo.Client
	flt     *filter.Filter // nil: every record matches
	handler trigger.Handler
	limit   *limiter
	// queueHigh is the queued-record count of a partition at which the
	// poll loop stops polling until the worker takes the queue.
	queueHigh int

	mu    sync.Mutex
	parts map[topicPartition]*partition
	room  chan struct{} // 1-buffered: a full queue was taken, or partitions went

	commitMu   sync.Mutex
	committing atomic.Bool // an asynchronous commit is in flight
	active     atomic.Bool // records polled or a batch finished since the last tick
	below      int         // ticks the scaling rule has seen a smaller need; tick's own
	gauges     *triggerGauges
}

func (e *Engine) newRunner(d trigger.Deployed) (*runner, error) {
	r := &runner{e: e, d: d, metrics: e.metrics, counts: e.metrics.recordCounters(d.ID),
		gauges: e.metrics.triggerGauges(d.ID), done: make(chan struct{}),
		log:   e.log.With("trigger", d.ID),
		limit: newLimiter(d.Spec.Concurrency.Min), queueHigh: max(2*d.Spec.BatchSize, 1000),
		parts: make(map[topicPartition]*partition), room: make(chan struct{}, 1)}
	if len(d.Spec.Filter) > 0 {
		f, err := filter.Compile(d.Spec.Filter)
		if err != nil {
			return nil, err
		}
		r.flt = f
	}
	obs := e.observe
	r.handler = trigger.Chain(e.cfg.Invoker.Handler(d),
		e.deadLetter(d.Spec.DeadLetterTopic, obs),
		e.retry(d.Spec.Retry, obs))
	start := kgo.NewOffset().AtEnd()
	switch d.Spec.Start.Kind {
	case "earliest":
		start = kgo.NewOffset().AtStart()
	case "timestamp":
		start = kgo.NewOffset().AfterMilli(d.Spec.Start.Time.UnixMilli())
	}
	opts := append([]kgo.Opt{
		kgo.ClientID("octopus-trigger-" + d.ID),
		kgo.ConsumerGroup(e.cfg.GroupPrefix + d.ID),
		kgo.ConsumeTopics(d.Spec.Topics...),
		kgo.ConsumeResetOffset(start),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(r.assigned),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.lost),
		kgo.HeartbeatInterval(e.cfg.HeartbeatInterval),
		kgo.FetchMaxWait(e.cfg.FetchMaxWait),
		// Above the fetch wait: a connection reaped as idle while its
		// long poll waits costs a new SASL login (a PBKDF2) to replace.
		kgo.ConnIdleTimeout(e.cfg.FetchMaxWait + time.Minute),
		kgo.WithLogger(kgoLogger{r.log}),
	}, e.cfg.Kafka...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	r.cl = cl
	return r, nil
}

// start runs the trigger until stop.
func (r *runner) start(parent context.Context) {
	r.ctx, r.cancel = context.WithCancel(parent)
	r.work, r.cancelWork = context.WithCancel(context.WithoutCancel(parent))
	r.gauges.set(r.d.Spec.Concurrency.Min, 0)
	go r.run()
}

// stop stops polling, lets batches in flight finish within the drain time,
// commits what finished and leaves the group.
func (r *runner) stop() {
	r.cancel()
	<-r.done
}

func (r *runner) run() {
	defer close(r.done)
	for {
		if !r.waitRoom() {
			break
		}
		fs := r.cl.PollRecords(r.ctx, 10_000)
		if r.ctx.Err() != nil {
			break
		}
		fs.EachError(func(topic string, part int32, err error) {
			if !errors.Is(err, context.Canceled) {
				r.log.Warn("trigger fetch", "topic", topic, "partition", part, "err", err)
			}
		})
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) == 0 {
				return
			}
			r.mu.Lock()
			p := r.parts[topicPartition{fp.Topic, fp.Partition}]
			r.mu.Unlock()
			r.active.Store(true)
			if p != nil {
				p.push(fp.Records, fp.HighWatermark)
			}
		})
	}
	// Closing the client leaves the group; franz-go first calls revoked
	// with every partition, which drains and commits them.
	r.cl.Close()
	stopAll(r.take(nil), 0) // anything the close did not revoke
	r.cancelWork()
	r.metrics.forget(r.d.ID)
}

// waitRoom waits until no partition's queue is full, so that memory stays
// bounded: while the poll loop waits, franz-go holds at most one fetch per
// broker and fetches no more. A partition that cannot keep up thus slows
// the trigger's other partitions on this instance too, which keeps
// fetching simple (pausing single partitions would leave a resumed one
// waiting for another partition's long poll, up to FetchMaxWait). It
// returns false when the runner stops.
func (r *runner) waitRoom() bool {
	for {
		full := false
		for _, p := range r.assignedParts() {
			if p.full() {
				full = true
				break
			}
		}
		if !full {
			return true
		}
		select {
		case <-r.room:
		case <-r.ctx.Done():
			return false
		}
	}
}

// roomMade wakes the poll loop if it waits for room.
func (r *runner) roomMade() {
	select {
	case r.room <- struct{}{}:
	default:
	}
}

// matches applies the trigger's filter to a record.
func (r *runner) matches(kr *kgo.Record) bool {
	if r.flt == nil {
		return true
	}
	var hs []filter.Header
	if len(kr.Headers) > 0 {
		hs = make([]filter.Header, len(kr.Headers))
		for i, h := range kr.Headers {
			hs[i] = filter.Header{Key: h.Key, Value: h.Value}
		}
	}
	fr := filterRecord(kr, hs)
	return r.flt.Match(&fr)
}

// call runs the pipeline on a batch until it is finished (true) or ctx
// ends (false). The pipeline itself retries calls and dead-letters; an
// error it returns while ctx lives (the dead-letter topic could not be
// written) is retried here after a pause, so a batch is never skipped.
func (r *runner) call(ctx context.Context, b *trigger.Batch) bool {
	wait := time.Second
	for {
		err := r.handler.Handle(ctx, b)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		r.log.Warn("trigger batch not finished; will try again", "delivery", b.ID, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func (r *runner) assigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			tp := topicPartition{t, p}
			if r.parts[tp] != nil {
				continue
			}
			w := newPartition(r, t, p)
			r.parts[tp] = w
			r.active.Store(true)
			go w.run()
		}
	}
	r.log.Debug("partitions assigned", "partitions", m)
}

// revoked drains the revoked partitions (batches in flight get the drain
// time to finish) and commits what finished, before the rebalance goes on.
func (r *runner) revoked(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	ps := r.take(m)
	stopAll(ps, r.e.cfg.DrainTimeout)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	r.commit(cctx, ps)
	r.log.Debug("partitions revoked", "partitions", m)
}

// lost abandons partitions another member may own already: no commit.
func (r *runner) lost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	stopAll(r.take(m), 0)
	r.log.Info("partitions lost", "partitions", m)
}

// take removes the named partitions (nil: all) from parts and returns them.
func (r *runner) take(m map[string][]int32) []*partition {
	defer r.roomMade() // a full queue may have gone with them
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*partition
	if m == nil {
		for tp, w := range r.parts {
			out = append(out, w)
			delete(r.parts, tp)
		}
		return out
	}
	for t, ps := range m {
		for _, p := range ps {
			tp := topicPartition{t, p}
			if w := r.parts[tp]; w != nil {
				out = append(out, w)
				delete(r.parts, tp)
			}
		}
	}
	return out
}

func stopAll(ps []*partition, grace time.Duration) {
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() { p.stop(grace) })
	}
	wg.Wait()
}

func (r *runner) assignedParts() []*partition {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*partition, 0, len(r.parts))
	for _, p := range r.parts {
		out = append(out, p)
	}
	return out
}

// tick is the runner's share of the engine's periodic work (one goroutine
// for all triggers, so an idle trigger costs no wake-ups of its own): an
// asynchronous commit of what finished since the last one — a crash
// re-delivers at most that (at-least-once) — and the scaling rule.
func (r *runner) tick() {
	if r.ctx.Err() != nil {
		return
	}
	// An idle trigger at rest — nothing polled or finished since the last
	// tick, no backlog, at its minimum — has nothing to commit or scale.
	cur, _ := r.limit.state()
	if !r.active.Swap(false) && r.gauges.lastBacklog == 0 && cur == r.d.Spec.Concurrency.Min && r.below == 0 {
		return
	}
	ps := r.assignedParts()
	r.commitAsync(ps)
	var backlog int64
	for _, p := range ps {
		backlog += p.lag()
	}
	s := &r.d.Spec
	next := scale(backlog, s.BatchSize, cur, s.Concurrency.Min, s.Concurrency.Max, &r.below)
	if next != cur {
		r.limit.setLimit(next)
		r.log.Debug("trigger concurrency", "from", cur, "to", next, "backlog", backlog)
	}
	r.gauges.set(next, backlog)
}

// offsetsToCommit returns the committable offsets of ps that moved since
// their last commit.
func offsetsToCommit(ps []*partition) (map[string]map[int32]kgo.EpochOffset, []*partition, []int64) {
	offsets := map[string]map[int32]kgo.EpochOffset{}
	var moved []*partition
	var at []int64
	for _, p := range ps {
		c := p.committable()
		p.mu.Lock()
		last := p.committed
		p.mu.Unlock()
		if c < 0 || c == last {
			continue
		}
		if offsets[p.topic] == nil {
			offsets[p.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[p.topic][p.part] = kgo.EpochOffset{Epoch: -1, Offset: c}
		moved, at = append(moved, p), append(at, c)
	}
	return offsets, moved, at
}

// commitAsync issues a commit without waiting for it; at most one is in
// flight per runner. commitMu orders it against revocation's sync commit.
func (r *runner) commitAsync(ps []*partition) {
	if !r.committing.CompareAndSwap(false, true) {
		r.active.Store(true) // not idle: this tick's offsets wait for the next
		return
	}
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	offsets, moved, at := offsetsToCommit(ps)
	if len(moved) == 0 {
		r.committing.Store(false)
		return
	}
	r.cl.CommitOffsets(r.ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		defer r.committing.Store(false)
		r.committed(moved, at, resp, err)
		// The next tick looks again: a failed commit is retried, and an
		// offset that moved meanwhile is committed.
		r.active.Store(true)
	})
}

// committed records a commit's outcome.
func (r *runner) committed(moved []*partition, at []int64, resp *kmsg.OffsetCommitResponse, err error) bool {
	if err == nil {
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil && err == nil {
					err = e
				}
			}
		}
	}
	if err != nil {
		if r.ctx.Err() == nil && !errors.Is(err, context.Canceled) {
			r.log.Warn("trigger commit failed; will try again", "err", err)
		}
		return false
	}
	for i, p := range moved {
		p.mu.Lock()
		p.committed = max(p.committed, at[i])
		p.mu.Unlock()
	}
	return true
}

// commit commits, and waits for, the committable offsets of ps that
// moved since their last commit (revocation).
func (r *runner) commit(ctx context.Context, ps []*partition) {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	offsets, moved, at := offsetsToCommit(ps)
	if len(moved) == 0 {
		return
	}
	r.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		r.committed(moved, at, resp, err)
	})
}
