package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProduceConfig describes a produce run. Zero values take the defaults noted
// on each field; at least one of Records and Duration must be positive.
type ProduceConfig struct {
	Brokers []string
	Topic   string
	// Partitions is used to create Topic if it does not exist (default 1);
	// an existing topic is used as it is.
	Partitions int
	RecordSize int           // value bytes per record (default 1024); no key
	Records    int64         // stop after this many records are enqueued (0: no count bound)
	Duration   time.Duration // stop enqueueing after this long (0: MaxRunTime)
	Producers  int           // kgo clients producing concurrently (default 1)

	Acks string // "all" (default), "1" or "0"
	// DisableIdempotence turns off idempotent writes for acks=all. They are
	// always off for acks=1 and 0. With them on, kgo still falls back to
	// plain writes if the broker has no InitProducerID.
	DisableIdempotence bool
	// Linger is kgo.ProducerLinger; 0 keeps kgo's default (10 ms) and a
	// negative value disables lingering.
	Linger             time.Duration
	BatchMaxBytes      int    // kgo.ProducerBatchMaxBytes (default 1,000,000)
	Compression        string // none (default), gzip, snappy, lz4, zstd
	MaxBufferedRecords int    // kgo.MaxBufferedRecords per producer (0: kgo's default, 50,000)

	Label    string    // copied to the Result
	Workload string    // copied to the Result
	Opts     []kgo.Opt // extra client options (TLS, SASL, logging)
}

func (c *ProduceConfig) defaults() error {
	if len(c.Brokers) == 0 {
		return errors.New("bench: no brokers")
	}
	if c.Topic == "" {
		return errors.New("bench: no topic")
	}
	if c.Records <= 0 && c.Duration <= 0 {
		return errors.New("bench: a run needs a record count or a duration")
	}
	if c.Partitions <= 0 {
		c.Partitions = 1
	}
	if c.RecordSize <= 0 {
		c.RecordSize = 1024
	}
	if c.Producers <= 0 {
		c.Producers = 1
	}
	if c.Acks == "" {
		c.Acks = "all"
	}
	if c.BatchMaxBytes <= 0 {
		c.BatchMaxBytes = 1_000_000
	}
	if c.Compression == "" {
		c.Compression = "none"
	}
	return nil
}

// clientOpts turns the config into producer options.
func (c *ProduceConfig) clientOpts() ([]kgo.Opt, error) {
	acks, idemOK, err := parseAcks(c.Acks)
	if err != nil {
		return nil, err
	}
	codec, err := parseCompression(c.Compression)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.DefaultProduceTopic(c.Topic),
		kgo.RequiredAcks(acks),
		kgo.ProducerBatchMaxBytes(int32(c.BatchMaxBytes)),
		kgo.ProducerBatchCompression(codec),
	}
	if !idemOK || c.DisableIdempotence {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	switch {
	case c.Linger > 0:
		opts = append(opts, kgo.ProducerLinger(c.Linger))
	case c.Linger < 0:
		opts = append(opts, kgo.ProducerLinger(0))
	}
	if c.MaxBufferedRecords > 0 {
		opts = append(opts, kgo.MaxBufferedRecords(c.MaxBufferedRecords))
	}
	return append(opts, c.Opts...), nil
}

// produceState is shared by the producer goroutines and their promises.
type produceState struct {
	hist    *Histogram
	acked   atomic.Int64
	bytes   atomic.Int64
	failed  atomic.Int64
	lastAck atomic.Int64 // nanoseconds since start of the newest acknowledgement
	start   time.Time
	stop    atomic.Bool // set on the first failure
	errOnce sync.Once
	err     error
}

func (s *produceState) promise(r *kgo.Record, err error) {
	now := time.Now()
	if err != nil {
		s.failed.Add(1)
		s.errOnce.Do(func() { s.err = err })
		s.stop.Store(true)
		return
	}
	s.hist.Record(now.Sub(r.Timestamp))
	s.acked.Add(1)
	s.bytes.Add(int64(len(r.Value) + len(r.Key)))
	at := int64(now.Sub(s.start))
	for {
		cur := s.lastAck.Load()
		if cur >= at || s.lastAck.CompareAndSwap(cur, at) {
			break
		}
	}
}

// Produce runs the configured produce load and reports what the producers
// saw. It stops enqueueing at Records or Duration, whichever comes first,
// then waits (up to 30 s) for every outstanding record. The first failed
// record stops the run; the result is returned along with that error.
func Produce(ctx context.Context, cfg ProduceConfig) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	opts, err := cfg.clientOpts()
	if err != nil {
		return Result{}, err
	}
	res := Result{
		Mode: ModeProduce, Label: cfg.Label, Workload: cfg.Workload, Topic: cfg.Topic,
		RecordSize: cfg.RecordSize, Clients: cfg.Producers, Acks: cfg.Acks,
		Compression: cfg.Compression, BatchBytes: cfg.BatchMaxBytes,
	}

	admCl, adm, err := newAdmin(cfg.Brokers, cfg.Opts)
	if err != nil {
		return res, err
	}
	parts, err := ensureTopic(ctx, adm, cfg.Topic, cfg.Partitions)
	admCl.Close()
	if err != nil {
		return res, err
	}
	res.Partitions = len(parts)

	clients := make([]*kgo.Client, cfg.Producers)
	for i := range clients {
		if clients[i], err = kgo.NewClient(opts...); err != nil {
			for _, cl := range clients[:i] {
				cl.Close()
			}
			return res, fmt.Errorf("bench: producer client: %w", err)
		}
	}
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()

	pl := newPayload(cfg.RecordSize, 1)
	st := &produceState{hist: NewHistogram(), start: time.Now()}
	sendFor := cfg.Duration
	if sendFor <= 0 {
		sendFor = MaxRunTime
	}
	deadline := st.start.Add(sendFor)
	// Records are produced with a context that outlives the send phase, so
	// records still buffered when sending stops are not failed by it.
	hardCtx, cancel := context.WithTimeout(ctx, sendFor+drainTimeout+5*time.Second)
	defer cancel()

	var issued atomic.Int64
	var wg sync.WaitGroup
	for i, cl := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i)+1, 7))
			for !st.stop.Load() && hardCtx.Err() == nil {
				if cfg.Records > 0 && issued.Add(1) > cfg.Records {
					return
				}
				now := time.Now()
				if now.After(deadline) {
					return
				}
				cl.Produce(hardCtx, &kgo.Record{Value: pl.value(r), Timestamp: now}, st.promise)
			}
		})
	}
	wg.Wait()

	drainCtx, drainCancel := context.WithTimeout(hardCtx, drainTimeout)
	defer drainCancel()
	var flushErr error
	for _, cl := range clients {
		if err := cl.Flush(drainCtx); err != nil && flushErr == nil {
			flushErr = fmt.Errorf("bench: flush: %w", err)
		}
	}

	res.Records = st.acked.Load()
	res.Bytes = st.bytes.Load()
	res.Errors = st.failed.Load()
	res.Elapsed = time.Duration(st.lastAck.Load())
	res.Latency = st.hist.Summary()
	switch {
	case st.err != nil:
		return res, fmt.Errorf("bench: produce: %d records failed, first: %w", res.Errors, st.err)
	case flushErr != nil:
		return res, flushErr
	case ctx.Err() != nil:
		return res, ctx.Err()
	}
	return res, nil
}
