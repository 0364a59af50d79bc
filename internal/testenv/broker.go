package testenv

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/auth/sasl"
	"github.com/octofabric/octopus/internal/broker"
	"github.com/octofabric/octopus/internal/broker/group"
	plog "github.com/octofabric/octopus/internal/log"
)

// BrokerOptions changes SecureBroker's defaults.
type BrokerOptions struct {
	// Log receives the broker's log at LogLevel; nil discards it.
	Log      io.Writer
	LogLevel slog.Level
	// Mechanisms are the SASL mechanisms served; nil: the broker's default.
	Mechanisms []string
	// AdminMechanisms are the SCRAM mechanisms admin has a credential for;
	// nil: SCRAM-SHA-512 only.
	AdminMechanisms []sasl.ScramMechanism
	// FailedAuthDelay is the pause before a failed authentication is
	// answered; 0: the broker's default (100 ms).
	FailedAuthDelay time.Duration
	// MaxReauth bounds a SASL session (connections.max.reauth.ms); 0:
	// unbounded.
	MaxReauth time.Duration
	// AutoCreateTopics and DefaultPartitions are the broker's settings.
	AutoCreateTopics  bool
	DefaultPartitions int32
	// DataDir and Addr, when set, replace a new temporary directory and a
	// free port: a broker closed (Broker.Close) and started again with the
	// same ones is a restart, with its data and address.
	DataDir string
	Addr    string
	// Fsync is the broker's fsync policy; the zero value is its default,
	// always.
	Fsync plog.FsyncPolicy
}

// Broker is an embedded broker serving one SASL_PLAINTEXT listener.
type Broker struct {
	*broker.Broker
	Addr          string // host:port of the listener, on 127.0.0.1
	AdminUser     string // "admin", a super user
	AdminPassword string
}

// stopTimeout bounds how long ServeListener may run after Close.
const stopTimeout = 30 * time.Second

// SecureBroker runs the embedded broker in this process as `octopus serve`
// does with a SASL listener: one SASL_PLAINTEXT listener on 127.0.0.1,
// ACLs enforced, User:admin a super user with a SCRAM credential for
// AdminPassword, consumer groups without the initial rebalance delay. The
// broker is closed, and its listener checked to have stopped, when t ends.
func SecureBroker(t testing.TB, o BrokerOptions) *Broker {
	t.Helper()
	logs := o.Log
	if logs == nil {
		logs = io.Discard
	}
	var logger *slog.Logger
	if logs == io.Discard {
		logger = slog.New(slog.DiscardHandler)
	} else {
		logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: o.LogLevel}))
	}
	dir, addr := o.DataDir, o.Addr
	if dir == "" {
		dir = t.TempDir()
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	b, err := broker.New(broker.Config{
		DataDir:           dir,
		Fsync:             o.Fsync,
		DefaultPartitions: o.DefaultPartitions,
		AutoCreateTopics:  o.AutoCreateTopics,
		Groups:            group.Config{InitialRebalanceDelay: -1},
		Logger:            logger,
		Security: broker.SecurityConfig{
			Authorize:       true,
			SuperUsers:      []string{"User:admin"},
			Mechanisms:      o.Mechanisms,
			FailedAuthDelay: o.FailedAuthDelay,
			MaxReauth:       o.MaxReauth,
		},
	})
	if err != nil {
		t.Fatalf("broker.New: %v", err)
	}
	mechs := o.AdminMechanisms
	if mechs == nil {
		mechs = []sasl.ScramMechanism{sasl.ScramSHA512}
	}
	for _, m := range mechs {
		cred, err := sasl.NewScramCredential(m, AdminPassword, 4096)
		if err == nil {
			err = b.Credentials().Upsert("admin", m, cred)
		}
		if err != nil {
			b.Close()
			t.Fatalf("admin %v credential: %v", m, err)
		}
	}
	ln, err := net.Listen("tcp", addr)
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
		case err := <-served:
			if err != nil && !errors.Is(err, net.ErrClosed) {
				t.Errorf("broker.ServeListener returned %v after Close", err)
			}
		case <-time.After(stopTimeout):
			t.Errorf("broker.ServeListener still running %v after Close", stopTimeout)
		}
	})
	return &Broker{Broker: b, Addr: ln.Addr().String(), AdminUser: "admin", AdminPassword: AdminPassword}
}
