package test

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// target is one broker of a differential run, as a scenario sees it.
type target struct {
	name string // "kafka" or "octopus"
	addr string
	// run tells this TestDifferential run's topics and groups apart from an
	// earlier run's (-count) on the same shared Kafka.
	run int
	// base is the millisecond timestamp the scenarios' record timestamps
	// are relative to; both brokers get the same one.
	base int64
	// vers is the highest version of each API key that both brokers (and
	// kmsg) serve, so both are asked the very same request.
	vers map[int16]int16
}

// topic returns a name unique to this run for the scenario's topic s.
func (d *target) topic(s string) string { return fmt.Sprintf("diff%d-%s", d.run, s) }

// group returns a name unique to this run for the scenario's group s.
func (d *target) group(s string) string { return fmt.Sprintf("diff%d-%s", d.run, s) }

// rel makes a timestamp relative to base; negative sentinels stay as they are.
func (d *target) rel(ts int64) int64 {
	if ts < 0 {
		return ts
	}
	return ts - d.base
}

// commonVersions returns, per API key, the highest version that both brokers
// at a and b advertise and kmsg can encode.
func commonVersions(t *testing.T, a, b string) map[int16]int16 {
	t.Helper()
	va, vb := dialWire(t, a).apiVersions(), dialWire(t, b).apiVersions()
	out := map[int16]int16{}
	for key, ra := range va {
		rb, ok := vb[key]
		req := kmsg.RequestForKey(key)
		if !ok || req == nil {
			continue
		}
		lo, hi := max(ra[0], rb[0]), min(ra[1], rb[1], req.MaxVersion())
		if lo <= hi {
			out[key] = hi
		}
	}
	return out
}

// do sends req on a new connection at the highest version both brokers serve
// and returns the response.
func (d *target) do(t *testing.T, req kmsg.Request) kmsg.Response {
	t.Helper()
	v, ok := d.vers[req.Key()]
	if !ok {
		t.Fatalf("API key %d (%T) is not served by both brokers", req.Key(), req)
	}
	req.SetVersion(v)
	return d.doAt(t, req)
}

// doAt sends req at the version it has set.
func (d *target) doAt(t *testing.T, req kmsg.Request) kmsg.Response {
	t.Helper()
	w := dialWire(t, d.addr)
	defer w.conn.Close()
	return w.request(req)
}

// topicMeta is what Metadata says of one topic.
type topicMeta struct {
	err        int16
	id         [16]byte
	partitions int
	leaders    bool // every partition has a leader
}

// metadata asks for topics without creating them (or with, if autoCreate).
func (d *target) metadata(t *testing.T, autoCreate bool, topics ...string) map[string]topicMeta {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = autoCreate
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	resp := d.do(t, req).(*kmsg.MetadataResponse)
	out := map[string]topicMeta{}
	for _, rt := range resp.Topics {
		if rt.Topic == nil {
			continue
		}
		m := topicMeta{err: rt.ErrorCode, id: rt.TopicID, partitions: len(rt.Partitions), leaders: true}
		for _, p := range rt.Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 {
				m.leaders = false
			}
		}
		out[*rt.Topic] = m
	}
	return out
}

// waitTopic waits until Metadata shows topic with n partitions, each with a
// leader, and every partition answers ListOffsets: Kafka answers
// CreateTopics before its broker has loaded the topic, and names a leader a
// moment before that broker accepts writes (a produce in between gets
// NOT_LEADER_OR_FOLLOWER).
func (d *target) waitTopic(t *testing.T, topic string, n int) topicMeta {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := d.metadata(t, false, topic)[topic]
		if m.err == 0 && m.partitions == n && m.leaders && d.leadersServe(t, topic, n) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: topic %s not ready after 20s: %s, %d partitions (want %d), leaders %v",
				d.name, topic, errName(m.err), m.partitions, n, m.leaders)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leadersServe reports whether every partition of topic answers a
// ListOffsets (latest) without error.
func (d *target) leadersServe(t *testing.T, topic string, n int) bool {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := 0; p < n; p++ {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = int32(p), -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := d.do(t, req).(*kmsg.ListOffsetsResponse)
	served := 0
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if rp.ErrorCode != 0 {
				return false
			}
			served++
		}
	}
	return served == n
}

// waitTopicGone waits until Metadata no longer shows topic.
func (d *target) waitTopicGone(t *testing.T, topic string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for d.metadata(t, false, topic)[topic].err != kerr.UnknownTopicOrPartition.Code {
		if time.Now().After(deadline) {
			t.Fatalf("%s: topic %s still listed 20s after deletion", d.name, topic)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// createTopicRaw sends one CreateTopics request for one topic and returns the
// response's entries. rf is the replication factor; configs may be nil.
func (d *target) createTopicRaw(t *testing.T, name string, partitions int32, rf int16, configs map[string]string, validateOnly bool) []kmsg.CreateTopicsResponseTopic {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 15000
	req.ValidateOnly = validateOnly
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	return d.do(t, req).(*kmsg.CreateTopicsResponse).Topics
}

// mustCreate creates a topic and waits until it is ready.
func (d *target) mustCreate(t *testing.T, name string, partitions int32) topicMeta {
	t.Helper()
	resp := d.createTopicRaw(t, name, partitions, 1, nil, false)
	if len(resp) != 1 || resp[0].ErrorCode != 0 {
		t.Fatalf("%s: create topic %s: %+v", d.name, name, resp)
	}
	return d.waitTopic(t, name, int(partitions))
}

// listed is one partition's ListOffsets answer, timestamps relative to base.
// LeaderEpoch is nil when no offset was found: that epoch is compared once
// per scenario, as the note "list/leader-epoch-when-no-offset".
type listed struct {
	Partition   int32
	Err         string
	Offset      int64
	Timestamp   int64
	LeaderEpoch *int32 `json:",omitempty"`
}

// listOffsets asks for ts on each of partitions of topic; the answers are
// sorted by partition (Kafka orders them by hash).
func (d *target) listOffsets(t *testing.T, o *observations, topic string, ts int64, partitions ...int32) []listed {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	req.TimeoutMillis = 10000
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, ts, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := d.do(t, req).(*kmsg.ListOffsetsResponse)
	var out []listed
	for _, st := range resp.Topics {
		for _, sp := range st.Partitions {
			l := listed{sp.Partition, errName(sp.ErrorCode), sp.Offset, d.rel(sp.Timestamp), &sp.LeaderEpoch}
			if sp.ErrorCode == 0 && sp.Offset == -1 {
				o.note("list/leader-epoch-when-no-offset", sp.LeaderEpoch)
				l.LeaderEpoch = nil
			}
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b listed) int { return int(a.Partition - b.Partition) })
	return out
}

// fetched is one partition's Fetch answer, normalized. With
// OFFSET_OUT_OF_RANGE the offsets are nil here and compared once per
// scenario, as the note "fetch/offsets-with-OFFSET_OUT_OF_RANGE".
type fetched struct {
	Err              string
	HighWatermark    *int64 `json:",omitempty"`
	LastStableOffset *int64 `json:",omitempty"`
	LogStartOffset   *int64 `json:",omitempty"`
	Batches          []batchView
}

// batchView is a RecordBatch as fetched; ids are reduced to whether they are
// set, timestamps made relative to base.
type batchView struct {
	BaseOffset     int64
	LastDelta      int32
	LeaderEpoch    int32
	Attributes     int16
	FirstTimestamp int64
	MaxTimestamp   int64
	HasProducerID  bool
	ProducerEpoch  int16
	BaseSequence   int32
	Records        []recordView
}

// fetchedRecords is a fetch answer with the batch boundaries dropped: where
// a client splits its records into batches is the client's timing, not the
// broker's behaviour.
type fetchedRecords struct {
	Err              string
	HighWatermark    *int64 `json:",omitempty"`
	LastStableOffset *int64 `json:",omitempty"`
	LogStartOffset   *int64 `json:",omitempty"`
	Records          []recordView
}

func recordsOf(f fetched) fetchedRecords {
	out := fetchedRecords{Err: f.Err, HighWatermark: f.HighWatermark, LastStableOffset: f.LastStableOffset, LogStartOffset: f.LogStartOffset}
	for _, b := range f.Batches {
		out.Records = append(out.Records, b.Records...)
	}
	return out
}

type recordView struct {
	Offset    int64
	Timestamp int64
	Key       *string
	Value     *string
	Headers   [][2]*string
}

func bytesOrNil(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// fetch reads partition of topic from offset with one Fetch (no wait).
// id is the topic id for Fetch v13+; the zero id means "look it up".
func (d *target) fetch(t *testing.T, o *observations, topic string, id [16]byte, partition int32, offset int64) fetched {
	t.Helper()
	if id == ([16]byte{}) {
		id = d.metadata(t, false, topic)[topic].id
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 0
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, 1<<20
	rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = -1, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := d.do(t, req).(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		return fetched{Err: "top-level " + errName(resp.ErrorCode)}
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("%s: fetch %s/%d: %d topics in the response", d.name, topic, partition, len(resp.Topics))
	}
	sp := resp.Topics[0].Partitions[0]
	f := fetched{
		Err:     errName(sp.ErrorCode),
		Batches: d.parseBatches(t, sp.RecordBatches),
	}
	if sp.ErrorCode == kerr.OffsetOutOfRange.Code {
		o.note("fetch/offsets-with-OFFSET_OUT_OF_RANGE", fmt.Sprintf("hw=%d lso=%d start=%d", sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset))
	} else {
		f.HighWatermark, f.LastStableOffset, f.LogStartOffset = &sp.HighWatermark, &sp.LastStableOffset, &sp.LogStartOffset
	}
	return f
}

// parseBatches decodes uncompressed RecordBatch v2 bytes, ignoring a
// truncated batch at the end as clients do.
func (d *target) parseBatches(t *testing.T, b []byte) []batchView {
	t.Helper()
	var out []batchView
	for len(b) >= 12 {
		n := 12 + int(int32(binary.BigEndian.Uint32(b[8:])))
		if n > len(b) {
			break
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b[:n]); err != nil {
			t.Fatalf("%s: decoding a fetched batch: %v", d.name, err)
		}
		b = b[n:]
		bv := batchView{
			BaseOffset:     rb.FirstOffset,
			LastDelta:      rb.LastOffsetDelta,
			LeaderEpoch:    rb.PartitionLeaderEpoch,
			Attributes:     rb.Attributes,
			FirstTimestamp: d.rel(rb.FirstTimestamp),
			MaxTimestamp:   d.rel(rb.MaxTimestamp),
			HasProducerID:  rb.ProducerID >= 0,
			ProducerEpoch:  rb.ProducerEpoch,
			BaseSequence:   rb.FirstSequence,
		}
		if rb.Attributes&0x07 != 0 {
			t.Fatalf("%s: fetched a compressed batch; the scenarios produce uncompressed ones", d.name)
		}
		recs := rb.Records
		for i := int32(0); i < rb.NumRecords; i++ {
			l, w := binary.Varint(recs)
			if w <= 0 || int(l)+w > len(recs) {
				t.Fatalf("%s: bad record length in batch at %d", d.name, rb.FirstOffset)
			}
			var r kmsg.Record
			if err := r.ReadFrom(recs[:w+int(l)]); err != nil {
				t.Fatalf("%s: decoding record %d of batch %d: %v", d.name, i, rb.FirstOffset, err)
			}
			recs = recs[w+int(l):]
			rv := recordView{
				Offset:    rb.FirstOffset + int64(r.OffsetDelta),
				Timestamp: d.rel(rb.FirstTimestamp + r.TimestampDelta64),
				Key:       bytesOrNil(r.Key),
				Value:     bytesOrNil(r.Value),
			}
			for _, h := range r.Headers {
				k := h.Key
				rv.Headers = append(rv.Headers, [2]*string{&k, bytesOrNil(h.Value)})
			}
			bv.Records = append(bv.Records, rv)
		}
		out = append(out, bv)
	}
	return out
}

// randomID is a topic id no broker has.
func randomID() [16]byte {
	var id [16]byte
	rand.Read(id[:])
	return id
}

// findCoordinator waits until the broker coordinates group (Kafka creates
// __consumer_offsets on the first FindCoordinator and loads it after).
func (d *target) findCoordinator(t *testing.T, group string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = group
		req.CoordinatorKeys = []string{group}
		resp := d.do(t, req).(*kmsg.FindCoordinatorResponse)
		code := resp.ErrorCode
		if len(resp.Coordinators) > 0 {
			code = resp.Coordinators[0].ErrorCode
		}
		if code == 0 {
			// The coordinator may still be loading its partition:
			// OffsetFetch answers COORDINATOR_LOAD_IN_PROGRESS until ready.
			of := kmsg.NewPtrOffsetFetchRequest()
			of.Group = group
			g := kmsg.NewOffsetFetchRequestGroup()
			g.Group, g.MemberEpoch = group, -1
			of.Groups = append(of.Groups, g)
			r := d.do(t, of).(*kmsg.OffsetFetchResponse)
			code = r.ErrorCode
			if len(r.Groups) > 0 {
				code = r.Groups[0].ErrorCode
			}
			if code == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no coordinator for %s after 30s: %s", d.name, group, errName(code))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// oracleBatch returns an uncompressed RecordBatch v2 of one record with
// timestamp ts and no producer id, CRC-32C set.
func oracleBatch(ts int64, key, value []byte) []byte {
	r := kmsg.Record{Key: key, Value: value}
	body := r.AppendTo(nil)[1:] // Length 0 encodes as one byte
	rec := binary.AppendVarint(nil, int64(len(body)))
	rec = append(rec, body...)
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		FirstTimestamp:       ts,
		MaxTimestamp:         ts,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           1,
		Records:              rec,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}
