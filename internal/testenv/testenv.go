// Package testenv starts what the tests of this module run against: the
// embedded broker with a SASL listener (SecureBroker), Apache Kafka
// (Kafka) and PostgreSQL (Postgres) from the scripts in scripts/. It is
// imported only by _test.go files.
//
// Every function taking a testing.TB calls t.Helper and registers what it
// starts with t.Cleanup. Kafka and PostgreSQL are shared by all tests of a
// test binary; TestMain should call StopKafka and StopPostgres after
// m.Run, or the scripts' watchdogs stop them shortly after the binary
// exits.
//
// The package imports no package of this module but the broker and its
// SASL credentials, so that the tests of store, fabric and api can use it
// without an import cycle; the whole control plane (store, identity,
// fabric, api) is in the subpackage controlplane.
package testenv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// AdminPassword is the super user admin's password on every broker this
// package starts, embedded or Apache Kafka.
const AdminPassword = "admin-secret"

var repoRoot struct {
	once sync.Once
	dir  string
	err  error
}

// RepoRoot returns the module's root directory: the nearest directory
// holding go.mod, from the working directory of `go test` (the package's
// directory) upwards.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := findRepoRoot()
	if err != nil {
		t.Fatalf("module root: %v", err)
	}
	return dir
}

func findRepoRoot() (string, error) {
	repoRoot.once.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			repoRoot.err = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				repoRoot.dir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				repoRoot.err = errors.New("no go.mod above the working directory")
				return
			}
			dir = parent
		}
	})
	return repoRoot.dir, repoRoot.err
}

// RequireOrSkip implements the rule for a missing dependency (Kafka,
// PostgreSQL, a tool): when err is not nil the test fails under CI (CI
// set in the environment) and is skipped otherwise, with what and err as
// the reason.
func RequireOrSkip(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%s: %v", what, err)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// freePort returns a loopback TCP port that was free a moment ago.
//
// The port is taken below Linux's ephemeral range (32768 and up): a server
// binds it seconds later, and an ephemeral port could meanwhile become the
// local end of some test's client connection, making that bind fail.
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
	return 0, errors.New("no free loopback port below the ephemeral range")
}

// FreePort is freePort for tests that need an address nothing listens on.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
