package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// kafkaStartTimeout bounds `scripts/kafka.sh start`: formatting the storage
// and starting the JVM take about 5 s on an idle machine, several times that
// while other test packages load both cores.
const kafkaStartTimeout = 150 * time.Second

var kafkaReadyRE = regexp.MustCompile(`(?m)^ready (127\.0\.0\.1:[0-9]+)$`)

// kafkaInstance is one Apache Kafka broker of a test binary.
type kafkaInstance struct {
	once   sync.Once
	script string // absolute path of kafka.sh
	dir    string // set once a start was attempted
	addr   string
	err    error

	security string
	props    []string
	cport    int
}

// kafkas holds the brokers of this test binary by configuration (security
// and server properties): the listener's security is fixed at start.
var kafkas struct {
	mu sync.Mutex
	m  map[string]*kafkaInstance
}

// Kafka returns the address of this test binary's Apache Kafka broker
// (scripts/kafka.sh: KRaft, one node, 127.0.0.1) with the given security,
// "plaintext" or "sasl" (SASL_PLAINTEXT, StandardAuthorizer, User:admin a
// super user with AdminPassword), and extra server properties
// (KAFKA_SERVER_PROPS, KEY=VALUE each). It starts the broker on first use;
// tests share it, so each names its topics, groups and users uniquely.
// The script's watchdog (OCTOPUS_KAFKA_OWNER_PID) stops it when the test
// binary exits; StopKafka does so at once. When Kafka is not installed the
// test fails under CI and is skipped otherwise (RequireOrSkip).
func Kafka(t testing.TB, security string, props ...string) string {
	t.Helper()
	script := filepath.Join(RepoRoot(t), "scripts", "kafka.sh")
	if out, err := exec.Command("bash", script, "installed").CombinedOutput(); err != nil {
		RequireOrSkip(t, "Apache Kafka is missing", fmt.Errorf("%v: %s", err, bytes.TrimSpace(out)))
	}
	key := security + "\n" + strings.Join(props, " ")
	kafkas.mu.Lock()
	if kafkas.m == nil {
		kafkas.m = make(map[string]*kafkaInstance)
	}
	k := kafkas.m[key]
	if k == nil {
		k = &kafkaInstance{script: script}
		kafkas.m[key] = k
	}
	kafkas.mu.Unlock()
	k.once.Do(func() { k.launch(security, props) })
	if k.err != nil {
		t.Fatalf("starting Apache Kafka (%s): %v", security, k.err)
	}
	return k.addr
}

// env is the environment of kafka.sh start.
func (k *kafkaInstance) env() []string {
	return append(os.Environ(),
		"KAFKA_SECURITY="+k.security,
		"KAFKA_ADMIN_PASSWORD="+AdminPassword,
		"KAFKA_SERVER_PROPS="+strings.Join(k.props, "\n"),
		"OCTOPUS_KAFKA_OWNER_PID="+strconv.Itoa(os.Getpid()),
		"KAFKA_START_TIMEOUT="+strconv.Itoa(int(kafkaStartTimeout/time.Second)-10),
	)
}

// launch runs `kafka.sh start` in a new temp dir on free loopback ports.
func (k *kafkaInstance) launch(security string, props []string) {
	k.dir, k.err = os.MkdirTemp("", "octopus-kafka-"+security+"-")
	if k.err != nil {
		return
	}
	port, err := freePort()
	if err != nil {
		k.err = err
		return
	}
	cport, err := freePort()
	if err != nil {
		k.err = err
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), kafkaStartTimeout)
	defer cancel()
	k.security, k.props, k.cport = security, props, cport
	cmd := exec.CommandContext(ctx, "bash", k.script, "start", k.dir, strconv.Itoa(port), strconv.Itoa(cport))
	cmd.Env = k.env()
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	m := kafkaReadyRE.FindSubmatch(out)
	if err != nil || m == nil {
		k.err = fmt.Errorf("KAFKA_SECURITY=%s %s start %s %d %d: %v\n%s", security, k.script, k.dir, port, cport, err, out)
		return
	}
	k.addr = string(m[1])
}

// StopKafka stops every Kafka broker this test binary started and removes
// their directories. TestMain should call it after m.Run; without that
// call the script's watchdog does the same within a second or so of the
// test binary exiting.
func StopKafka() {
	kafkas.mu.Lock()
	defer kafkas.mu.Unlock()
	for _, k := range kafkas.m {
		if k.dir == "" {
			continue
		}
		if k.addr != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			exec.CommandContext(ctx, "bash", k.script, "stop", k.dir).Run()
			cancel()
		}
		os.RemoveAll(k.dir)
		k.dir = ""
	}
}

// OwnKafka is an Apache Kafka broker of one test, which it may restart.
type OwnKafka struct {
	k *kafkaInstance
}

// KafkaOwn starts an Apache Kafka broker for t alone (see Kafka for
// security and props), stopped and removed when t ends.
func KafkaOwn(t testing.TB, security string, props ...string) *OwnKafka {
	t.Helper()
	script := filepath.Join(RepoRoot(t), "scripts", "kafka.sh")
	if out, err := exec.Command("bash", script, "installed").CombinedOutput(); err != nil {
		RequireOrSkip(t, "Apache Kafka is missing", fmt.Errorf("%v: %s", err, bytes.TrimSpace(out)))
	}
	k := &kafkaInstance{script: script}
	k.launch(security, props)
	t.Cleanup(func() {
		if k.dir == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		exec.CommandContext(ctx, "bash", k.script, "stop", k.dir).Run()
		os.RemoveAll(k.dir)
	})
	if k.err != nil {
		t.Fatalf("starting Apache Kafka (%s): %v", security, k.err)
	}
	return &OwnKafka{k: k}
}

// Addr is the broker's host:port.
func (o *OwnKafka) Addr() string { return o.k.addr }

// Restart stops the broker (SIGTERM, as an operator would) and starts it
// again on the same data and ports.
func (o *OwnKafka) Restart(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaStartTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "bash", o.k.script, "stop", o.k.dir).CombinedOutput(); err != nil {
		t.Fatalf("stopping Kafka: %v\n%s", err, out)
	}
	_, port, _ := net.SplitHostPort(o.k.addr)
	cmd := exec.CommandContext(ctx, "bash", o.k.script, "start", o.k.dir, port, strconv.Itoa(o.k.cport))
	cmd.Env = o.k.env()
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil || kafkaReadyRE.FindSubmatch(out) == nil {
		t.Fatalf("restarting Kafka: %v\n%s", err, out)
	}
}
