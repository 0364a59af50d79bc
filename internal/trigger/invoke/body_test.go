package invoke

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/trigger"
)

// decodeRecords decodes a body generically, as a receiver would.
func decodeRecords(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	if !json.Valid(body) {
		t.Fatalf("invalid JSON body: %q", body)
	}
	var v struct{ Records []map[string]any }
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v.Records
}

func TestBodyValues(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name  string
		value []byte
		want  any // decoded "value"
		enc   any // "value_encoding"
	}{
		{"object", []byte(`{"status":"failed","n":[1,2.5]}`), map[string]any{"status": "failed", "n": []any{json.Number("1"), json.Number("2.5")}}, "json"},
		{"padded object", []byte(" \n{\"a\":true}\t"), map[string]any{"a": true}, "json"},
		{"string", []byte(`"done"`), "done", "json"},
		{"number", []byte(`42`), json.Number("42"), "json"},
		{"json null", []byte(`null`), nil, "json"},
		{"text", []byte(`temperature high`), b64([]byte("temperature high")), "base64"},
		{"two values", []byte(`1 2`), b64([]byte("1 2")), "base64"},
		{"binary", []byte{0, 1, 0xfe, 0xff}, b64([]byte{0, 1, 0xfe, 0xff}), "base64"},
		{"bad UTF-8 in a JSON string", []byte("\"a\xffb\""), b64([]byte("\"a\xffb\"")), "base64"},
		{"empty", []byte{}, "", "base64"},
		{"null", nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testBatch(1)
			b.Records[0].Value = tc.value
			r := decodeRecords(t, encodeBody(b))[0]
			if !reflect.DeepEqual(r["value"], tc.want) || r["value_encoding"] != tc.enc {
				t.Errorf("value %#v (%v), want %#v (%v)", r["value"], r["value_encoding"], tc.want, tc.enc)
			}
		})
	}
}

func TestBodyKeysAndHeaders(t *testing.T) {
	b := testBatch(1)
	r := &b.Records[0]
	for _, tc := range []struct {
		key     []byte
		want    any
		wantEnc any
	}{
		{[]byte("sensor-7"), "sensor-7", "utf8"},
		{[]byte("quote\" back\\ nl\n ctl\x01 é ✓"), "quote\" back\\ nl\n ctl\x01 é ✓", "utf8"},
		{[]byte{0xff, 0x00}, base64.StdEncoding.EncodeToString([]byte{0xff, 0x00}), "base64"},
		{[]byte{}, "", "utf8"},
		{nil, nil, nil},
	} {
		r.Key = tc.key
		r.Headers = []trigger.Header{{Key: "h", Value: tc.key}, {Key: "bad\xffkey", Value: []byte("v")}}
		rec := decodeRecords(t, encodeBody(b))[0]
		if !reflect.DeepEqual(rec["key"], tc.want) || rec["key_encoding"] != tc.wantEnc {
			t.Errorf("key %q: got %#v (%v)", tc.key, rec["key"], rec["key_encoding"])
		}
		hs := rec["headers"].([]any)
		h0, h1 := hs[0].(map[string]any), hs[1].(map[string]any)
		if h0["key"] != "h" || !reflect.DeepEqual(h0["value"], tc.want) || h0["value_encoding"] != tc.wantEnc {
			t.Errorf("header value %q: got %v", tc.key, h0)
		}
		if h1["key"] != "bad\uFFFDkey" || h1["value"] != "v" {
			t.Errorf("header with a bad key: got %v", h1)
		}
	}
}

func TestBodyRecordFields(t *testing.T) {
	b := testBatch(2)
	b.TriggerName = "name \"quoted\""
	b.Records[1].Timestamp = time.Time{}
	b.Records[1].Headers = nil
	body := encodeBody(b)
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"trigger":  map[string]any{"id": "trg-1", "name": "name \"quoted\""},
		"delivery": "dlv-42",
		"attempt":  1.0,
		"records": []any{
			map[string]any{
				"topic": "lab.events", "partition": 3.0, "offset": 100.0,
				"timestamp": "2026-03-04T05:06:07.891Z", "timestamp_ms": 1772600767891.0,
				"key": "sensor-7", "key_encoding": "utf8",
				"value": map[string]any{"status": "failed", "step": 0.0}, "value_encoding": "json",
				"headers": []any{map[string]any{"key": "trace", "value": "abc", "value_encoding": "utf8"}},
			},
			map[string]any{
				"topic": "lab.events", "partition": 3.0, "offset": 101.0,
				"timestamp": nil, "timestamp_ms": nil,
				"key": "sensor-7", "key_encoding": "utf8",
				"value": map[string]any{"status": "failed", "step": 1.0}, "value_encoding": "json",
				"headers": []any{},
			},
		},
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("body %s\nwant %v", body, want)
	}
}

func TestBodyTimestampIsUTC(t *testing.T) {
	b := testBatch(1)
	b.Records[0].Timestamp = time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.FixedZone("CET", 3600))
	rec := decodeRecords(t, encodeBody(b))[0]
	if rec["timestamp"] != "2026-01-02T02:04:05.006Z" || rec["timestamp_ms"] != json.Number("1767319445006") {
		t.Errorf("timestamp %v / %v", rec["timestamp"], rec["timestamp_ms"])
	}
}

func TestBodyEstimateHolds(t *testing.T) {
	for _, n := range []int{0, 1, 100} {
		b := testBatch(n)
		for i := range b.Records {
			if i%2 == 1 {
				b.Records[i].Value = bytes.Repeat([]byte{0xff}, 300) // base64
			}
		}
		body := encodeBody(b)
		if len(body) > estimateBody(b) {
			t.Errorf("%d records: body of %d bytes, estimate %d", n, len(body), estimateBody(b))
		}
	}
}

// FuzzBody checks that any key, value and header give a valid body whose
// fields decode back to the bytes.
func FuzzBody(f *testing.F) {
	f.Add([]byte("k"), []byte(`{"a":1}`), "h", []byte("v"))
	f.Add([]byte{0xff}, []byte("\"\xff\""), "\xff", []byte{0})
	f.Fuzz(func(t *testing.T, key, value []byte, hkey string, hval []byte) {
		b := testBatch(1)
		b.Records[0].Key, b.Records[0].Value = key, value
		b.Records[0].Headers = []trigger.Header{{Key: hkey, Value: hval}}
		rec := decodeRecords(t, encodeBody(b))[0]
		if got := field(t, rec["key"], rec["key_encoding"]); !bytes.Equal(got, key) {
			t.Errorf("key %q decodes to %q", key, got)
		}
		h := rec["headers"].([]any)[0].(map[string]any)
		if got := field(t, h["value"], h["value_encoding"]); !bytes.Equal(got, hval) {
			t.Errorf("header value %q decodes to %q", hval, got)
		}
		if rec["value_encoding"] == "base64" {
			if got := field(t, rec["value"], "base64"); !bytes.Equal(got, value) {
				t.Errorf("value %q decodes to %q", value, got)
			}
		} else if rec["value_encoding"] == "json" && !json.Valid(value) {
			t.Errorf("value %q embedded as JSON", value)
		}
	})
}

// field returns the bytes of a utf8 or base64 field, nil for null.
func field(t *testing.T, v, enc any) []byte {
	t.Helper()
	switch enc {
	case nil:
		return nil
	case "utf8":
		return []byte(v.(string))
	case "base64":
		b, err := base64.StdEncoding.DecodeString(v.(string))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("encoding %v", enc)
	return nil
}

func TestAppendTimeMatchesFormat(t *testing.T) {
	zone := time.FixedZone("X", -7*3600-30*60)
	for _, tm := range []time.Time{
		time.Unix(0, 0), time.UnixMilli(1772600767891), time.UnixMilli(-1),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 30, 0, 5_000_000, zone),
	} {
		for i := range 1000 {
			tm := tm.Add(time.Duration(i) * 7919 * time.Second).Add(time.Duration(i) * 1_234_567)
			if got, want := string(appendTime(nil, tm)), tm.UTC().Format(tsLayout); got != want {
				t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
			}
		}
	}
}
