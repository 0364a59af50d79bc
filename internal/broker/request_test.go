package broker

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// frameOf encodes req as a request frame without the size prefix.
func frameOf(req kmsg.Request, version int16, clientID string) []byte {
	req.SetVersion(version)
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID))
	b := f.AppendRequest(nil, req, 7)
	return b[4:]
}

func TestParseRequestRoundTrip(t *testing.T) {
	topic := "events"
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = &topic
	meta.Topics = append(meta.Topics, mt)

	prod := kmsg.NewPtrProduceRequest()
	prod.Acks = -1
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = topic
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = []byte{1, 2, 3}
	pt.Partitions = append(pt.Partitions, pp)
	prod.Topics = append(prod.Topics, pt)

	for _, tc := range []struct {
		name    string
		req     kmsg.Request
		version int16
	}{
		{"metadata v1 (non-flexible)", meta, 1},
		{"metadata v12 (flexible)", meta, 12},
		{"produce v3", prod, 3},
		{"produce v9 (flexible)", prod, 9},
		{"api versions v3", kmsg.NewPtrApiVersionsRequest(), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRequest(frameOf(tc.req, tc.version, "client-1"))
			if err != nil {
				t.Fatal(err)
			}
			if r.key != tc.req.Key() || r.version != tc.version || r.corr != 7 || r.clientID != "client-1" {
				t.Fatalf("header = key %d v%d corr %d client %q", r.key, r.version, r.corr, r.clientID)
			}
			if got, want := r.kreq.AppendTo(nil), tc.req.AppendTo(nil); string(got) != string(want) {
				t.Fatalf("body differs after decoding")
			}
		})
	}
}

func TestParseRequestMalformed(t *testing.T) {
	good := frameOf(kmsg.NewPtrMetadataRequest(), 9, "c")
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"empty", nil},
		{"short header", good[:5]},
		{"unknown key", append(binary.BigEndian.AppendUint16(nil, 999), good[2:]...)},
		{"client id past end", append(append([]byte{}, good[:8]...), 0x7f, 0xff)},
		{"truncated body", good[:len(good)-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseRequest(tc.frame); !errors.Is(err, errMalformed) {
				t.Fatalf("err = %v, want errMalformed", err)
			}
		})
	}
}

func TestValidateTopicName(t *testing.T) {
	long := make([]byte, 250)
	for i := range long {
		long[i] = 'a'
	}
	for name, ok := range map[string]bool{
		"events": true, "a.b_c-D9": true, string(long[:249]): true,
		"": false, ".": false, "..": false, string(long): false, "a b": false, "a/b": false, "ü": false,
	} {
		if err := validateTopicName(name); (err == nil) != ok {
			t.Errorf("validateTopicName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

// FuzzParseRequest feeds arbitrary frames to the request decoder: it must
// return a request or errMalformed, never panic.
func FuzzParseRequest(f *testing.F) {
	f.Add(frameOf(kmsg.NewPtrMetadataRequest(), 12, "c"))
	f.Add(frameOf(kmsg.NewPtrApiVersionsRequest(), 3, ""))
	f.Add(frameOf(kmsg.NewPtrFetchRequest(), 12, "fuzz"))
	f.Add(frameOf(kmsg.NewPtrProduceRequest(), 9, "fuzz"))
	f.Add(frameOf(kmsg.NewPtrCreateTopicsRequest(), 7, "fuzz"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) >= 4 {
			// Only versions a handler serves reach the decoder.
			key := int16(binary.BigEndian.Uint16(frame))
			version := int16(binary.BigEndian.Uint16(frame[2:]))
			h := lookupHandler(key)
			if h == nil || version < h.min || version > h.max {
				return
			}
		}
		r, err := parseRequest(frame)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v is not errMalformed", err)
			}
			return
		}
		r.kreq.AppendTo(nil) // a decoded request must re-encode
	})
}
