package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceAt writes records with the given timestamps (ms) to partition 0 of
// topic, one batch each, and returns their offsets.
func produceAt(t *testing.T, cl *kgo.Client, topic string, tss ...int64) []int64 {
	t.Helper()
	var offs []int64
	for _, ts := range tss {
		r := &kgo.Record{Topic: topic, Partition: 0, Value: []byte("x"), Timestamp: time.UnixMilli(ts)}
		res := cl.ProduceSync(context.Background(), r)
		if err := res.FirstErr(); err != nil {
			t.Fatal(err)
		}
		offs = append(offs, r.Offset)
	}
	return offs
}

func TestListOffsetsAndDeleteRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, addr := startBroker(t, t.TempDir(), nil)
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	offs := produceAt(t, cl, "ts", 1000, 3000, 2000, 5000)
	if offs[3] != 3 {
		t.Fatalf("offsets %v", offs)
	}

	listOffsets := func(ts int64) (int64, int64, int16) {
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "ts"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = 0, ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		return p.Offset, p.Timestamp, p.ErrorCode
	}
	for _, tc := range []struct {
		ts, off, gotTs int64
	}{
		{-2, 0, -1},     // earliest
		{-1, 4, -1},     // latest
		{-3, 3, 5000},   // max timestamp
		{0, 0, 1000},    // first record at or after 0
		{1500, 1, 3000}, // timestamps are not monotonic: the first record >= 1500
		{2500, 1, 3000}, // ...
		{4000, 3, 5000}, //
		{6000, -1, -1},  // none
	} {
		off, ts, code := listOffsets(tc.ts)
		if code != 0 || off != tc.off || ts != tc.gotTs {
			t.Errorf("ListOffsets(%d) = offset %d ts %d code %d, want %d %d", tc.ts, off, ts, code, tc.off, tc.gotTs)
		}
	}

	del := func(before int64) (int64, int16) {
		req := kmsg.NewPtrDeleteRecordsRequest()
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = "ts"
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = 0, before
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 5000
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		return p.LowWatermark, p.ErrorCode
	}
	if low, code := del(2); low != 2 || code != 0 {
		t.Fatalf("DeleteRecords(2) = %d, %d", low, code)
	}
	if _, code := del(99); code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("DeleteRecords(99) code = %d, want OFFSET_OUT_OF_RANGE", code)
	}
	if off, _, _ := listOffsets(-2); off != 2 {
		t.Fatalf("earliest after DeleteRecords = %d, want 2", off)
	}
	if off, _, _ := listOffsets(0); off != 2 {
		t.Fatalf("by timestamp 0 after DeleteRecords = %d, want 2", off)
	}
}

func TestFetchLongPollWokenByProduce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, addr := startBroker(t, t.TempDir(), nil)
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	produceAt(t, cl, "poll", 1)

	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 15000, 1, 1<<20
	req.SessionEpoch = -1
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("poll")
	meta.Topics = append(meta.Topics, mt)
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = "poll", mresp.Topics[0].TopicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = 0, 1, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	go func() {
		time.Sleep(200 * time.Millisecond)
		r := &kgo.Record{Topic: "poll", Partition: 0, Value: []byte("x")}
		cl.Produce(ctx, r, nil)
	}()
	start := time.Now()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || len(p.RecordBatches) == 0 || p.HighWatermark != 2 {
		t.Fatalf("fetch: code %d, %d bytes, hw %d", p.ErrorCode, len(p.RecordBatches), p.HighWatermark)
	}
	// Woken by the append, not by MaxWait (15 s).
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("fetch returned after %v: not woken by the append", waited)
	}

	// A fetch of no partitions is answered at once, not after MaxWait.
	empty := kmsg.NewPtrFetchRequest()
	empty.MaxWaitMillis, empty.MinBytes, empty.SessionEpoch = 15000, 1, -1
	start = time.Now()
	if _, err := empty.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("an empty fetch waited %v", waited)
	}

	// Out of range.
	req.Topics[0].Partitions[0].FetchOffset = 50
	req.MaxWaitMillis = 0
	resp, err = req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch at 50: code %d, want OFFSET_OUT_OF_RANGE", code)
	}
}

func TestOffsetForLeaderEpochAndConfigs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, addr := startBroker(t, t.TempDir(), nil)
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	produceAt(t, cl, "ep", 1, 2, 3)

	oe := kmsg.NewPtrOffsetForLeaderEpochRequest()
	oe.ReplicaID = -1
	ot := kmsg.NewOffsetForLeaderEpochRequestTopic()
	ot.Topic = "ep"
	for _, epoch := range []int32{0, 1} {
		op := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		op.Partition, op.CurrentLeaderEpoch, op.LeaderEpoch = 0, -1, epoch
		ot.Partitions = append(ot.Partitions, op)
	}
	oe.Topics = append(oe.Topics, ot)
	oresp, err := oe.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if p := oresp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.LeaderEpoch != 0 || p.EndOffset != 3 {
		t.Fatalf("epoch 0: %+v", p)
	}
	if p := oresp.Topics[0].Partitions[1]; p.LeaderEpoch != -1 || p.EndOffset != -1 {
		t.Fatalf("epoch 1: %+v", p)
	}

	dc := kmsg.NewPtrDescribeConfigsRequest()
	dr := kmsg.NewDescribeConfigsRequestResource()
	dr.ResourceType, dr.ResourceName = kmsg.ConfigResourceTypeTopic, "ep"
	dr.ConfigNames = []string{"retention.ms", "cleanup.policy"}
	dc.Resources = append(dc.Resources, dr)
	dresp, err := dc.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range dresp.Resources[0].Configs {
		got[c.Name] = *c.Value
	}
	if got["retention.ms"] != "604800000" || got["cleanup.policy"] != "delete" || len(got) != 2 {
		t.Fatalf("configs: %v", got)
	}
}
