package test

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rec is one record as a test produced or consumed it, independent of the
// client library.
type rec struct {
	Partition int32 // -1: not known (kcat does not report it when producing)
	Offset    int64 // -1: not known
	Key       []byte
	Value     []byte
	Headers   []hdr
	Timestamp int64 // milliseconds since the epoch
	Codec     int8  // batch compression as consumed (0 none … 4 zstd); -1 unknown
}

type hdr struct{ Key, Value string }

// seq is the record's sequence number, the second |-field of its value.
func (r rec) seq() (int, error) {
	parts := bytes.SplitN(r.Value, []byte("|"), 3)
	if len(parts) < 3 {
		return 0, fmt.Errorf("value %.40q has no sequence number", r.Value)
	}
	return strconv.Atoi(string(parts[1]))
}

func (r rec) String() string {
	return fmt.Sprintf("p%d@%d key=%q value=%.40q(%dB) headers=%v ts=%d",
		r.Partition, r.Offset, r.Key, r.Value, len(r.Value), r.Headers, r.Timestamp)
}

// codecs are the record-batch compression codecs, by their attribute value.
var codecs = []struct {
	name string
	attr int8
}{
	{"none", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4},
}

// makeRecords returns n records tagged tag: distinct keys, compressible
// values of varied size (a few large), three headers (one empty) and explicit
// millisecond timestamps a little in the past (recent enough that no
// time-based retention can touch them).
func makeRecords(tag string, n int) []rec {
	base := time.Now().Add(-time.Hour).UnixMilli()
	out := make([]rec, n)
	for i := range out {
		size := 8 + i%32
		if i%997 == 500 {
			size = 8 << 10 // ~64 KiB
		}
		out[i] = rec{
			Partition: -1,
			Offset:    -1,
			Key:       fmt.Appendf(nil, "key-%s-%06d", tag, i),
			Value:     fmt.Appendf(nil, "%s|%d|%s", tag, i, strings.Repeat("octopus ", size)),
			Headers: []hdr{
				{"seq", strconv.Itoa(i)},
				{"tag", tag},
				{"empty", ""},
			},
			Timestamp: base + int64(i)*7,
			Codec:     -1,
		}
	}
	return out
}

// checkOpts relaxes checkRecords for what a client cannot control.
type checkOpts struct {
	// tsWindow, when set, replaces the exact timestamp check: the client
	// stamped the record itself, at some time within [from, to].
	tsFrom, tsTo int64
	// codec, when >= 0, is the compression every consumed batch must use
	// (or none: a client may send a batch uncompressed when compressing does
	// not make it smaller). At least one record must use it.
	codec int8
}

// checkRecords asserts that got holds every record of want exactly once and
// nothing else: same key, value, headers and timestamp; at the partition and
// offset the producer was told, when it was told; per partition in offset
// order, offsets contiguous from 0, sequence numbers in produce order.
func checkRecords(t *testing.T, want, got []rec, o checkOpts) {
	t.Helper()
	errs := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if errs++; errs <= 10 {
			t.Errorf(format, args...)
		}
	}
	defer func() {
		if errs > 10 {
			t.Errorf("… and %d more mismatches (%d records wanted, %d consumed)", errs-10, len(want), len(got))
		}
	}()

	bySeq := make(map[int]rec, len(got))
	nextOffset := map[int32]int64{}
	lastSeq := map[int32]int{}
	withCodec := 0
	for _, g := range got {
		s, err := g.seq()
		if err != nil {
			fail("consumed %v: %v", g, err)
			continue
		}
		if prev, dup := bySeq[s]; dup {
			fail("record %d consumed twice: %v and %v", s, prev, g)
		}
		bySeq[s] = g
		if want := nextOffset[g.Partition]; g.Offset != want {
			fail("partition %d: consumed offset %d, want %d (offsets must be contiguous from 0): %v", g.Partition, g.Offset, want, g)
		}
		nextOffset[g.Partition] = g.Offset + 1
		if last, ok := lastSeq[g.Partition]; ok && s <= last {
			fail("partition %d: record %d consumed after record %d (out of produce order): %v", g.Partition, s, last, g)
		}
		lastSeq[g.Partition] = s
		if o.codec >= 0 && g.Codec >= 0 {
			switch g.Codec {
			case o.codec:
				withCodec++
			case 0:
			default:
				fail("record %d: batch codec %d, want %d: %v", s, g.Codec, o.codec, g)
			}
		}
	}
	if o.codec > 0 && len(got) > 0 && withCodec == 0 {
		fail("no consumed batch used codec %d", o.codec)
	}

	for i, w := range want {
		s, err := w.seq()
		if err != nil {
			t.Fatalf("want[%d]: %v", i, err)
		}
		g, ok := bySeq[s]
		if !ok {
			fail("record %d acknowledged but not consumed: %v", s, w)
			continue
		}
		delete(bySeq, s)
		if w.Partition >= 0 && (g.Partition != w.Partition || g.Offset != w.Offset) {
			fail("record %d: consumed at p%d@%d, producer was told p%d@%d", s, g.Partition, g.Offset, w.Partition, w.Offset)
		}
		if !bytes.Equal(g.Key, w.Key) {
			fail("record %d: key %q, want %q", s, g.Key, w.Key)
		}
		if !bytes.Equal(g.Value, w.Value) {
			fail("record %d: value %.60q (%d bytes), want %.60q (%d bytes)", s, g.Value, len(g.Value), w.Value, len(w.Value))
		}
		if !slices.Equal(g.Headers, w.Headers) {
			fail("record %d: headers %v, want %v", s, g.Headers, w.Headers)
		}
		if o.tsTo != 0 {
			if g.Timestamp < o.tsFrom || g.Timestamp > o.tsTo {
				fail("record %d: timestamp %d outside the produce window [%d, %d]", s, g.Timestamp, o.tsFrom, o.tsTo)
			}
		} else if g.Timestamp != w.Timestamp {
			fail("record %d: timestamp %d, want %d", s, g.Timestamp, w.Timestamp)
		}
	}
	for s, g := range bySeq {
		fail("record %d consumed but never produced: %v", s, g)
	}
}
