package test

import (
	"fmt"
	"testing"
	"time"
)

// roundTripRecords is how many records each (client, codec, mode) produces.
func roundTripRecords() int {
	if testing.Short() {
		return 500
	}
	return 2000
}

const roundTripPartitions = 3

// TestRoundTripKgo produces with franz-go, one topic per codec, acks=all,
// restarts the broker, and consumes everything back with franz-go.
func TestRoundTripKgo(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, m mode) {
		s := m.start(t, "", serverOpts{})
		want := map[string][]rec{}
		for _, c := range codecs {
			topic := "rt-kgo-" + c.name
			createTopic(t, s.Addr(), topic, roundTripPartitions)
			want[c.name] = makeRecords(topic, roundTripRecords())
			produceKgo(t, s.Addr(), topic, c.name, want[c.name])
		}
		s.Restart(t)
		for _, c := range codecs {
			t.Run(c.name, func(t *testing.T) {
				got := consumeKgo(t, s.Addr(), "rt-kgo-"+c.name)
				checkRecords(t, want[c.name], got, checkOpts{codec: c.attr})
			})
		}
	})
}

// TestRoundTripSarama does the same with IBM/sarama on both ends.
func TestRoundTripSarama(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, m mode) {
		s := m.start(t, "", serverOpts{})
		want := map[string][]rec{}
		for _, c := range codecs {
			topic := "rt-sarama-" + c.name
			createTopic(t, s.Addr(), topic, roundTripPartitions)
			want[c.name] = makeRecords(topic, roundTripRecords())
			produceSarama(t, s.Addr(), topic, c.name, want[c.name])
		}
		s.Restart(t)
		for _, c := range codecs {
			t.Run(c.name, func(t *testing.T) {
				topic := "rt-sarama-" + c.name
				got := consumeSarama(t, s.Addr(), topic)
				checkRecords(t, want[c.name], got, checkOpts{codec: -1})
				// sarama does not show batch attributes: check the stored
				// codec with franz-go.
				checkRecords(t, want[c.name], consumeKgo(t, s.Addr(), topic), checkOpts{codec: c.attr})
			})
		}
	})
}

// TestRoundTripKcat produces with kcat (librdkafka), restarts the broker,
// and consumes with kcat. kcat sets the same headers on every record and
// cannot set timestamps, so those are checked against what it can do.
func TestRoundTripKcat(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, m mode) {
		s := m.start(t, "", serverOpts{})
		want := map[string][]rec{}
		from := time.Now().UnixMilli()
		for _, c := range codecs {
			topic := "rt-kcat-" + c.name
			createTopic(t, s.Addr(), topic, roundTripPartitions)
			recs := makeRecords(topic, roundTripRecords())
			for i := range recs {
				recs[i].Headers = kcatHeaders(topic)
			}
			want[c.name] = recs
			produceKcat(t, s.Addr(), topic, c.name, topic, recs)
		}
		to := time.Now().UnixMilli()
		s.Restart(t)
		_, groups := dialWire(t, s.Addr()).apiVersions()[10]
		for _, c := range codecs {
			t.Run(c.name, func(t *testing.T) {
				topic := "rt-kcat-" + c.name
				got := consumeKcat(t, s.Addr(), topic)
				checkRecords(t, want[c.name], got, checkOpts{codec: -1, tsFrom: from, tsTo: to})
				codec := c.attr
				if c.name == "lz4" && !groups {
					// librdkafka enables LZ4 only when the broker advertises
					// FindCoordinator v0 (its marker for Kafka 0.8.2), so
					// until consumer groups exist it sends lz4 uncompressed.
					t.Logf("KNOWN GAP: broker lacks FindCoordinator; librdkafka did not compress with lz4; codec not checked")
					codec = -1
				}
				checkRecords(t, want[c.name], consumeKgo(t, s.Addr(), topic), checkOpts{codec: codec, tsFrom: from, tsTo: to})
			})
		}
	})
}

// TestCrossClient produces with each client and reads with the others, so
// per-record headers and explicit timestamps are also checked through
// librdkafka's decoder, and sarama's batches through franz-go's and kcat's.
func TestCrossClient(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, m mode) {
		s := m.start(t, "", serverOpts{})
		n := roundTripRecords() / 4
		type produced struct {
			topic string
			recs  []rec
		}
		var all []produced
		for _, c := range []string{"gzip", "zstd"} {
			topic := "cross-kgo-" + c
			createTopic(t, s.Addr(), topic, roundTripPartitions)
			recs := makeRecords(topic, n)
			produceKgo(t, s.Addr(), topic, c, recs)
			all = append(all, produced{topic, recs})

			topic = "cross-sarama-" + c
			createTopic(t, s.Addr(), topic, roundTripPartitions)
			recs = makeRecords(topic, n)
			produceSarama(t, s.Addr(), topic, c, recs)
			all = append(all, produced{topic, recs})
		}
		s.Restart(t)
		for _, p := range all {
			t.Run(fmt.Sprintf("%s/kcat", p.topic), func(t *testing.T) {
				checkRecords(t, p.recs, consumeKcat(t, s.Addr(), p.topic), checkOpts{codec: -1})
			})
			t.Run(fmt.Sprintf("%s/sarama", p.topic), func(t *testing.T) {
				checkRecords(t, p.recs, consumeSarama(t, s.Addr(), p.topic), checkOpts{codec: -1})
			})
		}
	})
}
