package fabric

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
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

	"github.com/octofabric/octopus/internal/auth/sasl"
	"github.com/octofabric/octopus/internal/broker"
	"github.com/octofabric/octopus/internal/broker/group"
	"github.com/octofabric/octopus/internal/store"
)

// The integration tests run one story against two event planes: the
// embedded broker in this process (SASL_PLAINTEXT, ACLs enforced, User:admin
// a super user) and Apache Kafka 4.4 from scripts/kafka.sh with
// KAFKA_SECURITY=sasl (SCRAM, StandardAuthorizer). Without Kafka installed
// the Kafka half fails under CI (CI set) and is skipped otherwise.

func TestMain(m *testing.M) {
	code := m.Run()
	stopKafka()
	stopPostgres()
	os.Exit(code)
}

// adminPassword is the super user's password on both planes.
const adminPassword = "admin-secret"

// kafkaScript is scripts/kafka.sh relative to this package's directory.
const kafkaScript = "../../scripts/kafka.sh"

// kafkaStartTimeout bounds `kafka.sh start` on a loaded 2-core machine.
const kafkaStartTimeout = 150 * time.Second

var kafkaReadyRE = regexp.MustCompile(`(?m)^ready (127\.0\.0\.1:[0-9]+)$`)

// sharedKafka is the one secured Apache Kafka of a test binary; the
// script's watchdog stops it when the binary exits, stopKafka sooner.
var sharedKafka struct {
	once      sync.Once
	dir, addr string
	err       error
}

// startKafka returns the address of this binary's SASL_PLAINTEXT Kafka,
// starting it on first use.
func startKafka(t testing.TB) string {
	t.Helper()
	if out, err := exec.Command("bash", kafkaScript, "installed").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("Apache Kafka is missing (%v): %s", err, bytes.TrimSpace(out))
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	sharedKafka.once.Do(func() {
		sharedKafka.dir, sharedKafka.addr, sharedKafka.err = launchKafka()
	})
	if sharedKafka.err != nil {
		t.Fatalf("starting Apache Kafka with SASL: %v", sharedKafka.err)
	}
	return sharedKafka.addr
}

func launchKafka() (dir, addr string, err error) {
	dir, err = os.MkdirTemp("", "octopus-fabric-kafka-")
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
		"KAFKA_SECURITY=sasl",
		"KAFKA_ADMIN_PASSWORD="+adminPassword,
		"KAFKA_SERVER_PROPS=connections.max.reauth.ms="+strconv.Itoa(int(testMaxReauth/time.Millisecond)),
		"OCTOPUS_KAFKA_OWNER_PID="+strconv.Itoa(os.Getpid()),
		"KAFKA_START_TIMEOUT="+strconv.Itoa(int(kafkaStartTimeout/time.Second)-10),
	)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	m := kafkaReadyRE.FindSubmatch(out)
	if err != nil || m == nil {
		return dir, "", fmt.Errorf("KAFKA_SECURITY=sasl %s start %s %d %d: %v\n%s", kafkaScript, dir, port, cport, err, out)
	}
	return dir, string(m[1]), nil
}

func stopKafka() {
	if sharedKafka.dir == "" {
		return
	}
	if sharedKafka.addr != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		exec.CommandContext(ctx, "bash", kafkaScript, "stop", sharedKafka.dir).Run()
	}
	os.RemoveAll(sharedKafka.dir)
}

// freePort returns a loopback port below the ephemeral range that was
// free a moment ago.
func freePort() (int, error) {
	for range 100 {
		p := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		ln.Close()
		return p, nil
	}
	return 0, errors.New("no free loopback port")
}

// logSink collects a broker's log for failure reports.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(strings.TrimRight(s.buf.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startEmbedded runs the embedded broker in this process as `octopus
// serve` does with a SASL listener: ACLs enforced, User:admin a super user
// with a SCRAM-SHA-512 credential, no auto-created topics.
func startEmbedded(t testing.TB) string {
	t.Helper()
	return startEmbeddedReauth(t, testMaxReauth)
}

// testMaxReauth is connections.max.reauth.ms on both planes: a SASL
// session must re-authenticate this often, which ends the sessions of
// revoked keys (TestRevokeEndsSessions).
const testMaxReauth = 3 * time.Second

// startEmbeddedReauth is startEmbedded with SASL sessions lasting at most
// maxReauth (0: unbounded).
func startEmbeddedReauth(t testing.TB, maxReauth time.Duration) string {
	t.Helper()
	logs := new(logSink)
	b, err := broker.New(broker.Config{
		DataDir: t.TempDir(),
		Groups:  group.Config{InitialRebalanceDelay: -1},
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Security: broker.SecurityConfig{
			Authorize:       true,
			SuperUsers:      []string{"User:admin"},
			FailedAuthDelay: 5 * time.Millisecond,
			MaxReauth:       maxReauth,
		},
	})
	if err != nil {
		t.Fatalf("broker.New: %v", err)
	}
	cred, err := sasl.NewScramCredential(sasl.ScramSHA512, adminPassword, 4096)
	if err == nil {
		err = b.Credentials().Upsert("admin", sasl.ScramSHA512, cred)
	}
	if err != nil {
		b.Close()
		t.Fatalf("admin credential: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.ServeListener(ln, broker.Listener{Protocol: broker.SaslPlaintext}) }()
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("broker.Close: %v", err)
		}
		select {
		case <-served:
		case <-time.After(30 * time.Second):
			t.Errorf("broker.ServeListener still running 30s after Close")
		}
		if t.Failed() {
			t.Logf("embedded broker: last log lines:\n%s", logs.tail(40))
		}
	})
	return ln.Addr().String()
}

// openStore opens a new SQLite metadata store, closed when t ends.
func openStore(t testing.TB) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "octopus.db"))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newFabric returns a Fabric on the event plane at addr as admin.
func newFabric(t testing.TB, addr string, st *store.Store, logs io.Writer) *Fabric {
	t.Helper()
	f, err := New(Config{
		Store:  st,
		Kafka:  KafkaConfig{Bootstrap: []string{addr}, User: "admin", Password: adminPassword},
		Wait:   20 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("fabric.New: %v", err)
	}
	t.Cleanup(f.Close)
	return f
}
