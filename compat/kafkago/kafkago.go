// Package kafkago runs the compatibility scenario (compat/scenario) with
// segmentio/kafka-go: Client.CreateTopics for the topic, a Writer (hash
// balancer, acks=all) and a group Reader with synchronous commits
// (CommitInterval 0) and its default balancers (range, round robin).
package kafkago

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/octofabric/octopus/compat/scenario"
)

// Module is the client's module path; its version is read from the binary.
const Module = "github.com/segmentio/kafka-go"

// fetchWait bounds one FetchMessage, so the member notices when its part is
// done.
const fetchWait = 200 * time.Millisecond

// Run runs the scenario with kafka-go. logTo, if not nil, receives the
// reader's and writer's logs.
func Run(ctx context.Context, cfg scenario.Config, logTo io.Writer) scenario.Result {
	cfg.Client = "kafka-go"
	d := &driver{bootstrap: cfg.Bootstrap, sec: cfg.Security}
	if logTo != nil {
		d.logger = log.New(logTo, "[kafka-go] ", log.Lmicroseconds)
	}
	return scenario.Run(ctx, cfg, scenario.ModuleVersion(Module), d)
}

type driver struct {
	bootstrap string
	sec       scenario.Security
	logger    *log.Logger // nil: no logs
}

// transport is the Transport of the Client and Writer: nil (kafka-go's
// DefaultTransport) for PLAINTEXT, else one with TLS and SCRAM-SHA-512.
func (d *driver) transport() (*kafka.Transport, error) {
	if !d.sec.Secure() {
		return nil, nil
	}
	tc, err := d.sec.TLSConfig()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{TLS: tc, SASL: scramMechanism{d.sec.Scram()}}, nil
}

// dialer is the Reader's Dialer, which carries the same settings for its
// connections (fetches and the group coordinator).
func (d *driver) dialer() (*kafka.Dialer, error) {
	if !d.sec.Secure() {
		return nil, nil
	}
	tc, err := d.sec.TLSConfig()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: tc, SASLMechanism: scramMechanism{d.sec.Scram()}}, nil
}

// roundTripper is tr as the Client's RoundTripper: a nil *Transport must
// stay a nil interface, which the Client takes for DefaultTransport.
func roundTripper(tr *kafka.Transport) kafka.RoundTripper {
	if tr == nil {
		return nil
	}
	return tr
}

func (d *driver) logs() (info, errs kafka.Logger) {
	if d.logger == nil {
		return nil, nil
	}
	return d.logger, kafka.LoggerFunc(func(f string, a ...any) { d.logger.Printf("ERROR "+f, a...) })
}

func (d *driver) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	tr, err := d.transport()
	if err != nil {
		return err
	}
	cl := &kafka.Client{Addr: kafka.TCP(d.bootstrap), Transport: roundTripper(tr)}
	if tr != nil {
		defer tr.CloseIdleConnections()
	}
	resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: int(partitions), ReplicationFactor: 1}},
	})
	if err != nil {
		return err
	}
	return resp.Errors[topic]
}

// Produce uses a synchronous Writer and takes the acknowledged positions
// from its Completion callback.
func (d *driver) Produce(ctx context.Context, topic string, recs []*scenario.Record) error {
	byKey := make(map[string]*scenario.Record, len(recs))
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		byKey[r.Key] = r
		msgs[i] = kafka.Message{Key: []byte(r.Key), Value: []byte(r.Value)}
		for _, h := range r.Headers {
			msgs[i].Headers = append(msgs[i].Headers, kafka.Header{Key: h.Key, Value: []byte(h.Value)})
		}
	}
	tr, err := d.transport()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	info, errs := d.logs()
	w := &kafka.Writer{
		Addr:         kafka.TCP(d.bootstrap),
		Transport:    roundTripper(tr),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 10 * time.Millisecond,
		Logger:       info,
		ErrorLogger:  errs,
		Completion: func(done []kafka.Message, err error) {
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, m := range done {
				if r := byKey[string(m.Key)]; r != nil {
					r.Partition, r.Offset = int32(m.Partition), m.Offset
				}
			}
		},
	}
	err = w.WriteMessages(ctx, msgs...)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if tr != nil {
		tr.CloseIdleConnections()
	}
	return err
}

func (d *driver) Consume(ctx context.Context, m *scenario.Member) error {
	dialer, err := d.dialer()
	if err != nil {
		return err
	}
	info, errs := d.logs()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        []string{d.bootstrap},
		Dialer:         dialer,
		GroupID:        m.Config.Group,
		Topic:          m.Config.Topic,
		StartOffset:    kafka.FirstOffset,
		CommitInterval: 0, // synchronous commits
		MaxWait:        250 * time.Millisecond,
		Logger:         info,
		ErrorLogger:    errs,
	})
	for !m.Done() {
		fctx, cancel := context.WithTimeout(ctx, fetchWait)
		msg, err := r.FetchMessage(fctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				r.Close()
				return ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			r.Close()
			return fmt.Errorf("FetchMessage: %w", err)
		}
		rec := scenario.Record{Partition: int32(msg.Partition), Offset: msg.Offset, Key: string(msg.Key), Value: string(msg.Value)}
		for _, h := range msg.Headers {
			rec.Headers = append(rec.Headers, scenario.Header{Key: h.Key, Value: string(h.Value)})
		}
		if !m.Process(rec) {
			break
		}
		if err := r.CommitMessages(ctx, msg); err != nil {
			r.Close()
			return fmt.Errorf("CommitMessages %s[%d]@%d: %w", msg.Topic, msg.Partition, msg.Offset, err)
		}
	}
	if err := r.Close(); err != nil { // leaves the group
		return fmt.Errorf("Close: %w", err)
	}
	return nil
}
