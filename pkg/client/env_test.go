package client_test

import (
	"context"
	"io"
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

// The tests run the SDK against the real API: the embedded broker
// (SASL_PLAINTEXT on loopback, ACLs enforced), a SQLite store, the
// built-in token issuer, a Fabric and the API over httptest, all in this
// process, as internal/api's own tests do. Nothing is mocked.

const adminPassword = "admin-secret"

// server is one control plane over HTTP.
type server struct {
	url        string
	adminToken string
}

func startBroker(t *testing.T) string {
	t.Helper()
	b, err := broker.New(broker.Config{
		DataDir: t.TempDir(),
		Groups:  group.Config{InitialRebalanceDelay: -1},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Security: broker.SecurityConfig{
			Authorize:       true,
			SuperUsers:      []string{"User:admin"},
			FailedAuthDelay: 5 * time.Millisecond,
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
		b.Close()
		select {
		case <-served:
		case <-time.After(30 * time.Second):
			t.Errorf("broker still serving 30s after Close")
		}
	})
	return ln.Addr().String()
}

// startServer starts a broker, a store, the issuer, a Fabric and the API.
func startServer(t *testing.T) server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	addr := startBroker(t)
	dir := t.TempDir()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "octopus.db"))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	local := identity.NewLocal(st, identity.WithLogger(quiet))
	if err := local.EnsureAdmin(ctx, dir); err != nil {
		t.Fatalf("EnsureAdmin: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, identity.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	f, err := fabric.New(fabric.Config{
		Store:  st,
		Kafka:  fabric.KafkaConfig{Bootstrap: []string{addr}, User: "admin", Password: adminPassword},
		Wait:   20 * time.Second,
		Logger: quiet,
	})
	if err != nil {
		t.Fatalf("fabric.New: %v", err)
	}
	t.Cleanup(f.Close)
	a, err := api.New(api.Config{Fabric: f, Verifier: identity.Chain(local), Local: local, Store: st, Logger: quiet})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return server{url: srv.URL, adminToken: strings.TrimSpace(string(raw))}
}
