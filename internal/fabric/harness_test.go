package fabric

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/store"
	"github.com/octofabric/octopus/internal/testenv"
)

// The integration tests run one story against two event planes: the
// embedded broker in this process (SASL_PLAINTEXT, ACLs enforced, User:admin
// a super user) and Apache Kafka 4.4 from scripts/kafka.sh with
// KAFKA_SECURITY=sasl (SCRAM, StandardAuthorizer). Without Kafka installed
// the Kafka half fails under CI (CI set) and is skipped otherwise.

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopKafka()
	testenv.StopPostgres()
	os.Exit(code)
}

// adminPassword is the super user's password on both planes.
const adminPassword = testenv.AdminPassword

// startKafka returns the address of this binary's SASL_PLAINTEXT Apache
// Kafka, shared by the package's tests, with SASL sessions lasting at most
// testMaxReauth.
func startKafka(t testing.TB) string {
	t.Helper()
	return testenv.Kafka(t, "sasl", "connections.max.reauth.ms="+strconv.Itoa(int(testMaxReauth/time.Millisecond)))
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
// serve` does with a SASL listener (testenv.SecureBroker): ACLs enforced,
// User:admin a super user with a SCRAM-SHA-512 credential, no
// auto-created topics.
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
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("embedded broker: last log lines:\n%s", logs.tail(40))
		}
	})
	return testenv.SecureBroker(t, testenv.BrokerOptions{
		Log:             logs,
		LogLevel:        slog.LevelInfo,
		FailedAuthDelay: 5 * time.Millisecond,
		MaxReauth:       maxReauth,
	}).Addr
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
