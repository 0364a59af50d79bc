package test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// clientTimeout bounds every produce or consume of one topic.
const clientTimeout = 90 * time.Second

// newKgo returns a franz-go client for addr, closed by t.Cleanup.
func newKgo(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ClientID("octopus-test"),
		kgo.RetryTimeout(30 * time.Second),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates topic with the given partitions and waits until the
// broker reports it.
func createTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(newKgo(t, addr))
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v (%s)", topic, err, resp.ErrMessage)
	}
}

// offsets returns each partition's log start and end offsets.
func offsets(t *testing.T, addr, topic string) (start, end map[int32]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(newKgo(t, addr))
	get := func(list func(context.Context, ...string) (kadm.ListedOffsets, error)) map[int32]int64 {
		t.Helper()
		lo, err := list(ctx, topic)
		if err == nil {
			err = lo.Error()
		}
		if err != nil {
			t.Fatalf("list offsets of %s: %v", topic, err)
		}
		out := map[int32]int64{}
		lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
		if len(out) == 0 {
			t.Fatalf("list offsets of %s: no partitions", topic)
		}
		return out
	}
	return get(adm.ListStartOffsets), get(adm.ListEndOffsets)
}

func kgoCodec(t *testing.T, name string) kgo.CompressionCodec {
	t.Helper()
	switch name {
	case "none":
		return kgo.NoCompression()
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	t.Fatalf("unknown codec %q", name)
	return kgo.CompressionCodec{}
}

func toKgo(topic string, r rec) *kgo.Record {
	kr := &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value, Timestamp: time.UnixMilli(r.Timestamp)}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(h.Value)})
	}
	return kr
}

func fromKgo(kr *kgo.Record) rec {
	r := rec{
		Partition: kr.Partition,
		Offset:    kr.Offset,
		Key:       kr.Key,
		Value:     kr.Value,
		Timestamp: kr.Timestamp.UnixMilli(),
		Codec:     int8(kr.Attrs.CompressionType()),
	}
	for _, h := range kr.Headers {
		r.Headers = append(r.Headers, hdr{h.Key, string(h.Value)})
	}
	return r
}

// produceKgo produces recs to topic with acks=all and the codec, and fills in
// each record's partition and offset from its acknowledgement.
func produceKgo(t *testing.T, addr, topic, codec string, recs []rec, opts ...kgo.Opt) {
	t.Helper()
	cl := newKgo(t, addr, append([]kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgoCodec(t, codec)),
	}, opts...)...)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for i := range recs {
		wg.Add(1)
		cl.Produce(ctx, toKgo(topic, recs[i]), func(kr *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("record %d: %w", i, err))
				return
			}
			recs[i].Partition, recs[i].Offset = kr.Partition, kr.Offset
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("kgo produce to %s (%s): %d of %d records failed; first: %v", topic, codec, len(errs), len(recs), errors.Join(errs[:min(3, len(errs))]...))
	}
}

// consumeKgo reads topic from the log start to the end offsets it has when
// called, assigning partitions directly (no consumer group).
func consumeKgo(t *testing.T, addr, topic string) []rec {
	t.Helper()
	recs, _ := consumeKgoFrom(t, addr, topic, nil)
	return recs
}

// consumeKgoFrom reads topic from the offsets in from (the log start for a
// partition not in from) to the end offsets it has when called, which it
// returns.
func consumeKgoFrom(t *testing.T, addr, topic string, from map[int32]int64) ([]rec, map[int32]int64) {
	t.Helper()
	start, end := offsets(t, addr, topic)
	assign := map[int32]kgo.Offset{}
	remaining := 0
	for p, e := range end {
		s := start[p]
		if f, ok := from[p]; ok {
			if f < s || f > e {
				t.Fatalf("%s/%d: want to read from %d, but the log spans [%d, %d)", topic, p, f, s, e)
			}
			s = f
		}
		if e > s {
			assign[p] = kgo.NewOffset().At(s)
			remaining += int(e - s)
		}
	}
	if remaining == 0 {
		return nil, end
	}
	cl := newKgo(t, addr,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	var out []rec
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("kgo consume %s: %d records still missing after %v (end offsets %v)", topic, remaining, clientTimeout, end)
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("kgo consume %s: partition %d: %v", topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(kr *kgo.Record) {
			if kr.Offset < end[kr.Partition] {
				out = append(out, fromKgo(kr))
				remaining--
			}
		})
	}
	return out, end
}

func saramaConfig(t *testing.T, codec string) *sarama.Config {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = "octopus-test"
	cfg.Net.MaxOpenRequests = 1 // keep produce order without idempotence
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Producer.Retry.Max = 10
	cfg.Consumer.Return.Errors = true
	cfg.Metadata.Retry.Max = 10
	switch codec {
	case "none":
		cfg.Producer.Compression = sarama.CompressionNone
	case "gzip":
		cfg.Producer.Compression = sarama.CompressionGZIP
	case "snappy":
		cfg.Producer.Compression = sarama.CompressionSnappy
	case "lz4":
		cfg.Producer.Compression = sarama.CompressionLZ4
	case "zstd":
		cfg.Producer.Compression = sarama.CompressionZSTD
	default:
		t.Fatalf("unknown codec %q", codec)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// produceSarama produces recs with sarama's async producer, acks=all, and
// fills in each record's partition and offset.
func produceSarama(t *testing.T, addr, topic, codec string, recs []rec) {
	t.Helper()
	p, err := sarama.NewAsyncProducer([]string{addr}, saramaConfig(t, codec))
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	defer p.Close()
	go func() {
		for i, r := range recs {
			m := &sarama.ProducerMessage{
				Topic:     topic,
				Key:       sarama.ByteEncoder(r.Key),
				Value:     sarama.ByteEncoder(r.Value),
				Timestamp: time.UnixMilli(r.Timestamp),
				Metadata:  i,
			}
			for _, h := range r.Headers {
				m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: []byte(h.Value)})
			}
			p.Input() <- m
		}
	}()
	timer := time.NewTimer(clientTimeout)
	defer timer.Stop()
	var errs []error
	for done := 0; done < len(recs); done++ {
		select {
		case m := <-p.Successes():
			i := m.Metadata.(int)
			recs[i].Partition, recs[i].Offset = m.Partition, m.Offset
		case e := <-p.Errors():
			errs = append(errs, e)
		case <-timer.C:
			t.Fatalf("sarama produce to %s (%s): %d of %d records unanswered after %v", topic, codec, len(recs)-done, len(recs), clientTimeout)
		}
	}
	if len(errs) > 0 {
		t.Fatalf("sarama produce to %s (%s): %d of %d records failed; first: %v", topic, codec, len(errs), len(recs), errs[0])
	}
}

// consumeSarama reads every partition of topic from the oldest offset to the
// newest offset it has when called, with sarama's plain (groupless) consumer.
func consumeSarama(t *testing.T, addr, topic string) []rec {
	t.Helper()
	client, err := sarama.NewClient([]string{addr}, saramaConfig(t, "none"))
	if err != nil {
		t.Fatalf("sarama client: %v", err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatalf("sarama consumer: %v", err)
	}
	defer consumer.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatalf("sarama partitions of %s: %v", topic, err)
	}
	// Partitions are read concurrently: each wait for a fetch is long.
	deadline := time.Now().Add(clientTimeout)
	results := make([][]rec, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		oldest, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("sarama oldest offset of %s/%d: %v", topic, p, err)
		}
		newest, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatalf("sarama newest offset of %s/%d: %v", topic, p, err)
		}
		if newest <= oldest {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("sarama consume %s/%d: %v", topic, p, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer pc.AsyncClose()
			timer := time.NewTimer(time.Until(deadline))
			defer timer.Stop()
			for next := oldest; next < newest; {
				select {
				case m := <-pc.Messages():
					r := rec{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp.UnixMilli(), Codec: -1}
					for _, h := range m.Headers {
						r.Headers = append(r.Headers, hdr{string(h.Key), string(h.Value)})
					}
					results[i] = append(results[i], r)
					next = m.Offset + 1
				case e := <-pc.Errors():
					errs[i] = fmt.Errorf("sarama consume %s/%d: %w", topic, p, e)
					return
				case <-timer.C:
					errs[i] = fmt.Errorf("sarama consume %s/%d: stuck before offset %d of %d after %v", topic, p, next, newest, clientTimeout)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	var out []rec
	for _, r := range results {
		out = append(out, r...)
	}
	return out
}

// kcat runs kcat with args and stdin, bounded by clientTimeout, and returns
// its stdout.
func kcat(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat not installed (run scripts/install-test-deps.sh): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstderr:\n%s", strings.Join(args, " "), err, tail(stderr.String(), 30))
	}
	// Besides its exit status, fail on any error kcat reports on stderr
	// (librdkafka logs some problems without failing the run).
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "Delivery failed") || strings.Contains(l, "FAIL") {
			t.Errorf("kcat %s reported: %s", strings.Join(args, " "), l)
		}
	}
	return stdout.Bytes()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kcatHeaders are the headers kcat puts on every record it produces: it
// cannot set headers per record.
func kcatHeaders(tag string) []hdr { return []hdr{{"tag", tag}, {"empty", ""}} }

// produceKcat produces recs with kcat -P (acks=all, the codec, keys split
// from values at a tab) and the fixed kcatHeaders. kcat cannot set a
// record's timestamp, so each record gets the time librdkafka produced it.
func produceKcat(t *testing.T, addr, topic, codec, tag string, recs []rec) {
	t.Helper()
	var in bytes.Buffer
	for _, r := range recs {
		if bytes.ContainsAny(r.Key, "\t\n") || bytes.ContainsAny(r.Value, "\t\n") {
			t.Fatalf("record %v contains a delimiter", r)
		}
		fmt.Fprintf(&in, "%s\t%s\n", r.Key, r.Value)
	}
	args := []string{"-P", "-b", addr, "-t", topic, "-K", "\t", "-D", "\n",
		"-X", "acks=all", "-X", "message.max.bytes=2000000", "-m", "30"}
	if codec != "none" {
		args = append(args, "-z", codec)
	}
	for _, h := range kcatHeaders(tag) {
		args = append(args, "-H", h.Key+"="+h.Value)
	}
	kcat(t, in.Bytes(), args...)
}

// consumeKcat reads all of topic with kcat -C -o beginning -e, printing
// partition, offset, timestamp, key, headers and value per record.
func consumeKcat(t *testing.T, addr, topic string) []rec {
	t.Helper()
	out := kcat(t, nil, "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q",
		"-X", "check.crcs=true", "-m", "30",
		"-f", `%p\t%o\t%T\t%k\t%h\t%s\n`)
	var recs []rec
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 6)
		if len(f) != 6 {
			t.Fatalf("kcat output line %q: want 6 tab-separated fields", sc.Text())
		}
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		off, err2 := strconv.ParseInt(f[1], 10, 64)
		ts, err3 := strconv.ParseInt(f[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("kcat output line %q: %v", sc.Text(), err)
		}
		r := rec{Partition: int32(p), Offset: off, Timestamp: ts, Key: []byte(f[3]), Value: []byte(f[5]), Codec: -1}
		if f[4] != "" {
			for _, kv := range strings.Split(f[4], ",") {
				k, v, _ := strings.Cut(kv, "=")
				r.Headers = append(r.Headers, hdr{k, v})
			}
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}
