// Package controlplane starts a whole control plane in the test's process
// as `octopus serve` runs it, for the tests of the packages built on the
// API (internal/apibench, pkg/client). It is imported only by _test.go
// files; the tests of the packages it builds on (store, fabric, api)
// cannot import it and use testenv directly.
package controlplane

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/api"
	"github.com/octofabric/octopus/internal/fabric"
	"github.com/octofabric/octopus/internal/identity"
	"github.com/octofabric/octopus/internal/secretbox"
	"github.com/octofabric/octopus/internal/store"
	"github.com/octofabric/octopus/internal/testenv"
	"github.com/octofabric/octopus/internal/trigger"
)

// Stack is one control plane served over HTTP.
type Stack struct {
	Broker     *testenv.Broker
	Store      *store.Store
	Local      *identity.Local
	Fabric     *fabric.Fabric
	API        *api.API
	Server     *httptest.Server
	URL        string // Server.URL
	AdminToken string // the built-in issuer's admin token
}

// ControlPlane starts a testenv.SecureBroker, a SQLite store in a
// temporary directory, the built-in token issuer (identity.Local, with
// EnsureAdmin), a Fabric on the broker as admin and the API behind an
// httptest.Server, all stopped when t ends. Logs are discarded. The
// Fabric has a secret key, so trigger routes work; GET
// /triggers/{id}/logs answers 503 (see ControlPlaneWithLogs).
func ControlPlane(t testing.TB) *Stack {
	t.Helper()
	return ControlPlaneWithLogs(t, nil)
}

// ControlPlaneWithLogs is ControlPlane with an invocation log behind GET
// /api/v1/triggers/{id}/logs, as `octopus serve` has with its engine.
func ControlPlaneWithLogs(t testing.TB, logs trigger.LogReader) *Stack {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	s := &Stack{Broker: testenv.SecureBroker(t, testenv.BrokerOptions{FailedAuthDelay: 5 * time.Millisecond})}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "octopus.db"))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	s.Store = st
	s.Local = identity.NewLocal(st, identity.WithLogger(quiet))
	if err := s.Local.EnsureAdmin(ctx, dir); err != nil {
		t.Fatalf("EnsureAdmin: %v", err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, identity.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	s.AdminToken = strings.TrimSpace(string(tok))
	key := make([]byte, secretbox.KeySize)
	rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	s.Fabric, err = fabric.New(fabric.Config{
		Store:   st,
		Secrets: box,
		Kafka:   fabric.KafkaConfig{Bootstrap: []string{s.Broker.Addr}, User: s.Broker.AdminUser, Password: s.Broker.AdminPassword},
		Wait:    20 * time.Second,
		Logger:  quiet,
	})
	if err != nil {
		t.Fatalf("fabric.New: %v", err)
	}
	t.Cleanup(s.Fabric.Close)
	s.API, err = api.New(api.Config{Fabric: s.Fabric, Verifier: identity.Chain(s.Local), Local: s.Local, Store: st,
		Logger: quiet, TriggerLogs: logs})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	s.Server = httptest.NewServer(s.API.Handler())
	t.Cleanup(s.Server.Close)
	s.URL = s.Server.URL
	return s
}
