package bench

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// newKfake starts a one-broker in-process kfake cluster on a free loopback
// port and returns its address.
func newKfake(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func TestProduceConsumeKfake(t *testing.T) {
	brokers := newKfake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	pres, err := Produce(ctx, ProduceConfig{
		Brokers: brokers, Topic: "bench-test", Partitions: 3, RecordSize: 100,
		Records: 500, Duration: 10 * time.Second, Producers: 2,
		Compression: "zstd", Label: "kfake",
	})
	if err != nil {
		t.Fatalf("produce: %v (%s)", err, pres.Summary())
	}
	t.Log(pres.Summary())
	if pres.Records != 500 || pres.Bytes != 500*100 || pres.Errors != 0 || pres.Partitions != 3 {
		t.Fatalf("produce result %+v", pres)
	}
	if pres.Latency.Count != 500 || pres.Latency.P50 <= 0 || pres.Latency.P99 < pres.Latency.P50 ||
		pres.Latency.P999 < pres.Latency.P99 || pres.Latency.Max < pres.Latency.P999 {
		t.Fatalf("produce latency %+v", pres.Latency)
	}
	if pres.RecordsPerSec() <= 0 || pres.MBPerSec() <= 0 {
		t.Fatalf("rates %v %v", pres.RecordsPerSec(), pres.MBPerSec())
	}

	// Direct reads with two consumers splitting three partitions, reading
	// to the high watermarks.
	cres, err := Consume(ctx, ConsumeConfig{
		Brokers: brokers, Topic: "bench-test", Consumers: 2, Duration: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	t.Log(cres.Summary())
	if cres.Records != 500 || cres.Bytes != 500*100 || cres.FirstRecord <= 0 || cres.Elapsed < cres.FirstRecord {
		t.Fatalf("consume result %+v", cres)
	}

	// A consumer group reading a bounded count.
	gres, err := Consume(ctx, ConsumeConfig{
		Brokers: brokers, Topic: "bench-test", Records: 200, Group: "bench-test-group",
		Duration: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("group consume: %v", err)
	}
	if gres.Records < 200 {
		t.Fatalf("group consume read %d records", gres.Records)
	}

	row := pres.CSVRow()
	if len(row) != len(CSVHeader()) {
		t.Fatalf("CSV row has %d fields, header %d", len(row), len(CSVHeader()))
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(CSVHeader())
	_ = w.Write(row)
	w.Flush()
	if !strings.Contains(b.String(), "kfake,produce 100B acks=all zstd 3p x2,produce,bench-test,3,100,2,all,zstd,1000000,500,50000,0,") {
		t.Fatalf("CSV:\n%s", b.String())
	}
}

func TestProduceDurationBound(t *testing.T) {
	brokers := newKfake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	res, err := Produce(ctx, ProduceConfig{
		Brokers: brokers, Topic: "bench-dur", RecordSize: 64, Duration: 300 * time.Millisecond,
		Acks: "1", MaxBufferedRecords: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records == 0 || time.Since(start) > 10*time.Second {
		t.Fatalf("records %d after %v", res.Records, time.Since(start))
	}
}

func TestE2EKfake(t *testing.T) {
	brokers := newKfake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := E2E(ctx, E2EConfig{
		Brokers: brokers, Topic: "bench-e2e", RecordSize: 64, Rate: 500,
		Duration: 500 * time.Millisecond, Linger: -1,
	})
	if err != nil {
		t.Fatalf("e2e: %v (%s)", err, res.Summary())
	}
	t.Log(res.Summary())
	if res.Records < 200 || res.Latency.Count != uint64(res.Records) || res.Latency.P50 <= 0 {
		t.Fatalf("e2e result %+v", res)
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Produce(ctx, ProduceConfig{Brokers: []string{"127.0.0.1:1"}, Topic: "t"}); err == nil {
		t.Error("produce without a bound: no error")
	}
	if _, err := Produce(ctx, ProduceConfig{Brokers: []string{"127.0.0.1:1"}, Topic: "t", Records: 1, Acks: "2"}); err == nil {
		t.Error("acks=2: no error")
	}
	if _, err := Produce(ctx, ProduceConfig{Brokers: []string{"127.0.0.1:1"}, Topic: "t", Records: 1, Compression: "brotli"}); err == nil {
		t.Error("compression brotli: no error")
	}
	if _, err := Consume(ctx, ConsumeConfig{Topic: "t"}); err == nil {
		t.Error("consume without brokers: no error")
	}
}
