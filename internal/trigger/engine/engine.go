// Package engine runs managed triggers: each trigger is a consumer group on
// its source topics, joined by every Octopus instance that runs an Engine,
// so the partitions of a trigger spread over the instances. On each
// instance a trigger's runner filters the records of its partitions, cuts
// batches, calls the action (trigger/invoke: retry, dead letters) within a
// concurrency limit that follows the backlog, and commits only offsets
// below which everything is finished: at-least-once, with no gaps. Every
// call's outcome goes to the invocation log, an internal topic, and to
// Prometheus metrics.
//
// Concurrency: Run owns the set of runners (one goroutine reconciles it
// with the Source); each runner owns its partitions (runner.go).
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/octofabric/octopus/internal/trigger"
	"github.com/octofabric/octopus/internal/trigger/invoke"
)

// Defaults of Config.
const (
	DefaultGroupPrefix  = "octopus.trigger."
	DefaultLogTopic     = "octopus.trigger-invocations"
	DefaultLogRetention = 7 * 24 * time.Hour
	DefaultLogParts     = 8
)

// Invoker makes the handler that calls a trigger's action once per Handle
// (trigger/invoke.Invoker).
type Invoker interface {
	Handler(d trigger.Deployed) trigger.Handler
}

// Config configures an Engine.
type Config struct {
	Source trigger.Source // required
	// Kafka are the franz-go options that reach the event plane as a super
	// user (seed brokers, TLS, SASL); the engine adds group and producer
	// options.
	Kafka   []kgo.Opt
	Invoker Invoker // required
	// ReconcileEvery is how often the Source is read again; Notify asks
	// for it at once. Default 2 s.
	ReconcileEvery time.Duration
	// DrainTimeout bounds how long a stopping or revoked partition waits
	// for its batches in flight; default 10 s.
	DrainTimeout time.Duration
	// TickEvery is the period of the one goroutine that commits finished
	// offsets and applies the scaling rule for every trigger; default 1 s.
	TickEvery time.Duration
	// HeartbeatInterval and FetchMaxWait of each trigger's consumer are
	// most of what an idle trigger costs: defaults 15 s (a third of the
	// default 45 s session timeout, the longest Kafka advises; its client
	// uses 3 s) and 30 s (Kafka's client: 0.5 s; franz-go's: 5 s). A
	// long fetch wait costs no latency: the broker answers when records
	// arrive. A long heartbeat interval delays noticing a rebalance, when
	// an Octopus instance joins or leaves, by up to that interval.
	HeartbeatInterval time.Duration
	FetchMaxWait      time.Duration
	GroupPrefix       string // consumer group of trigger ID is GroupPrefix+ID
	LogTopic          string // the invocation log; created if missing
	LogPartitions     int32
	LogRetention      time.Duration
	Registerer        prometheus.Registerer // nil: metrics are not exported
	Logger            *slog.Logger
}

func (c *Config) setDefaults() {
	if c.ReconcileEvery <= 0 {
		c.ReconcileEvery = 2 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.TickEvery <= 0 {
		c.TickEvery = time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 15 * time.Second
	}
	if c.FetchMaxWait <= 0 {
		c.FetchMaxWait = 30 * time.Second
	}
	if c.GroupPrefix == "" {
		c.GroupPrefix = DefaultGroupPrefix
	}
	if c.LogTopic == "" {
		c.LogTopic = DefaultLogTopic
	}
	if c.LogPartitions <= 0 {
		c.LogPartitions = DefaultLogParts
	}
	if c.LogRetention <= 0 {
		c.LogRetention = DefaultLogRetention
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a configuration that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.Source == nil:
		return errors.New("engine: no trigger Source")
	case c.Invoker == nil:
		return errors.New("engine: no Invoker")
	case len(c.Kafka) == 0:
		return errors.New("engine: no Kafka options")
	}
	return nil
}

// Engine runs the triggers of its Source. Create it with New, run it with
// Run; Logs serves the invocation log.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	prod    *kgo.Client // dead letters and the invocation log
	invlog  *invocationLog
	notify  chan struct{}

	known map[string]bool // trigger IDs the last reconcile read; Run's own

	mu      sync.Mutex
	runners map[string]*runner // by trigger ID; owned by Run
}

// New builds an Engine; it connects to the event plane lazily.
func New(cfg Config) (*Engine, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, metrics: newMetrics(), notify: make(chan struct{}, 1),
		runners: map[string]*runner{}}
	if cfg.Registerer != nil {
		if err := e.metrics.register(cfg.Registerer); err != nil {
			return nil, fmt.Errorf("engine: metrics: %w", err)
		}
	}
	prod, err := kgo.NewClient(append([]kgo.Opt{
		kgo.ClientID("octopus-trigger-engine"),
		kgo.ProducerLinger(2 * time.Millisecond),
		kgo.WithLogger(kgoLogger{cfg.Logger}),
	}, cfg.Kafka...)...)
	if err != nil {
		return nil, fmt.Errorf("engine: Kafka client: %w", err)
	}
	e.prod = prod
	e.invlog = &invocationLog{e: e, topic: cfg.LogTopic, parts: cfg.LogPartitions}
	return e, nil
}

// Notify asks Run to read the Source again now (after a change through
// this instance's API); other instances see the change within
// ReconcileEvery.
func (e *Engine) Notify() {
	select {
	case e.notify <- struct{}{}:
	default:
	}
}

// Run runs triggers until ctx ends, then stops them all (draining batches
// in flight) and closes the Engine's clients.
func (e *Engine) Run(ctx context.Context) error {
	defer e.prod.Close()
	if err := e.invlog.ensureTopic(ctx); err != nil {
		e.log.Warn("trigger invocation log topic", "topic", e.cfg.LogTopic, "err", err)
	}
	t := time.NewTicker(e.cfg.ReconcileEvery)
	defer t.Stop()
	tickCtx, stopTicks := context.WithCancel(ctx)
	ticks := make(chan struct{})
	go func() {
		defer close(ticks)
		e.ticks(tickCtx)
	}()
	defer func() { stopTicks(); <-ticks }()
	for {
		e.reconcile(ctx)
		select {
		case <-ctx.Done():
			e.stopAll()
			return nil
		case <-t.C:
		case <-e.notify:
		}
	}
}

// ticks runs every runner's tick each TickEvery until ctx ends.
func (e *Engine) ticks(ctx context.Context) {
	t := time.NewTicker(e.cfg.TickEvery)
	defer t.Stop()
	var rs []*runner
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.mu.Lock()
		rs = rs[:0]
		for _, r := range e.runners {
			rs = append(rs, r)
		}
		e.mu.Unlock()
		for _, r := range rs {
			r.tick()
		}
	}
}

// reconcile starts, stops and restarts runners to match the Source.
func (e *Engine) reconcile(ctx context.Context) {
	ds, err := e.cfg.Source.Triggers(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("reading triggers", "err", err)
		}
		return
	}
	want := make(map[string]trigger.Deployed, len(ds))
	present := make(map[string]bool, len(ds))
	for _, d := range ds {
		present[d.ID] = true
		if d.Spec.Enabled {
			want[d.ID] = d
		}
	}
	var deleted []string
	for id := range e.known {
		if !present[id] {
			deleted = append(deleted, id)
		}
	}
	e.known = present
	e.mu.Lock()
	var stop []*runner
	for id, r := range e.runners {
		if d, ok := want[id]; !ok || d.Version != r.d.Version {
			stop = append(stop, r)
			delete(e.runners, id)
		}
	}
	e.mu.Unlock()
	stopRunners(stop)
	e.deleteGroups(ctx, deleted)
	for id, d := range want {
		e.mu.Lock()
		_, running := e.runners[id]
		e.mu.Unlock()
		if running {
			continue
		}
		r, err := e.newRunner(d)
		if err != nil {
			e.log.Warn("cannot run trigger", "trigger", id, "err", err)
			continue
		}
		r.start(ctx)
		e.mu.Lock()
		e.runners[id] = r
		e.mu.Unlock()
		e.log.Info("trigger running", "trigger", id, "name", d.Spec.Name, "version", d.Version)
	}
	e.metrics.running(len(want))
}

// deleteGroups deletes the consumer groups of deleted triggers, now that
// this instance left them. Another instance may still be a member: its own
// attempt, when it stops the trigger, succeeds instead. A trigger deleted
// while no instance ran leaves its group (committed offsets only).
func (e *Engine) deleteGroups(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	groups := make([]string, len(ids))
	for i, id := range ids {
		groups[i] = e.cfg.GroupPrefix + id
	}
	rs, err := kadm.NewClient(e.prod).DeleteGroups(ctx, groups...)
	if err != nil {
		e.log.Debug("deleting the groups of deleted triggers", "groups", groups, "err", err)
		return
	}
	for g, r := range rs {
		if r.Err == nil {
			e.log.Info("deleted the consumer group of a deleted trigger", "group", g)
		} else if !errors.Is(r.Err, kerr.GroupIDNotFound) && !errors.Is(r.Err, kerr.NonEmptyGroup) {
			e.log.Warn("deleting the consumer group of a deleted trigger", "group", g, "err", r.Err)
		}
	}
}

func (e *Engine) stopAll() {
	e.mu.Lock()
	var rs []*runner
	for id, r := range e.runners {
		rs = append(rs, r)
		delete(e.runners, id)
	}
	e.mu.Unlock()
	stopRunners(rs)
}

func stopRunners(rs []*runner) {
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(r.stop)
	}
	wg.Wait()
}

// Running is what a trigger running on this instance is doing.
type Running struct {
	Version     int64 // of the spec it runs
	Concurrency int   // the batches it may have in flight now
	Partitions  int   // assigned to this instance
}

// Running returns the triggers running on this instance, by ID.
func (e *Engine) Running() map[string]Running {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]Running, len(e.runners))
	for id, r := range e.runners {
		c, _ := r.limit.state()
		r.mu.Lock()
		n := len(r.parts)
		r.mu.Unlock()
		out[id] = Running{Version: r.d.Version, Concurrency: c, Partitions: n}
	}
	return out
}

// observe records one invocation: metrics and the invocation log.
func (e *Engine) observe(inv trigger.Invocation) {
	e.metrics.invocation(inv)
	e.invlog.write(inv)
}

// Logs implements trigger.LogReader.
func (e *Engine) Logs(ctx context.Context, triggerID string, q trigger.LogQuery) ([]trigger.Invocation, error) {
	return e.invlog.read(ctx, triggerID, q)
}

func (e *Engine) retry(p trigger.Retry, obs invoke.Observer) trigger.Stage {
	return invoke.Retry(p, obs)
}

func (e *Engine) deadLetter(topic string, obs invoke.Observer) trigger.Stage {
	return invoke.DeadLetter(producer{e.prod}, topic, obs)
}

// producer writes dead letters with the engine's client.
type producer struct{ cl *kgo.Client }

func (p producer) Produce(ctx context.Context, topic string, recs []trigger.Record) error {
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		kr := &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		krs[i] = kr
	}
	return p.cl.ProduceSync(ctx, krs...).FirstErr()
}

// kgoLogger sends franz-go's warnings and errors to slog.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	switch level {
	case kgo.LogLevelError:
		k.l.Error("kafka client: "+msg, kv...)
	case kgo.LogLevelWarn:
		k.l.Warn("kafka client: "+msg, kv...)
	}
}
