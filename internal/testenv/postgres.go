package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// postgresStartTimeout bounds `scripts/postgres.sh start`: initdb and start
// take about a second on an idle machine, many times that while other test
// packages load both cores.
const postgresStartTimeout = 120 * time.Second

// sharedPostgres is the PostgreSQL server of a test binary: the one named
// by OCTOPUS_TEST_POSTGRES_URL (a superuser URL), or one started by the
// first RequirePostgres and stopped by StopPostgres or, when the test
// binary exits without it, by the script's watchdog.
var sharedPostgres struct {
	once   sync.Once
	script string
	dir    string // set when this process started the server
	url    string
	admin  *sql.DB // connected to url, for CREATE and DROP DATABASE
	err    error
}

// RequirePostgres makes sure the shared PostgreSQL server runs, or skips
// t. It fails t instead under CI, and when OCTOPUS_TEST_POSTGRES_URL names
// a server that does not answer.
func RequirePostgres(t testing.TB) {
	t.Helper()
	script := filepath.Join(RepoRoot(t), "scripts", "postgres.sh")
	sharedPostgres.once.Do(func() {
		sharedPostgres.script = script
		if u := os.Getenv("OCTOPUS_TEST_POSTGRES_URL"); u != "" {
			sharedPostgres.url = u
		} else {
			sharedPostgres.dir, sharedPostgres.url, sharedPostgres.err = launchPostgres(script)
		}
		if sharedPostgres.err == nil {
			sharedPostgres.admin, sharedPostgres.err = connectAdmin(sharedPostgres.url)
		}
	})
	if err := sharedPostgres.err; err != nil {
		if os.Getenv("OCTOPUS_TEST_POSTGRES_URL") != "" {
			t.Fatalf("PostgreSQL at OCTOPUS_TEST_POSTGRES_URL: %v", err)
		}
		RequireOrSkip(t, "PostgreSQL tests skipped (set OCTOPUS_TEST_POSTGRES_URL or install PostgreSQL)", err)
	}
}

// Postgres returns the URL of a new, empty database with a random name on
// the shared server (RequirePostgres), dropped when t ends.
func Postgres(t testing.TB) string {
	t.Helper()
	RequirePostgres(t)
	name := fmt.Sprintf("octopus_test_%016x", rand.Uint64())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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
		t.Fatalf("PostgreSQL URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
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

// redact is url without its password.
func redact(url string) string {
	u, err := neturl.Parse(url)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// launchPostgres runs `postgres.sh start` in a new temp dir on a free
// loopback port and returns the dir and the server's URL.
func launchPostgres(script string) (dir, url string, err error) {
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
		return dir, "", fmt.Errorf("%s start %s %d: %v\n%s%s", script, dir, port, err, out, stderr.String())
	}
	return dir, url, nil
}

// StopPostgres stops the server this process started, if any, and removes
// its directory. TestMain should call it after m.Run.
func StopPostgres() {
	if sharedPostgres.admin != nil {
		sharedPostgres.admin.Close()
		sharedPostgres.admin = nil
	}
	if sharedPostgres.dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	exec.CommandContext(ctx, "bash", sharedPostgres.script, "stop", sharedPostgres.dir).Run()
	os.RemoveAll(sharedPostgres.dir)
	sharedPostgres.dir = ""
}
