package apibench

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/api"
	"github.com/octofabric/octopus/internal/auth/sasl"
	"github.com/octofabric/octopus/internal/broker"
	"github.com/octofabric/octopus/internal/broker/group"
	"github.com/octofabric/octopus/internal/fabric"
	"github.com/octofabric/octopus/internal/identity"
	"github.com/octofabric/octopus/internal/store"
)

// The stack is built as internal/api's test harness builds it, and as
// `octopus serve` runs it: the embedded broker with a SASL_PLAINTEXT
// listener on loopback and ACLs enforced (User:admin a super user), a
// SQLite store in a temporary directory, the built-in token issuer, a
// Fabric and the API behind an httptest.Server. Logs are discarded, so
// that their formatting is not measured.

const adminPassword = "admin-secret"

// stack is one control plane served over HTTP.
type stack struct {
	url        string
	adminToken string
}

func newStack(tb testing.TB) *stack {
	tb.Helper()
	quiet := slog.New(slog.DiscardHandler)
	b, err := broker.New(broker.Config{
		DataDir: tb.TempDir(),
		Groups:  group.Config{InitialRebalanceDelay: -1},
		Logger:  quiet,
		Security: broker.SecurityConfig{
			Authorize:       true,
			SuperUsers:      []string{"User:admin"},
			FailedAuthDelay: 5 * time.Millisecond,
		},
	})
	if err != nil {
		tb.Fatalf("broker.New: %v", err)
	}
	cred, err := sasl.NewScramCredential(sasl.ScramSHA512, adminPassword, 4096)
	if err == nil {
		err = b.Credentials().Upsert("admin", sasl.ScramSHA512, cred)
	}
	if err != nil {
		b.Close()
		tb.Fatalf("admin credential: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Close()
		tb.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.ServeListener(ln, broker.Listener{Protocol: broker.SaslPlaintext}) }()
	tb.Cleanup(func() {
		if err := b.Close(); err != nil {
			tb.Errorf("broker.Close: %v", err)
		}
		select {
		case <-served:
		case <-time.After(30 * time.Second):
			tb.Errorf("broker.ServeListener still running 30s after Close")
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := tb.TempDir()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "octopus.db"))
	if err != nil {
		tb.Fatalf("store.Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	local := identity.NewLocal(st, identity.WithLogger(quiet))
	if err := local.EnsureAdmin(ctx, dir); err != nil {
		tb.Fatalf("EnsureAdmin: %v", err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, identity.AdminTokenFile))
	if err != nil {
		tb.Fatal(err)
	}
	f, err := fabric.New(fabric.Config{
		Store:  st,
		Kafka:  fabric.KafkaConfig{Bootstrap: []string{ln.Addr().String()}, User: "admin", Password: adminPassword},
		Wait:   20 * time.Second,
		Logger: quiet,
	})
	if err != nil {
		tb.Fatalf("fabric.New: %v", err)
	}
	tb.Cleanup(f.Close)
	a, err := api.New(api.Config{Fabric: f, Verifier: identity.Chain(local), Local: local, Store: st, Logger: quiet})
	if err != nil {
		tb.Fatalf("api.New: %v", err)
	}
	srv := httptest.NewServer(a.Handler())
	tb.Cleanup(srv.Close)
	return &stack{url: srv.URL, adminToken: strings.TrimSpace(string(tok))}
}
