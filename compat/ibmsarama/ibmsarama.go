// Package ibmsarama runs the compatibility scenario (compat/scenario) with
// IBM/sarama: ClusterAdmin for the topic, a SyncProducer, and a
// ConsumerGroup with its defaults (range balancer, automatic commits every
// second). Each processed message is marked at once (MarkMessage), which
// is sarama's idiom: the session commits the marked offsets periodically
// and once more when it ends, at a rebalance or Close, before the member
// rejoins or leaves.
//
// Committing each message synchronously (session.Commit) instead works but
// costs up to one Fetch MaxWaitTime (500 ms) per commit: sarama sends the
// OffsetCommit on the connection that carries its long-polling Fetch, and
// the broker answers a connection's requests in order, as Kafka does.
package ibmsarama

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/octofabric/octopus/compat/scenario"
)

// Module is the client's module path; its version is read from the binary.
const Module = "github.com/IBM/sarama"

// debugMu serialises the use of sarama's package-level logger.
var debugMu sync.Mutex

// Run runs the scenario with sarama. log, if not nil, receives sarama's
// (package-global) debug logger for the duration of the run.
func Run(ctx context.Context, cfg scenario.Config, logTo io.Writer) scenario.Result {
	cfg.Client = "sarama"
	if logTo != nil {
		debugMu.Lock()
		defer debugMu.Unlock()
		prev := sarama.Logger
		sarama.Logger = log.New(logTo, "[sarama] ", log.Lmicroseconds)
		defer func() { sarama.Logger = prev }()
	}
	return scenario.Run(ctx, cfg, scenario.ModuleVersion(Module), &driver{bootstrap: cfg.Bootstrap, sec: cfg.Security})
}

type driver struct {
	bootstrap string
	sec       scenario.Security
}

// config is sarama's configuration for the run: its defaults (the default
// protocol version, sarama.DefaultVersion), and under SASL_SSL Net.TLS with
// the CA and Net.SASL with SCRAM-SHA-512, whose client sarama leaves to
// the application (SCRAMClientGeneratorFunc; see scramClient).
func (d *driver) config() (*sarama.Config, error) {
	c := sarama.NewConfig()
	c.ClientID = "octopus-compat-sarama"
	if !d.sec.Secure() {
		return c, nil
	}
	tc, err := d.sec.TLSConfig()
	if err != nil {
		return nil, err
	}
	c.Net.TLS.Enable = true
	c.Net.TLS.Config = tc
	c.Net.SASL.Enable = true
	c.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
	c.Net.SASL.User = d.sec.Username
	c.Net.SASL.Password = d.sec.Password
	c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{} }
	return c, nil
}

func (d *driver) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	c, err := d.config()
	if err != nil {
		return err
	}
	adm, err := sarama.NewClusterAdmin([]string{d.bootstrap}, c)
	if err != nil {
		return err
	}
	defer adm.Close()
	return adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false)
}

// Produce uses a SyncProducer with acks=all and the default (hash)
// partitioner.
func (d *driver) Produce(ctx context.Context, topic string, recs []*scenario.Record) error {
	c, err := d.config()
	if err != nil {
		return err
	}
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer([]string{d.bootstrap}, c)
	if err != nil {
		return err
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		pm := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(r.Key), Value: sarama.StringEncoder(r.Value)}
		for _, h := range r.Headers {
			pm.Headers = append(pm.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: []byte(h.Value)})
		}
		msgs[i] = pm
	}
	if err := p.SendMessages(msgs); err != nil {
		return err
	}
	for i, pm := range msgs {
		recs[i].Partition, recs[i].Offset = pm.Partition, pm.Offset
	}
	return nil
}

func (d *driver) Consume(ctx context.Context, m *scenario.Member) error {
	c, err := d.config()
	if err != nil {
		return err
	}
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Return.Errors = true
	group, err := sarama.NewConsumerGroup([]string{d.bootstrap}, m.Config.Group, c)
	if err != nil {
		return err
	}
	h := &handler{m: m}
	var errs []error
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for err := range group.Errors() {
			h.mu.Lock()
			errs = append(errs, err)
			h.mu.Unlock()
		}
	}()

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // end the session once the member's part is done
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for !m.Done() {
			select {
			case <-cctx.Done():
				return
			case <-tick.C:
			}
		}
		cancel()
	}()
	var consumeErr error
	for cctx.Err() == nil {
		if err := group.Consume(cctx, []string{m.Config.Topic}, h); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
			consumeErr = fmt.Errorf("Consume: %w", err)
			break
		}
	}
	closeErr := group.Close() // leaves the group
	<-drained
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case consumeErr != nil:
		return consumeErr
	case closeErr != nil:
		return fmt.Errorf("Close: %w", closeErr)
	case len(errs) > 0:
		return fmt.Errorf("consumer group errors: %v", errors.Join(errs...))
	}
	return nil
}

// handler processes messages one at a time across the member's claims, so
// that A stops at exactly LeaveAfter.
type handler struct {
	m  *scenario.Member
	mu sync.Mutex
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			if !h.process(sess, msg) {
				return nil
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}

func (h *handler) process(sess sarama.ConsumerGroupSession, msg *sarama.ConsumerMessage) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := scenario.Record{Partition: msg.Partition, Offset: msg.Offset, Key: string(msg.Key), Value: string(msg.Value)}
	for _, hd := range msg.Headers {
		r.Headers = append(r.Headers, scenario.Header{Key: string(hd.Key), Value: string(hd.Value)})
	}
	if !h.m.Process(r) {
		return false
	}
	sess.MarkMessage(msg, "")
	return true
}
