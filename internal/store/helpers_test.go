package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The store tests run every case against SQLite (a file in a temp dir) and
// PostgreSQL: the server named by OCTOPUS_TEST_POSTGRES_URL (a superuser
// URL; each test gets a database of its own, created and dropped), else one
// started for this test binary by scripts/postgres.sh. Without PostgreSQL
// the PostgreSQL cases fail under CI (CI set) and are skipped otherwise.

func TestMain(m *testing.M) {
	code := m.Run()
	stopSharedPostgres()
	os.Exit(code)
}

// backend is a database the suite runs against.
type backend struct {
	name string
	// require skips or fails t unless the backend can be used.
	require func(t testing.TB)
	// newURL returns the URL of a new, empty database, removed when t ends.
	newURL func(t testing.TB) string
}

var backends = []*backend{
	{
		name:    kindSQLite,
		require: func(testing.TB) {},
		newURL: func(t testing.TB) string {
			return "sqlite://" + filepath.Join(t.TempDir(), "octopus.db")
		},
	},
	{
		name:    kindPostgres,
		require: requirePostgres,
		newURL:  newPostgresDB,
	},
}

// testDB is an open store on a new database of one backend.
type testDB struct {
	*Store
	url     string
	backend *backend
}

// openTest opens a store on a new database of b, closed when t ends.
func openTest(t testing.TB, b *backend) testDB {
	t.Helper()
	url := b.newURL(t)
	s := mustOpen(t, url)
	return testDB{Store: s, url: url, backend: b}
}

// mustOpen opens the store at url, closed when t ends.
func mustOpen(t testing.TB, url string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("Open(%s): %v", redact(url), err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEachBackend runs fn as a subtest per backend, skipping (or under CI
// failing) a backend that cannot be used.
func forEachBackend(t *testing.T, fn func(t *testing.T, b *backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			b.require(t)
			fn(t, b)
		})
	}
}

// ctxT returns a context that ends with the test (or a minute from now).
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// wantErr fails t unless errors.Is(err, target).
func wantErr(t testing.TB, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

// must fails t if err is not nil.
func must(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// postgresStartTimeout bounds `scripts/postgres.sh start`: initdb and start
// take about a second on an idle machine, many times that while other test
// packages load both cores.
const postgresStartTimeout = 120 * time.Second

// postgresScript is scripts/postgres.sh relative to this package's
// directory (the working directory of `go test`).
const postgresScript = "../../scripts/postgres.sh"

// sharedPostgres is the PostgreSQL server of a test run: the one named by
// OCTOPUS_TEST_POSTGRES_URL, or one started by the first requirePostgres and
// stopped by stopSharedPostgres (from TestMain) or, when the test binary
// exits without it, by the script's watchdog.
var sharedPostgres struct {
	once  sync.Once
	dir   string // set when this process started the server
	url   string
	admin *sql.DB // connected to url, for CREATE and DROP DATABASE
	err   error
}

// requirePostgres makes sure the shared PostgreSQL server runs, or skips t.
// It fails t instead under CI, and when OCTOPUS_TEST_POSTGRES_URL names a
// server that does not answer.
func requirePostgres(t testing.TB) {
	t.Helper()
	sharedPostgres.once.Do(func() {
		if u := os.Getenv("OCTOPUS_TEST_POSTGRES_URL"); u != "" {
			sharedPostgres.url = u
		} else {
			sharedPostgres.dir, sharedPostgres.url, sharedPostgres.err = launchPostgres()
		}
		if sharedPostgres.err == nil {
			sharedPostgres.admin, sharedPostgres.err = connectAdmin(sharedPostgres.url)
		}
	})
	if err := sharedPostgres.err; err != nil {
		if os.Getenv("CI") == "" && os.Getenv("OCTOPUS_TEST_POSTGRES_URL") == "" {
			t.Skipf("PostgreSQL tests skipped (set OCTOPUS_TEST_POSTGRES_URL or install PostgreSQL): %v", err)
		}
		t.Fatalf("PostgreSQL for the store tests: %v", err)
	}
}

// connectAdmin connects to the server at url and checks it answers.
func connectAdmin(url string) (*sql.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", redact(url), err)
	}
	return db, nil
}

// newPostgresDB creates a database with a random name on the shared server
// and returns its URL; the database is dropped when t ends.
func newPostgresDB(t testing.TB) string {
	t.Helper()
	requirePostgres(t)
	name := fmt.Sprintf("octopus_test_%016x", rand.Uint64())
	ctx := context.Background()
	if _, err := sharedPostgres.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := sharedPostgres.admin.ExecContext(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := neturl.Parse(sharedPostgres.url)
	if err != nil {
		t.Fatalf("OCTOPUS_TEST_POSTGRES_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// launchPostgres runs `postgres.sh start` in a new temp dir on a free
// loopback port and returns the dir and the server's URL.
func launchPostgres() (dir, url string, err error) {
	script, err := filepath.Abs(postgresScript)
	if err != nil {
		return "", "", err
	}
	if out, err := exec.Command("bash", script, "installed").CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("PostgreSQL is not installed (%v): %s", err, strings.TrimSpace(string(out)))
	}
	dir, err = os.MkdirTemp("", "octopus-postgres-")
	if err != nil {
		return "", "", err
	}
	port, err := freePort()
	if err != nil {
		return dir, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), postgresStartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, "start", dir, strconv.Itoa(port))
	cmd.Env = append(os.Environ(),
		"OCTOPUS_POSTGRES_OWNER_PID="+strconv.Itoa(os.Getpid()),
		"POSTGRES_START_TIMEOUT="+strconv.Itoa(int(postgresStartTimeout/time.Second)-10),
	)
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	url = strings.TrimSpace(string(out))
	if err != nil || !strings.HasPrefix(url, "postgres://") {
		return dir, "", fmt.Errorf("%s start %s %d: %v\n%s%s", postgresScript, dir, port, err, out, stderr.String())
	}
	return dir, url, nil
}

// stopSharedPostgres stops the server this process started, if any, and
// removes its directory.
func stopSharedPostgres() {
	if sharedPostgres.admin != nil {
		sharedPostgres.admin.Close()
	}
	if sharedPostgres.dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	exec.CommandContext(ctx, "bash", postgresScript, "stop", sharedPostgres.dir).Run()
	os.RemoveAll(sharedPostgres.dir)
	sharedPostgres.dir = ""
}

// freePort returns a loopback TCP port that was free a moment ago, below
// Linux's ephemeral range (32768 and up), from which client sockets draw.
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
