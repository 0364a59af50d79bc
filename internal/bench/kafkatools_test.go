package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The testdata files are the standard output of Apache Kafka 4.4.0's tools
// run against Apache Kafka 4.4.0 or Octopus on this project's machine (see
// each case).
func TestParseProducerPerf(t *testing.T) {
	for _, tt := range []struct {
		file    string
		ok      bool
		records int64
		rate    float64 // records/s, as the tool printed it
		lat     Latency
	}{
		{
			// --num-records 500000 --record-size 1024 --throughput -1
			// --command-property acks=all: one progress line, then the
			// summary.
			file: "producer-performance-kafka-4.4.txt", ok: true, records: 500000, rate: 95111.280198,
			lat: Latency{Count: 500000, Mean: 144240 * time.Microsecond, P50: 159 * time.Millisecond,
				P99: 387 * time.Millisecond, P999: 400 * time.Millisecond, Max: 414 * time.Millisecond},
		},
		{
			// The deprecated --producer-props form, whose warning goes to
			// standard output before the progress lines.
			file: "producer-performance-deprecated-props-kafka-4.4.txt", ok: true, records: 300000, rate: 31668.953869,
			lat: Latency{Count: 300000, Mean: 871930 * time.Microsecond, P50: 772 * time.Millisecond,
				P99: 2066 * time.Millisecond, P999: 2121 * time.Millisecond, Max: 2126 * time.Millisecond},
		},
		{
			// Against Octopus (octopus serve --fsync never), 1000000
			// records, --reporting-interval 1000: seven progress lines.
			file: "producer-performance-octopus.txt", ok: true, records: 1000000, rate: 135501.355014,
			lat: Latency{Count: 1000000, Mean: 58150 * time.Microsecond, P50: 23 * time.Millisecond,
				P99: 307 * time.Millisecond, P999: 332 * time.Millisecond, Max: 393 * time.Millisecond},
		},
		// A consumer's output is not a producer's.
		{file: "consumer-performance-kafka-4.4.txt"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			out, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			res, err := ParseProducerPerf(string(out), 1024)
			if !tt.ok {
				if err == nil {
					t.Fatalf("no error; got %+v", res)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Mode != ModeProduce || res.Client != ClientKafkaTools || res.Records != tt.records ||
				res.Bytes != tt.records*1024 || res.Latency != tt.lat {
				t.Fatalf("got %+v", res)
			}
			if got := res.RecordsPerSec(); got < tt.rate*0.9999 || got > tt.rate*1.0001 {
				t.Fatalf("records/s %f, tool said %f", got, tt.rate)
			}
		})
	}
	if _, err := ParseProducerPerf("84744 records sent, 16948.8 records/sec (16.55 MB/sec), 1388.5 ms avg latency, 2126.0 ms max latency.\n", 1024); err == nil {
		t.Error("a progress line alone parsed as a summary")
	}
}

func TestParseConsumerPerf(t *testing.T) {
	for _, tt := range []struct {
		file    string
		ok      bool
		records int64
		elapsed time.Duration
	}{
		// --num-records equal to the topic's 1500001 records.
		{file: "consumer-performance-kafka-4.4.txt", ok: true, records: 1500001, elapsed: 3895 * time.Millisecond},
		// Asked for more than the topic held: a warning line between the
		// header and the figures (and the wait counted in them).
		{file: "consumer-performance-timeout-kafka-4.4.txt", ok: true, records: 1500001, elapsed: 3983 * time.Millisecond},
		// Against Octopus: the topic's 1000001 records.
		{file: "consumer-performance-octopus.txt", ok: true, records: 1000001, elapsed: 2425 * time.Millisecond},
		{file: "producer-performance-kafka-4.4.txt"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			out, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			res, err := ParseConsumerPerf(string(out))
			if !tt.ok {
				if err == nil {
					t.Fatalf("no error; got %+v", res)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Whole MiB to four places, of 1024-byte records.
			if res.Mode != ModeConsume || res.Client != ClientKafkaTools || res.Records != tt.records ||
				res.Elapsed != tt.elapsed || res.RecordSize != 1024 || res.Bytes/1024 < tt.records-1 || res.Bytes/1024 > tt.records+1 {
				t.Fatalf("got %+v", res)
			}
		})
	}
	if _, err := ParseConsumerPerf("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n"); err == nil {
		t.Error("a header alone parsed")
	}
}
