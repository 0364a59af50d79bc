package test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// closeWithin is how fast the broker must drop a connection that sent
// something it cannot serve.
const closeWithin = 5 * time.Second

// TestBadFrames sends frames that a broker must refuse by closing the
// connection, and checks that it does so promptly and still serves new
// clients afterwards.
func TestBadFrames(t *testing.T) {
	t.Parallel()
	// A Produce v9 body that ends too soon, and one of 0xff bytes (a compact
	// string length that overflows its varint).
	produce := kmsg.NewPtrProduceRequest()
	produce.Version = 9
	produce.Acks = -1
	produce.TimeoutMillis = 1000
	produce.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: bytes.Repeat([]byte{1}, 100)}}}}
	whole := kmsg.NewRequestFormatter(kmsg.FormatterClientID("test")).AppendRequest(nil, produce, 1)
	cut := whole[:len(whole)-60]
	binary.BigEndian.PutUint32(cut, uint32(len(cut)-4))
	ffBody := frameHeader(0, 0, 9, 1)
	ffBody = append(ffBody, 0) // header tags
	ffBody = append(ffBody, bytes.Repeat([]byte{0xff}, 64)...)
	binary.BigEndian.PutUint32(ffBody, uint32(len(ffBody)-4))
	unknown := frameHeader(0, 999, 0, 1)
	binary.BigEndian.PutUint32(unknown, uint32(len(unknown)-4))

	cases := []struct {
		name  string
		frame []byte
	}{
		// Over the 100 MiB limit: refused on the length alone, before the
		// broker waits for (or allocates) the body.
		{"frame-over-100MiB", frameHeader(200<<20, 18, 0, 1)},
		{"produce-frame-over-100MiB", frameHeader(100<<20+1, 0, 9, 1)},
		{"frame-2GiB", frameHeader(1<<31-1, 18, 0, 1)},
		{"frame-negative-size", frameHeader(-5, 18, 0, 1)},
		{"produce-body-truncated", cut},
		{"produce-body-garbage", ffBody},
		{"unknown-api-key", unknown},
	}
	forEachMode(t, func(t *testing.T, m mode) {
		if m.name == "kfake" {
			t.Skip("kfake allocates whatever a frame announces and panics on unknown API keys")
		}
		s := m.start(t, "", serverOpts{})
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				w := dialWire(t, s.Addr())
				start := time.Now()
				w.writeRaw(c.frame)
				if err := waitClosed(w.conn, closeWithin); err != nil {
					t.Errorf("after %s: %v", c.name, err)
				} else {
					t.Logf("closed after %v", time.Since(start).Round(time.Millisecond))
				}
				assertServing(t, s.Addr())
			})
		}
	})
}

// TestApiVersionsUnsupportedVersion asks for ApiVersions at a version the
// broker cannot know: like Kafka it must answer at v0 with
// UNSUPPORTED_VERSION and the ApiVersions versions it does serve (Kafka lists
// only that key), and keep the connection so the client can ask again.
func TestApiVersionsUnsupportedVersion(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, m mode) {
		s := m.start(t, "", serverOpts{})
		w := dialWire(t, s.Addr())
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 99
		req.ClientSoftwareName = "octopus-test"
		req.ClientSoftwareVersion = "1"
		corr := w.send(req)
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.Version = 0
		w.recv(corr, resp)
		if resp.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Errorf("ApiVersions v99: error code %d, want %d (UNSUPPORTED_VERSION)", resp.ErrorCode, kerr.UnsupportedVersion.Code)
		}
		var av *kmsg.ApiVersionsResponseApiKey
		for i, k := range resp.ApiKeys {
			if k.ApiKey == 18 {
				av = &resp.ApiKeys[i]
			}
		}
		switch {
		case av == nil:
			t.Errorf("ApiVersions v99 response lists %d APIs but not ApiVersions itself", len(resp.ApiKeys))
		case av.MinVersion != 0 || av.MaxVersion < 3:
			t.Errorf("ApiVersions supported v%d..v%d, want v0..v3 or more", av.MinVersion, av.MaxVersion)
		}
		// The same connection still works, and agrees.
		v := w.apiVersions()
		if av != nil && v[18] != [2]int16{av.MinVersion, av.MaxVersion} {
			t.Errorf("ApiVersions v0 says ApiVersions v%d..v%d, the UNSUPPORTED_VERSION answer v%d..v%d", v[18][0], v[18][1], av.MinVersion, av.MaxVersion)
		}
	})
}

// recordBatch returns a one-record RecordBatch v2 with a correct CRC-32C.
func recordBatch(key, value string) []byte {
	now := time.Now().UnixMilli()
	r := kmsg.Record{Key: []byte(key), Value: []byte(value), Headers: []kmsg.Header{{Key: "h", Value: []byte("v")}}}
	r.Length = int32(len(r.AppendTo(nil)) - 1) // the length varint of 0 is one byte
	r.Length = int32(len(r.AppendTo(nil)) - varintLen(r.Length))
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		FirstTimestamp:       now,
		MaxTimestamp:         now,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           1,
		Records:              r.AppendTo(nil),
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	crc := crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(raw[17:], crc)
	return raw
}

// varintLen is the length of v as a zig-zag varint.
func varintLen(v int32) int {
	u := uint32(v<<1) ^ uint32(v>>31)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// TestProduceBadCRC produces a batch whose CRC does not match: the broker
// must answer CORRUPT_MESSAGE for that partition, store nothing, and keep
// serving the connection; the same batch with the right CRC is stored.
func TestProduceBadCRC(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, m mode) {
		s := m.start(t, "", serverOpts{})
		const topic = "crc"
		createTopic(t, s.Addr(), topic, 2)
		w := dialWire(t, s.Addr())
		version := w.version(0, 9)

		good := recordBatch("k", "good")
		bad := recordBatch("k", "bad")
		bad[17] ^= 0x01 // the CRC's first byte
		req := kmsg.NewPtrProduceRequest()
		req.Version = version
		req.Acks = -1
		req.TimeoutMillis = 10000
		req.Topics = []kmsg.ProduceRequestTopic{{Topic: topic, Partitions: []kmsg.ProduceRequestTopicPartition{
			{Partition: 0, Records: good},
			{Partition: 1, Records: bad},
		}}}
		resp := w.request(req).(*kmsg.ProduceResponse)
		codes := map[int32]int16{}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				codes[rp.Partition] = rp.ErrorCode
			}
		}
		if c, ok := codes[0]; !ok || c != 0 {
			t.Errorf("Produce v%d of a good batch to partition 0: error code %d (present %v), want 0", version, c, ok)
		}
		if c, ok := codes[1]; !ok || c != kerr.CorruptMessage.Code {
			t.Errorf("Produce v%d with a bad CRC to partition 1: error code %d (present %v), want %d (CORRUPT_MESSAGE)", version, c, ok, kerr.CorruptMessage.Code)
		}
		w.apiVersions() // the connection is still served
		if _, end := offsets(t, s.Addr(), topic); end[0] != 1 || end[1] != 0 {
			t.Errorf("end offsets %v after one good and one corrupt batch, want map[0:1 1:0]", end)
		}
	})
}

// TestCreateTopicsInvalidName creates topics with names Kafka refuses, next
// to a valid one: each bad name gets INVALID_TOPIC_EXCEPTION and the valid
// one is created.
func TestCreateTopicsInvalidName(t *testing.T) {
	t.Parallel()
	bad := []string{"", ".", "..", "bad topic", "bad/topic", "bäd", strings.Repeat("x", 250)}
	forEachMode(t, func(t *testing.T, m mode) {
		s := m.start(t, "", serverOpts{})
		w := dialWire(t, s.Addr())
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version = w.version(19, 5)
		req.TimeoutMillis = 10000
		for _, name := range append(bad, "good.topic_1-x") {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic = name
			rt.NumPartitions = 1
			rt.ReplicationFactor = 1
			req.Topics = append(req.Topics, rt)
		}
		resp := w.request(req).(*kmsg.CreateTopicsResponse)
		codes := map[string]int16{}
		for _, rt := range resp.Topics {
			codes[rt.Topic] = rt.ErrorCode
		}
		for _, name := range bad {
			if c, ok := codes[name]; !ok || c != kerr.InvalidTopicException.Code {
				t.Errorf("CreateTopics v%d %.20q: error code %d (present %v), want %d (INVALID_TOPIC_EXCEPTION)", req.Version, name, c, ok, kerr.InvalidTopicException.Code)
			}
		}
		if c, ok := codes["good.topic_1-x"]; !ok || c != 0 {
			t.Errorf("CreateTopics v%d of a valid name: error code %d (present %v), want 0", req.Version, c, ok)
		}
	})
}

// TestCreateTopicsLongestName creates a topic with the longest name Kafka
// allows (249 characters), writes to it and reads it back after a restart:
// the broker's file names must have room for it.
func TestCreateTopicsLongestName(t *testing.T) {
	t.Parallel()
	topic := strings.Repeat("n", 249)
	forEachMode(t, func(t *testing.T, m mode) {
		s := m.start(t, "", serverOpts{})
		createTopic(t, s.Addr(), topic, 2)
		recs := makeRecords("longest", 100)
		produceKgo(t, s.Addr(), topic, "none", recs)
		s.Restart(t)
		checkRecords(t, recs, consumeKgo(t, s.Addr(), topic), checkOpts{codec: 0})
	})
}
