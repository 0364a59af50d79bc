package test

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/testenv"
)

// startKafka returns the address of this test run's Apache Kafka broker
// (testenv.Kafka: scripts/kafka.sh, KRaft, one node, 127.0.0.1, PLAINTEXT),
// starting it on first use. Tests share it, so each names its topics and
// groups uniquely. When Kafka is not installed the test fails under CI (CI
// set) and is skipped otherwise.
func startKafka(t *testing.T) string {
	t.Helper()
	return testenv.Kafka(t, "plaintext")
}

// TestKafkaOracle checks the oracle itself: scripts/kafka.sh started a KRaft
// broker that advertises Kafka 4's API versions and itself as the one broker
// at its address, and real clients round-trip records through it exactly as
// the black-box tests expect of Octopus.
func TestKafkaOracle(t *testing.T) {
	addr := startKafka(t)

	w := dialWire(t, addr)
	v := w.apiVersions()
	// Kafka 4 dropped ListOffsets v0 (KIP-896) and serves Produce v12+.
	if r := v[2]; r[0] != 1 {
		t.Errorf("Kafka serves ListOffsets v%d..v%d, want v1 as the lowest (Kafka 4)", r[0], r[1])
	}
	if r := v[0]; r[1] < 12 {
		t.Errorf("Kafka serves Produce up to v%d, want at least v12 (Kafka 4)", r[1])
	}

	req := kmsg.NewPtrDescribeClusterRequest()
	resp := w.request(req).(*kmsg.DescribeClusterResponse)
	if resp.ErrorCode != 0 || len(resp.Brokers) != 1 {
		t.Fatalf("DescribeCluster: error %v, %d brokers, want one", kerr.ErrorForCode(resp.ErrorCode), len(resp.Brokers))
	}
	if b := resp.Brokers[0]; net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))) != addr {
		t.Errorf("DescribeCluster: broker %s:%d, want %s", b.Host, b.Port, addr)
	}

	topic := fmt.Sprintf("oracle-roundtrip-%d", time.Now().UnixNano())
	createTopic(t, addr, topic, 3)
	recs := makeRecords("oracle", 300)
	produceKgo(t, addr, topic, "zstd", recs)
	checkRecords(t, recs, consumeKgo(t, addr, topic), checkOpts{codec: 4})
}
