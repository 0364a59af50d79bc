package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaStartTimeout bounds `scripts/kafka.sh start`: formatting the storage
// and starting the JVM take about 5 s on an idle machine, several times that
// while other test packages load both cores.
const kafkaStartTimeout = 150 * time.Second

// kafkaScript is scripts/kafka.sh, relative to this package's directory (the
// working directory of `go test`).
const kafkaScript = "../scripts/kafka.sh"

// sharedKafka is the one Apache Kafka broker of a test run: started by the
// first startKafka, stopped by stopSharedKafka (from TestMain) or, when the
// test binary exits without it, by the script's watchdog, which also removes
// its directory.
var sharedKafka struct {
	once sync.Once
	dir  string
	addr string
	err  error
}

// startKafka returns the address of this test run's Apache Kafka broker
// (scripts/kafka.sh: KRaft, one node, 127.0.0.1), starting it on first use.
// Tests share it, so each names its topics and groups uniquely. When Kafka is
// not installed the test fails under CI (CI set) and is skipped otherwise.
func startKafka(t *testing.T) string {
	t.Helper()
	requireKafka(t)
	sharedKafka.once.Do(func() {
		sharedKafka.dir, sharedKafka.addr, sharedKafka.err = launchKafka()
	})
	if sharedKafka.err != nil {
		t.Fatalf("starting Apache Kafka: %v", sharedKafka.err)
	}
	return sharedKafka.addr
}

// requireKafka fails (under CI) or skips the test unless scripts/kafka.sh
// has installed Kafka.
func requireKafka(t *testing.T) {
	t.Helper()
	out, err := exec.Command("bash", kafkaScript, "installed").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("Apache Kafka, the oracle of this test, is missing (%v): %s", err, bytes.TrimSpace(out))
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

var kafkaReadyRE = regexp.MustCompile(`(?m)^ready (127\.0\.0\.1:[0-9]+)$`)

// launchKafka runs `kafka.sh start` in a new temp dir on free loopback ports
// and returns the dir and the broker's address.
func launchKafka() (dir, addr string, err error) {
	dir, err = os.MkdirTemp("", "octopus-kafka-")
	if err != nil {
		return "", "", err
	}
	port, err := freePort()
	if err != nil {
		return dir, "", err
	}
	cport, err := freePort()
	if err != nil {
		return dir, "", err
	}
	script, err := filepath.Abs(kafkaScript)
	if err != nil {
		return dir, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), kafkaStartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, "start", dir, strconv.Itoa(port), strconv.Itoa(cport))
	cmd.Env = append(os.Environ(),
		"OCTOPUS_KAFKA_OWNER_PID="+strconv.Itoa(os.Getpid()),
		"KAFKA_START_TIMEOUT="+strconv.Itoa(int(kafkaStartTimeout/time.Second)-10),
	)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	m := kafkaReadyRE.FindSubmatch(out)
	if err != nil || m == nil {
		return dir, "", fmt.Errorf("%s start %s %d %d: %v\n%s", kafkaScript, dir, port, cport, err, out)
	}
	return dir, string(m[1]), nil
}

// stopSharedKafka stops the shared broker, if one was started, and removes
// its directory. TestMain should call it after m.Run; without that call the
// script's watchdog does the same within a second or so of the test binary
// exiting.
func stopSharedKafka() {
	if sharedKafka.dir == "" {
		return
	}
	if sharedKafka.addr != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		exec.CommandContext(ctx, "bash", kafkaScript, "stop", sharedKafka.dir).Run()
	}
	os.RemoveAll(sharedKafka.dir)
	sharedKafka.dir = ""
}

// freePort returns a loopback TCP port that was free a moment ago.
//
// The port is taken below Linux's ephemeral range (32768 and up): Kafka
// binds it seconds later, and an ephemeral port could meanwhile become the
// local end of some test's client connection, making that bind fail.
func freePort() (int, error) {
	for i := 0; i < 100; i++ {
		p := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		ln.Close()
		return p, nil
	}
	return 0, errors.New("no free loopback port below the ephemeral range")
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
