package test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A differential scenario does the same things to a broker (through real
// clients or raw kmsg requests) and records what it observed, normalized for
// what legitimately differs between brokers: cluster, topic and member ids,
// timing, error messages (error codes are compared). TestDifferential runs
// each scenario against Apache Kafka and against Octopus and requires equal
// observations, except for the scenario's known differences (observation
// key → reason), which are logged with knownDifference.
type diffScenario struct {
	name  string
	run   func(t *testing.T, d *target, o *observations)
	known map[string]string
}

var diffScenarios = []diffScenario{
	{name: "ProduceListOffsets", run: diffProduceListOffsets},
	{name: "DeleteRecords", run: diffDeleteRecords, known: map[string]string{
		"list/max-timestamp@end": "after DeleteRecords up to the high watermark, ListOffsets MAX_TIMESTAMP finds no record in Octopus; " +
			"Kafka still answers the deleted last record (below the log start offset) while its segment exists",
	}},
	{name: "LogAppendTime", run: diffLogAppendTime},
	{name: "TopicAdmin", run: diffTopicAdmin},
	{name: "TopicConfigs", run: diffTopicConfigs},
	{name: "Errors", run: diffErrors},
	{name: "GroupAPIs", run: diffGroupAPIs},
	{name: "GroupRangeRebalance", run: diffGroupRangeRebalance},
}

// diffRuns numbers TestDifferential runs within one test binary (-count).
var diffRuns atomic.Int32

// TestDifferential proves Octopus's answers are Kafka's: every scenario runs
// against this run's Apache Kafka (scripts/kafka.sh) and a fresh in-process
// Octopus, and their observations must be equal.
func TestDifferential(t *testing.T) {
	kafkaAddr := startKafka(t)
	octoAddr, _, _ := startInProcess(t, inProcOpts{serverOpts: serverOpts{AutoCreate: true, DefaultPartitions: 1}})

	vers := commonVersions(t, kafkaAddr, octoAddr)
	run := int(diffRuns.Add(1))
	base := time.Now().Add(-10 * time.Minute).UnixMilli()
	kafka := &target{name: "kafka", addr: kafkaAddr, run: run, base: base, vers: vers}
	octo := &target{name: "octopus", addr: octoAddr, run: run, base: base, vers: vers}
	t.Logf("Kafka at %s, Octopus at %s; request versions both serve: %v", kafkaAddr, octoAddr, vers)

	for _, sc := range diffScenarios {
		t.Run(sc.name, func(t *testing.T) {
			ko, oo := newObservations(t), newObservations(t)
			okK := t.Run("kafka", func(t *testing.T) { ko.t = t; sc.run(t, kafka, ko) })
			okO := t.Run("octopus", func(t *testing.T) { oo.t = t; sc.run(t, octo, oo) })
			if !okK || !okO {
				t.Logf("a run failed; observations so far, Kafka:\n%s\nOctopus:\n%s", ko, oo)
				t.FailNow()
			}
			compareObservations(t, ko, oo, sc.known)
		})
	}
}

// produceBatches are the batches diffProduceListOffsets writes: partition,
// and each record's timestamp relative to base. Timestamps go backwards
// within and across batches, so offset-for-timestamp lookups exercise the
// time index rather than a sorted log.
var produceBatches = []struct {
	p  int32
	ts []int64
}{
	{0, []int64{100, 50, 300}},
	{1, []int64{10}},
	{2, []int64{500, 100}},
	{0, []int64{200, 250}},
	{1, []int64{20}},
	{1, []int64{30}},
	{2, []int64{150, 600, 120}},
	{0, []int64{400, 400}},
	{1, []int64{40}},
}

// diffProduceListOffsets produces keyed records with headers and explicit,
// non-monotonic timestamps to three partitions (one flush per batch, so the
// batch layout is the same on both brokers), then compares the offsets
// acknowledged, ListOffsets for the special timestamps and many real ones
// (including past the end), and the batches a raw Fetch returns.
func diffProduceListOffsets(t *testing.T, d *target, o *observations) {
	topic := d.topic("produce")
	id := d.mustCreate(t, topic, 3).id
	cl := newKgo(t, d.addr,
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ManualFlushing(),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type ack struct {
		Partition int32
		Offset    int64
		Err       string
	}
	var acks []ack
	i := 0
	for _, b := range produceBatches {
		recs := make([]*kgo.Record, len(b.ts))
		errs := make([]error, len(b.ts))
		var wg sync.WaitGroup
		for j, ts := range b.ts {
			r := &kgo.Record{Partition: b.p, Timestamp: time.UnixMilli(d.base + ts)}
			switch i {
			case 1: // null key
			default:
				r.Key = fmt.Appendf(nil, "k%d", i)
			}
			switch i {
			case 2: // null value
			case 5:
				r.Value = []byte{}
			default:
				r.Value = fmt.Appendf(nil, "value %d", i)
			}
			if i%3 == 0 {
				r.Headers = []kgo.RecordHeader{{Key: "i", Value: fmt.Appendf(nil, "%d", i)}, {Key: "empty", Value: []byte{}}}
			}
			if i == 4 {
				r.Headers = []kgo.RecordHeader{{Key: "null"}}
			}
			recs[j] = r
			wg.Add(1)
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) { errs[j] = err; wg.Done() })
			i++
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatalf("flush: %v", err)
		}
		wg.Wait()
		for j, r := range recs {
			a := ack{r.Partition, r.Offset, "NONE"}
			if errs[j] != nil {
				a.Err = errs[j].Error()
			}
			acks = append(acks, a)
		}
	}
	o.add("produce/acks", acks)

	parts := []int32{0, 1, 2}
	o.add("list/earliest", d.listOffsets(t, o, topic, -2, parts...))
	o.add("list/latest", d.listOffsets(t, o, topic, -1, parts...))
	o.add("list/max-timestamp", d.listOffsets(t, o, topic, -3, parts...))
	for _, ts := range []int64{-100, 0, 10, 49, 50, 99, 100, 101, 120, 121, 150, 200, 201, 250, 251, 300, 301, 400, 401, 500, 600, 601, 3_600_000} {
		o.add(fmt.Sprintf("list/ts=%d", ts), d.listOffsets(t, o, topic, d.base+ts, parts...))
	}
	for _, p := range parts {
		o.add(fmt.Sprintf("fetch/p%d@0", p), d.fetch(t, o, topic, id, p, 0))
	}
	// A fetch from the middle of a batch returns the whole batch.
	o.add("fetch/p0@1", d.fetch(t, o, topic, id, 0, 1))
	o.add("fetch/p2@4", d.fetch(t, o, topic, id, 2, 4))
}

// diffDeleteRecords moves a partition's log start forward with DeleteRecords
// (into the middle of a batch, backwards, to the end, past the end) and
// compares low watermarks, ListOffsets, and Fetch below, at and above the
// new log start.
// The client may split the records into batches differently against each
// broker, so fetches are compared record by record.
func diffDeleteRecords(t *testing.T, d *target, o *observations) {
	topic := d.topic("delete-records")
	id := d.mustCreate(t, topic, 2).id
	cl := newKgo(t, d.addr,
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ManualFlushing(),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for batch := range 2 {
		for i := range 5 {
			cl.Produce(ctx, &kgo.Record{Value: fmt.Appendf(nil, "b%d r%d", batch, i), Timestamp: time.UnixMilli(d.base + int64(batch*5+i))}, nil)
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatalf("flush: %v", err)
		}
	}

	type deleted struct {
		Err          string
		LowWatermark int64
	}
	del := func(topic string, p int32, off int64) []deleted {
		req := kmsg.NewPtrDeleteRecordsRequest()
		req.TimeoutMillis = 15000
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = p, off
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		var out []deleted
		for _, st := range d.do(t, req).(*kmsg.DeleteRecordsResponse).Topics {
			for _, sp := range st.Partitions {
				out = append(out, deleted{errName(sp.ErrorCode), sp.LowWatermark})
			}
		}
		return out
	}

	o.add("delete@3", del(topic, 0, 3))
	o.add("list/earliest@3", d.listOffsets(t, o, topic, -2, 0))
	o.add("list/latest@3", d.listOffsets(t, o, topic, -1, 0))
	o.add("fetch@1-below-start", recordsOf(d.fetch(t, o, topic, id, 0, 1)))
	o.add("fetch@3", recordsOf(d.fetch(t, o, topic, id, 0, 3)))
	o.add("delete@2-backwards", del(topic, 0, 2))
	o.add("delete@7", del(topic, 0, 7))
	o.add("fetch@5-below-start", recordsOf(d.fetch(t, o, topic, id, 0, 5)))
	o.add("list/ts=0-after-delete", d.listOffsets(t, o, topic, d.base, 0))
	o.add("delete@11-past-end", del(topic, 0, 11))
	o.add("delete@-2", del(topic, 0, -2))
	o.add("delete@-1-high-watermark", del(topic, 0, -1))
	o.add("list/earliest@end", d.listOffsets(t, o, topic, -2, 0))
	o.add("list/latest@end", d.listOffsets(t, o, topic, -1, 0))
	// Its own observations: Kafka finds a record here, so this answer must
	// not feed the scenario's "no offset" leader-epoch note.
	o.add("list/max-timestamp@end", d.listOffsets(t, newObservations(t), topic, -3, 0))
	o.add("fetch@10-end", recordsOf(d.fetch(t, o, topic, id, 0, 10)))
	o.add("fetch@9-below-start", recordsOf(d.fetch(t, o, topic, id, 0, 9)))
	o.add("delete-empty-partition@0", del(topic, 1, 0))
	o.add("delete-empty-partition@1", del(topic, 1, 1))
	o.add("delete-unknown-partition", del(topic, 7, 0))
	o.add("delete-unknown-topic", del(d.topic("no-such-topic"), 0, 0))

	// The partition takes new records after the deleted ones.
	r := &kgo.Record{Value: []byte("after"), Timestamp: time.UnixMilli(d.base + 50)}
	done := make(chan error, 1)
	cl.Produce(ctx, r, func(_ *kgo.Record, err error) { done <- err })
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if perr := <-done; perr != nil {
		t.Fatalf("produce after delete: %v", perr)
	}
	o.add("produce-after-delete/offset", r.Offset)
	o.add("fetch@10-after-produce", recordsOf(d.fetch(t, o, topic, id, 0, 10)))
}

// diffLogAppendTime produces to a topic with message.timestamp.type
// LogAppendTime: the broker, not the producer, sets the batch's timestamp,
// and ListOffsets answers by it.
func diffLogAppendTime(t *testing.T, d *target, o *observations) {
	topic := d.topic("log-append-time")
	resp := d.createTopicRaw(t, topic, 1, 1, map[string]string{"message.timestamp.type": "LogAppendTime"}, false)
	if len(resp) != 1 || resp[0].ErrorCode != 0 {
		t.Fatalf("%s: create %s: %+v", d.name, topic, resp)
	}
	id := d.waitTopic(t, topic, 1).id

	before := time.Now().UnixMilli()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 15000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = oracleBatch(d.base+5, []byte("k"), []byte("v"))
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	pr := d.do(t, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	after := time.Now().UnixMilli()
	appendTime := pr.LogAppendTime
	o.add("produce", fmt.Sprintf("%s base=%d log-append-time-in-produce-window=%v", errName(pr.ErrorCode), pr.BaseOffset, appendTime >= before && appendTime <= after))

	f := d.fetch(t, o, topic, id, 0, 0)
	type stamped struct {
		Attributes             int16
		FirstTimestamp         int64 // relative to base
		MaxIsAppendTime        bool
		RecordTimestampsAsSent []int64
	}
	var got []stamped
	for _, b := range f.Batches {
		st := stamped{Attributes: b.Attributes, FirstTimestamp: b.FirstTimestamp, MaxIsAppendTime: b.MaxTimestamp+d.base == appendTime}
		for _, r := range b.Records {
			st.RecordTimestampsAsSent = append(st.RecordTimestampsAsSent, r.Timestamp)
		}
		got = append(got, st)
	}
	o.add("fetch/batches", got)

	norm := func(ls []listed) []string {
		var out []string
		for _, l := range ls {
			out = append(out, fmt.Sprintf("%s offset=%d ts-is-append-time=%v", l.Err, l.Offset, l.Timestamp+d.base == appendTime))
		}
		return out
	}
	o.add("list/max-timestamp", norm(d.listOffsets(t, o, topic, -3, 0)))
	o.add("list/ts=create-time", norm(d.listOffsets(t, o, topic, d.base+5, 0)))
	o.add("list/ts=append-time", norm(d.listOffsets(t, o, topic, appendTime, 0)))
	o.add("list/ts=append-time+1", norm(d.listOffsets(t, o, topic, appendTime+1, 0)))
}

// diffTopicConfigs compares DescribeConfigs of a topic for the configs
// Octopus implements: values, sources, read-only and sensitive flags, with
// and without overrides.
func diffTopicConfigs(t *testing.T, d *target, o *observations) {
	topic := d.topic("configs")
	resp := d.createTopicRaw(t, topic, 1, 1, map[string]string{"retention.ms": "3600000", "max.message.bytes": "2000000"}, false)
	if len(resp) != 1 || resp[0].ErrorCode != 0 {
		t.Fatalf("%s: create %s: %+v", d.name, topic, resp)
	}
	d.waitTopic(t, topic, 1)
	// min.insync.replicas is compared by value only (below): Kafka 4 with
	// eligible leader replicas stores a cluster-wide dynamic default at
	// format time, so its source is DYNAMIC_DEFAULT_BROKER_CONFIG there and
	// DEFAULT_CONFIG in Octopus, which has no dynamic broker configs.
	names := []string{
		"cleanup.policy", "compression.type", "index.interval.bytes", "max.message.bytes",
		"message.timestamp.type", "retention.bytes", "retention.ms",
		"segment.bytes", "segment.ms",
	}
	describe := func(topic string, names []string) []string {
		req := kmsg.NewPtrDescribeConfigsRequest()
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeTopic, topic, names
		req.Resources = append(req.Resources, rr)
		var out []string
		for _, r := range d.do(t, req).(*kmsg.DescribeConfigsResponse).Resources {
			out = append(out, "resource "+errName(r.ErrorCode))
			for _, c := range r.Configs {
				out = append(out, fmt.Sprintf("%s=%s source=%s read-only=%v sensitive=%v", c.Name, strOrNil(c.Value), c.Source, c.ReadOnly, c.IsSensitive))
			}
		}
		slices.Sort(out)
		return out
	}
	o.add("describe/overrides-and-defaults", describe(topic, names))
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeTopic, topic, []string{"min.insync.replicas"}
	req.Resources = append(req.Resources, rr)
	var minISR []string
	for _, r := range d.do(t, req).(*kmsg.DescribeConfigsResponse).Resources {
		for _, c := range r.Configs {
			minISR = append(minISR, c.Name+"="+strOrNil(c.Value))
		}
	}
	o.add("describe/min.insync.replicas-value", minISR)
	o.add("describe/unknown-config-name", describe(topic, []string{"no.such.config"}))
	o.add("describe/unknown-topic", describe(d.topic("no-such-topic"), []string{"retention.ms"}))
}

// diffTopicAdmin compares CreateTopics, CreatePartitions and DeleteTopics
// error codes and results for valid and invalid requests.
func diffTopicAdmin(t *testing.T, d *target, o *observations) {
	type created struct {
		Topic             string
		Err               string
		NumPartitions     int32
		ReplicationFactor int16
	}
	create := func(name string, partitions int32, rf int16, configs map[string]string, validateOnly bool) []created {
		var out []created
		for _, rt := range d.createTopicRaw(t, name, partitions, rf, configs, validateOnly) {
			topic := rt.Topic
			if topic == name && len(name) > 40 {
				topic = fmt.Sprintf("<%d chars>", len(name))
			} else {
				topic = strings.TrimPrefix(topic, d.topic(""))
			}
			out = append(out, created{topic, errName(rt.ErrorCode), rt.NumPartitions, rt.ReplicationFactor})
		}
		return out
	}
	exists := d.topic("exists")
	o.add("create/new", create(exists, 2, 1, nil, false))
	d.waitTopic(t, exists, 2)
	o.add("create/existing", create(exists, 2, 1, nil, false))
	o.add("create/existing-validate-only", create(exists, 2, 1, nil, true))
	for _, name := range []string{".", "..", "a/b", "with space", "", strings.Repeat("a", 250)} {
		o.add(fmt.Sprintf("create/name=%.12q(%d)", name, len(name)), create(name, 1, 1, nil, false))
	}
	longest := d.topic(strings.Repeat("l", 249-len(d.topic(""))))
	o.add("create/name-249-chars", create(longest, 1, 1, nil, false))
	o.add("create/partitions=0", create(d.topic("p0"), 0, 1, nil, false))
	o.add("create/partitions=-2", create(d.topic("p-2"), -2, 1, nil, false))
	o.add("create/partitions=-1-default", create(d.topic("p-1"), -1, -1, nil, false))
	o.add("create/rf=3", create(d.topic("rf3"), 1, 3, nil, false))
	o.add("create/rf=0", create(d.topic("rf0"), 1, 0, nil, false))
	o.add("create/rf=-2", create(d.topic("rf-2"), 1, -2, nil, false))
	o.add("create/config-unknown-name", create(d.topic("cfg-unknown"), 1, 1, map[string]string{"no.such.config": "1"}, false))
	o.add("create/config-bad-value", create(d.topic("cfg-bad"), 1, 1, map[string]string{"retention.ms": "soon"}, false))
	o.add("create/config-valid", create(d.topic("cfg-ok"), 1, 1, map[string]string{"retention.ms": "3600000", "cleanup.policy": "delete"}, false))
	// cleanup.policy=compact is left out on purpose: Kafka creates the
	// topic, Octopus refuses it (INVALID_CONFIG) until it can compact.
	validate := d.topic("validate-only")
	o.add("create/validate-only", create(validate, 3, 1, nil, true))
	o.add("create/validate-only-then-metadata", errName(d.metadata(t, false, validate)[validate].err))

	// Two entries for one name in one request.
	dup := d.topic("dup")
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 15000
	for range 2 {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = dup, 1, 1
		req.Topics = append(req.Topics, rt)
	}
	var dups []created
	for _, rt := range d.do(t, req).(*kmsg.CreateTopicsResponse).Topics {
		dups = append(dups, created{strings.TrimPrefix(rt.Topic, d.topic("")), errName(rt.ErrorCode), rt.NumPartitions, rt.ReplicationFactor})
	}
	o.add("create/duplicate-in-request", dups)

	// CreatePartitions.
	grow := d.topic("grow")
	d.mustCreate(t, grow, 2)
	createParts := func(topic string, count int32, validateOnly bool) []string {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.TimeoutMillis = 15000
		req.ValidateOnly = validateOnly
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = topic, count
		req.Topics = append(req.Topics, rt)
		var out []string
		for _, rt := range d.do(t, req).(*kmsg.CreatePartitionsResponse).Topics {
			out = append(out, errName(rt.ErrorCode))
		}
		return out
	}
	o.add("partitions/decrease", createParts(grow, 1, false))
	o.add("partitions/same", createParts(grow, 2, false))
	o.add("partitions/increase-validate-only", createParts(grow, 5, true))
	o.add("partitions/increase", createParts(grow, 3, false))
	d.waitTopic(t, grow, 3)
	o.add("partitions/after", d.metadata(t, false, grow)[grow].partitions)
	o.add("partitions/unknown-topic", createParts(d.topic("no-such-topic"), 3, false))

	// DeleteTopics, by name and by id.
	deleteTopics := func(name *string, id [16]byte) []string {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TimeoutMillis = 15000
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic, rt.TopicID = name, id
		req.Topics = append(req.Topics, rt)
		if name != nil {
			req.TopicNames = append(req.TopicNames, *name)
		}
		var out []string
		for _, rt := range d.do(t, req).(*kmsg.DeleteTopicsResponse).Topics {
			out = append(out, errName(rt.ErrorCode))
		}
		return out
	}
	o.add("delete/unknown-name", deleteTopics(kmsg.StringPtr(d.topic("no-such-topic")), [16]byte{}))
	o.add("delete/unknown-id", deleteTopics(nil, randomID()))
	o.add("delete/existing", deleteTopics(kmsg.StringPtr(exists), [16]byte{}))
	d.waitTopicGone(t, exists)
	o.add("delete/then-create-partitions", createParts(exists, 4, false))
}

// diffErrors compares the error codes of Produce, Metadata, Fetch and
// ListOffsets for unknown topics and partitions and out-of-range offsets.
func diffErrors(t *testing.T, d *target, o *observations) {
	topic := d.topic("errors")
	id := d.mustCreate(t, topic, 1).id
	unknown := d.topic("no-such-topic")

	type produced struct {
		Err            string
		BaseOffset     int64
		LogStartOffset int64
	}
	produceBatch := func(topic string, p int32, acks int16, batch []byte) []produced {
		req := kmsg.NewPtrProduceRequest()
		req.Acks = acks
		req.TimeoutMillis = 15000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = p, batch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		var out []produced
		for _, st := range d.do(t, req).(*kmsg.ProduceResponse).Topics {
			for _, sp := range st.Partitions {
				out = append(out, produced{errName(sp.ErrorCode), sp.BaseOffset, sp.LogStartOffset})
			}
		}
		return out
	}
	produce := func(topic string, p int32, acks int16) []produced {
		return produceBatch(topic, p, acks, oracleBatch(time.Now().UnixMilli(), []byte("k"), []byte("v")))
	}
	o.add("produce/ok", produce(topic, 0, -1))
	o.add("produce/ok-acks=1", produce(topic, 0, 1))
	o.add("produce/unknown-topic", produce(unknown, 0, -1))
	o.add("produce/unknown-partition", produce(topic, 5, -1))
	o.add("produce/negative-partition", produce(topic, -1, -1))
	o.add("produce/acks=2", produce(topic, 0, 2))
	// Kafka's max.message.bytes default is 1048588 (1 MiB + 12).
	o.add("produce/too-large", produceBatch(topic, 0, -1, oracleBatch(time.Now().UnixMilli(), nil, make([]byte, 1100000))))
	// Kafka's log.message.timestamp.after.max.ms default is one hour; before
	// is unlimited.
	o.add("produce/timestamp-1y-ago", produceBatch(topic, 0, -1, oracleBatch(time.Now().Add(-365*24*time.Hour).UnixMilli(), nil, []byte("past"))))
	// On a topic of its own, so that a stored record moves no other offset.
	future := d.topic("errors-future")
	d.mustCreate(t, future, 1)
	o.add("produce/timestamp-2h-ahead", produceBatch(future, 0, -1, oracleBatch(time.Now().Add(2*time.Hour).UnixMilli(), nil, []byte("future"))))
	o.add("produce/then-unknown-topic-still-unknown", errName(d.metadata(t, false, unknown)[unknown].err))

	o.add("metadata/unknown-no-autocreate", errName(d.metadata(t, false, unknown)[unknown].err))
	o.add("metadata/invalid-name-autocreate", errName(d.metadata(t, true, "a/b")["a/b"].err))

	o.add("fetch/at-end", d.fetch(t, o, topic, id, 0, 3))
	o.add("fetch/past-end", d.fetch(t, o, topic, id, 0, 7))
	o.add("fetch/just-past-end", d.fetch(t, o, topic, id, 0, 4))
	o.add("fetch/negative", d.fetch(t, o, topic, id, 0, -5))
	o.add("fetch/unknown-partition", d.fetch(t, o, topic, id, 4, 0))
	o.add("fetch/unknown-topic-id", d.fetch(t, o, unknown, randomID(), 0, 0))

	o.add("list/unknown-partition", d.listOffsets(t, o, topic, -1, 3))
	o.add("list/unknown-topic", d.listOffsets(t, o, unknown, -1, 0))
	o.add("list/negative-partition", d.listOffsets(t, o, topic, -2, -1))
	o.add("list/timestamp=-7", d.listOffsets(t, o, topic, -7, 0))
}

// consumerMetadata is a "consumer" protocol JoinGroup subscription to topic.
func consumerMetadata(topic string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 0
	m.Topics = []string{topic}
	return m.AppendTo(nil)
}

// consumerAssignment assigns partitions of topic.
func consumerAssignment(topic string, partitions ...int32) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	a.Version = 0
	at := kmsg.NewConsumerMemberAssignmentTopic()
	at.Topic, at.Partitions = topic, partitions
	a.Topics = append(a.Topics, at)
	return a.AppendTo(nil)
}

// diffGroupAPIs drives the classic group protocol with raw requests: the
// JoinGroup v9 member-id handshake, SyncGroup, Heartbeat and OffsetCommit
// errors, offsets of a simple (generation -1) group, DescribeGroups,
// ListGroups, LeaveGroup and DeleteGroups.
func diffGroupAPIs(t *testing.T, d *target, o *observations) {
	topic := d.topic("groups")
	d.mustCreate(t, topic, 3)
	active, simple := d.group("active"), d.group("simple")
	d.findCoordinator(t, active)
	d.findCoordinator(t, simple)

	// The member id is the broker's to choose; compare only its presence
	// and how it is reused.
	joinWith := func(memberID string, sessionMillis int32, protocolType string, protocols ...string) *kmsg.JoinGroupResponse {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Version = 9
		req.Group = active
		req.SessionTimeoutMillis = sessionMillis
		req.RebalanceTimeoutMillis = 30000
		req.MemberID = memberID
		req.ProtocolType = protocolType
		for _, name := range protocols {
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name, p.Metadata = name, consumerMetadata(topic)
			req.Protocols = append(req.Protocols, p)
		}
		return d.doAt(t, req).(*kmsg.JoinGroupResponse)
	}
	join := func(memberID string) *kmsg.JoinGroupResponse {
		return joinWith(memberID, 30000, "consumer", "range", "roundrobin")
	}
	type joined struct {
		Err            string
		Generation     int32
		ProtocolType   string
		Protocol       string
		HasMemberID    bool
		IsLeader       bool
		SkipAssignment bool
		Members        int
		SameMetadata   bool
	}
	observeJoin := func(r *kmsg.JoinGroupResponse, sentID string) joined {
		j := joined{
			Err: errName(r.ErrorCode), Generation: r.Generation,
			ProtocolType: strOrNil(r.ProtocolType), Protocol: strOrNil(r.Protocol),
			HasMemberID: r.MemberID != "", IsLeader: r.MemberID != "" && r.LeaderID == r.MemberID,
			SkipAssignment: r.SkipAssignment, Members: len(r.Members), SameMetadata: true,
		}
		for _, m := range r.Members {
			if string(m.ProtocolMetadata) != string(consumerMetadata(topic)) {
				j.SameMetadata = false
			}
		}
		if sentID != "" && r.MemberID != sentID {
			j.HasMemberID = false
		}
		return j
	}
	first := join("")
	o.add("join/empty-member-id", observeJoin(first, ""))
	member := first.MemberID
	if member == "" {
		t.Fatalf("JoinGroup v9 with an empty member id returned no member id (%s)", errName(first.ErrorCode))
	}
	second := join(member)
	o.add("join/with-member-id", observeJoin(second, member))
	gen := second.Generation

	sync := func(gen int32, memberID string) (string, []byte) {
		req := kmsg.NewPtrSyncGroupRequest()
		req.Group, req.Generation, req.MemberID = active, gen, memberID
		req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID, a.MemberAssignment = member, consumerAssignment(topic, 0, 1, 2)
		req.GroupAssignment = append(req.GroupAssignment, a)
		r := d.do(t, req).(*kmsg.SyncGroupResponse)
		return fmt.Sprintf("%s type=%s protocol=%s", errName(r.ErrorCode), strOrNil(r.ProtocolType), strOrNil(r.Protocol)), r.MemberAssignment
	}
	res, assignment := sync(gen, member)
	o.add("sync/leader", res)
	o.add("sync/assignment-echoed", string(assignment) == string(consumerAssignment(topic, 0, 1, 2)))
	res, _ = sync(gen+1, member)
	o.add("sync/stale-generation", res)
	res, _ = sync(gen, "no-such-member")
	o.add("sync/unknown-member", res)

	heartbeat := func(gen int32, memberID string) string {
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group, req.Generation, req.MemberID = active, gen, memberID
		return errName(d.do(t, req).(*kmsg.HeartbeatResponse).ErrorCode)
	}
	o.add("heartbeat/ok", heartbeat(gen, member))
	// Joins the broker must refuse without disturbing the stable group.
	o.add("join/session-timeout-below-min", observeJoin(joinWith("", 1000, "consumer", "range"), ""))
	o.add("join/session-timeout-above-max", observeJoin(joinWith("", 2_000_000, "consumer", "range"), ""))
	o.add("join/unknown-member-id", observeJoin(joinWith("no-such-member", 30000, "consumer", "range"), "no-such-member"))
	o.add("join/other-protocol-type", observeJoin(joinWith("", 30000, "connect", "range"), ""))
	o.add("join/no-common-protocol", observeJoin(joinWith("", 30000, "consumer", "sticky"), ""))
	o.add("heartbeat/still-ok", heartbeat(gen, member))
	o.add("heartbeat/stale-generation", heartbeat(gen-1, member))
	o.add("heartbeat/future-generation", heartbeat(gen+1, member))
	o.add("heartbeat/unknown-member", heartbeat(gen, "no-such-member"))
	o.add("heartbeat/unknown-group", func() string {
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group, req.Generation, req.MemberID = d.group("no-such-group"), 1, member
		return errName(d.do(t, req).(*kmsg.HeartbeatResponse).ErrorCode)
	}())

	type part struct {
		Topic     string
		Partition int32
		Offset    int64
		Epoch     int32
		Metadata  string
	}
	commit := func(group string, gen int32, memberID string, parts ...part) []string {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation, req.MemberID = group, gen, memberID
		byTopic := map[string]int{}
		for _, p := range parts {
			i, ok := byTopic[p.Topic]
			if !ok {
				i = len(req.Topics)
				byTopic[p.Topic] = i
				rt := kmsg.NewOffsetCommitRequestTopic()
				rt.Topic = p.Topic
				req.Topics = append(req.Topics, rt)
			}
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p.Partition, p.Offset, p.Epoch, kmsg.StringPtr(p.Metadata)
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		}
		var out []string
		for _, rt := range d.do(t, req).(*kmsg.OffsetCommitResponse).Topics {
			for _, rp := range rt.Partitions {
				out = append(out, fmt.Sprintf("%s/%d %s", strings.TrimPrefix(rt.Topic, d.topic("")), rp.Partition, errName(rp.ErrorCode)))
			}
		}
		slices.Sort(out) // Kafka lists failed partitions first
		return out
	}
	o.add("commit/simple", commit(simple, -1, "",
		part{topic, 0, 5, 0, "meta-0"}, part{topic, 1, 7, -1, ""}))
	o.add("commit/simple-unknown-partition", commit(simple, -1, "", part{topic, 9, 1, 0, "x"}))
	o.add("commit/simple-unknown-topic", commit(simple, -1, "", part{d.topic("no-such-topic"), 0, 1, 0, "x"}))
	o.add("commit/simple-mixed", commit(simple, -1, "", part{topic, 2, 3, 0, "m"}, part{topic, 5, 3, 0, "m"}))
	o.add("commit/active-member", commit(active, gen, member, part{topic, 0, 11, 0, "active"}))
	o.add("commit/active-stale-generation", commit(active, gen+1, member, part{topic, 0, 12, 0, ""}))
	o.add("commit/active-unknown-member", commit(active, gen, "no-such-member", part{topic, 0, 13, 0, ""}))
	o.add("commit/active-generation-minus-1", commit(active, -1, "", part{topic, 1, 14, 0, ""}))

	type offsetView struct {
		Partition int32
		Offset    int64
		Epoch     int32
		Metadata  string
		Err       string
	}
	fetchOffsets := func(group string, partitions []int32) (string, []offsetView) {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group = group
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group, g.MemberEpoch = group, -1
		if partitions != nil {
			rt := kmsg.NewOffsetFetchRequestTopic()
			rt.Topic, rt.Partitions = topic, partitions
			req.Topics = append(req.Topics, rt)
			gt := kmsg.NewOffsetFetchRequestGroupTopic()
			gt.Topic, gt.Partitions = topic, partitions
			g.Topics = append(g.Topics, gt)
		}
		req.Groups = append(req.Groups, g)
		r := d.do(t, req).(*kmsg.OffsetFetchResponse)
		code := r.ErrorCode
		var out []offsetView
		if len(r.Groups) > 0 {
			code = r.Groups[0].ErrorCode
			for _, rt := range r.Groups[0].Topics {
				for _, rp := range rt.Partitions {
					out = append(out, offsetView{rp.Partition, rp.Offset, rp.LeaderEpoch, strOrNil(rp.Metadata), errName(rp.ErrorCode)})
				}
			}
		} else {
			for _, rt := range r.Topics {
				for _, rp := range rt.Partitions {
					out = append(out, offsetView{rp.Partition, rp.Offset, rp.LeaderEpoch, strOrNil(rp.Metadata), errName(rp.ErrorCode)})
				}
			}
		}
		slices.SortFunc(out, func(a, b offsetView) int { return int(a.Partition - b.Partition) })
		return errName(code), out
	}
	code, offs := fetchOffsets(simple, []int32{0, 1, 2, 3})
	o.add("offset-fetch/simple", offs)
	o.add("offset-fetch/simple-error", code)
	code, offs = fetchOffsets(simple, nil)
	o.add("offset-fetch/simple-all", offs)
	o.add("offset-fetch/simple-all-error", code)
	code, offs = fetchOffsets(active, []int32{0, 1})
	o.add("offset-fetch/active", offs)
	o.add("offset-fetch/active-error", code)
	code, offs = fetchOffsets(d.group("no-such-group"), []int32{0})
	o.add("offset-fetch/unknown-group", offs)
	o.add("offset-fetch/unknown-group-error", code)

	type described struct {
		Err          string
		State        string
		ProtocolType string
		Protocol     string
		Members      int
		ClientID     []string
		ClientHost   []string
		SameMetadata bool
		Assignment   bool
	}
	describe := func(group string) described {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		r := d.do(t, req).(*kmsg.DescribeGroupsResponse)
		if len(r.Groups) != 1 {
			t.Fatalf("DescribeGroups %s: %d groups", group, len(r.Groups))
		}
		g := r.Groups[0]
		out := described{Err: errName(g.ErrorCode), State: g.State, ProtocolType: g.ProtocolType, Protocol: g.Protocol, Members: len(g.Members), SameMetadata: true, Assignment: true}
		for _, m := range g.Members {
			out.ClientID = append(out.ClientID, m.ClientID)
			out.ClientHost = append(out.ClientHost, m.ClientHost)
			if string(m.ProtocolMetadata) != string(consumerMetadata(topic)) {
				out.SameMetadata = false
			}
			if string(m.MemberAssignment) != string(consumerAssignment(topic, 0, 1, 2)) {
				out.Assignment = false
			}
		}
		return out
	}
	o.add("describe/active", describe(active))
	o.add("describe/simple", describe(simple))
	o.add("describe/unknown", describe(d.group("no-such-group")))

	listGroups := func() []string {
		req := kmsg.NewPtrListGroupsRequest()
		var out []string
		r := d.do(t, req).(*kmsg.ListGroupsResponse)
		for _, g := range r.Groups {
			if strings.HasPrefix(g.Group, d.group("")) {
				out = append(out, fmt.Sprintf("%s type=%q state=%q kind=%q", strings.TrimPrefix(g.Group, d.group("")), g.ProtocolType, g.GroupState, g.GroupType))
			}
		}
		slices.Sort(out)
		return append(out, errName(r.ErrorCode))
	}
	o.add("list-groups", listGroups())

	deleteGroups := func(groups ...string) []string {
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Groups = groups
		var out []string
		for _, g := range d.do(t, req).(*kmsg.DeleteGroupsResponse).Groups {
			out = append(out, strings.TrimPrefix(g.Group, d.group(""))+" "+errName(g.ErrorCode))
		}
		slices.Sort(out)
		return out
	}
	o.add("delete-groups/non-empty-and-unknown", deleteGroups(active, d.group("no-such-group")))

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group, leave.MemberID = active, member
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = member
	leave.Members = append(leave.Members, lm)
	lr := d.do(t, leave).(*kmsg.LeaveGroupResponse)
	var leaves []string
	for _, m := range lr.Members {
		leaves = append(leaves, errName(m.ErrorCode))
	}
	o.add("leave", append([]string{errName(lr.ErrorCode)}, leaves...))
	o.add("leave/again", func() string {
		r := d.do(t, leave).(*kmsg.LeaveGroupResponse)
		s := errName(r.ErrorCode)
		for _, m := range r.Members {
			s += " member " + errName(m.ErrorCode)
		}
		return s
	}())
	o.add("describe/active-after-leave", describe(active))
	o.add("heartbeat/after-leave", heartbeat(gen, member))
	o.add("delete-groups/emptied-and-simple", deleteGroups(active, simple))
	o.add("list-groups/after-delete", listGroups())
	code, offs = fetchOffsets(simple, []int32{0})
	o.add("offset-fetch/deleted-group", offs)
	o.add("offset-fetch/deleted-group-error", code)
}

// diffGroupRangeRebalance runs two kgo consumers with the range balancer in
// one group on a 3-partition topic. Member ids differ between brokers, so it
// compares the shape: each member's partition count, every partition owned
// exactly once; then one member leaves and the other must own everything.
func diffGroupRangeRebalance(t *testing.T, d *target, o *observations) {
	topic := d.topic("range")
	d.mustCreate(t, topic, 3)
	group := d.group("range")

	type member struct {
		mu    sync.Mutex
		owned map[int32]bool
		cl    *kgo.Client
		done  chan struct{}
	}
	start := func(name string) *member {
		m := &member{owned: map[int32]bool{}, done: make(chan struct{})}
		set := func(ps map[string][]int32, own bool) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range ps[topic] {
				if own {
					m.owned[p] = true
				} else {
					delete(m.owned, p)
				}
			}
		}
		m.cl = newKgo(t, d.addr,
			kgo.ClientID(name),
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(topic),
			kgo.Balancers(kgo.RangeBalancer()),
			kgo.SessionTimeout(10*time.Second),
			kgo.HeartbeatInterval(200*time.Millisecond),
			kgo.FetchMaxWait(200*time.Millisecond),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { set(ps, true) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { set(ps, false) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { set(ps, false) }),
		)
		go func() {
			defer close(m.done)
			for {
				fs := m.cl.PollFetches(context.Background())
				if fs.IsClientClosed() {
					return
				}
			}
		}()
		return m
	}
	stop := func(m *member) {
		m.cl.Close() // leaves the group
		<-m.done
	}
	owned := func(m *member) []int32 {
		m.mu.Lock()
		defer m.mu.Unlock()
		var out []int32
		for p := range m.owned {
			out = append(out, p)
		}
		slices.Sort(out)
		return out
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(45 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s: not reached after 45s", d.name, what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	a := start("member-a")
	waitFor("member a owns every partition", func() bool { return len(owned(a)) == 3 })
	o.add("one-member/owned", owned(a))

	b := start("member-b")
	var shape []int
	var exactlyOnce bool
	waitFor("both members own partitions", func() bool {
		pa, pb := owned(a), owned(b)
		if len(pa) == 0 || len(pb) == 0 || len(pa)+len(pb) != 3 {
			return false
		}
		all := slices.Sorted(slices.Values(append(slices.Clone(pa), pb...)))
		exactlyOnce = slices.Equal(all, []int32{0, 1, 2})
		shape = []int{len(pa), len(pb)}
		slices.Sort(shape)
		return true
	})
	o.add("two-members/partitions-per-member", shape)
	o.add("two-members/each-partition-once", exactlyOnce)

	adm := kmsg.NewPtrDescribeGroupsRequest()
	adm.Groups = []string{group}
	dg := d.do(t, adm).(*kmsg.DescribeGroupsResponse).Groups[0]
	o.add("two-members/describe", fmt.Sprintf("%s state=%s type=%s protocol=%s members=%d", errName(dg.ErrorCode), dg.State, dg.ProtocolType, dg.Protocol, len(dg.Members)))

	stop(b)
	waitFor("member a owns every partition again", func() bool { return len(owned(a)) == 3 })
	o.add("after-leave/owned", owned(a))
	dg = d.do(t, adm).(*kmsg.DescribeGroupsResponse).Groups[0]
	o.add("after-leave/describe", fmt.Sprintf("%s state=%s type=%s protocol=%s members=%d", errName(dg.ErrorCode), dg.State, dg.ProtocolType, dg.Protocol, len(dg.Members)))
	stop(a)
}
