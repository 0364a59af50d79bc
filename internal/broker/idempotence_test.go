package broker

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawBatch encodes one uncompressed record batch from producer id.
func rawBatch(id int64, epoch int16, seq int32, values ...string) []byte {
	var records []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte(v)}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		records = r.AppendTo(records)
	}
	rb := kmsg.RecordBatch{Magic: 2, LastOffsetDelta: int32(len(values) - 1), FirstTimestamp: 1, MaxTimestamp: 1,
		ProducerID: id, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: int32(len(values)), Records: records}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func TestIdempotentProduceRetry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, addr := startBroker(t, t.TempDir(), nil)
	cl := newClient(t, addr, kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "idem", Value: []byte("first")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	init := kmsg.NewPtrInitProducerIDRequest()
	ir, err := init.RequestWith(ctx, cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %v", ir, err)
	}

	produce := func(batch []byte) (int64, int16) {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "idem"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		return p.BaseOffset, p.ErrorCode
	}
	id, epoch := ir.ProducerID, ir.ProducerEpoch
	if off, code := produce(rawBatch(id, epoch, 0, "a", "b")); off != 1 || code != 0 {
		t.Fatalf("first idempotent batch: offset %d code %d", off, code)
	}
	if off, code := produce(rawBatch(id, epoch, 0, "a", "b")); off != 1 || code != 0 {
		t.Fatalf("retry: offset %d code %d, want the original offset 1", off, code)
	}
	if _, code := produce(rawBatch(id, epoch, 5, "c")); code != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("gap: code %d", code)
	}
	if off, code := produce(rawBatch(id, epoch, 2, "c")); off != 3 || code != 0 {
		t.Fatalf("next batch: offset %d code %d", off, code)
	}
}
