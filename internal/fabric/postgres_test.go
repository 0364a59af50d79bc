package fabric

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

	"github.com/octofabric/octopus/internal/store"
)

// PostgreSQL for TestStoryPostgres: the server named by
// OCTOPUS_TEST_POSTGRES_URL (a superuser URL), else one started by
// scripts/postgres.sh for this test binary (as internal/store's tests do).
// Without PostgreSQL the test fails under CI and is skipped otherwise.

const postgresScript = "../../scripts/postgres.sh"

var sharedPostgres struct {
	once  sync.Once
	dir   string // set when this process started the server
	url   string
	admin *sql.DB
	err   error
}

// TestStoryPostgres runs the story on the embedded broker with the
// metadata in PostgreSQL.
func TestStoryPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no PostgreSQL")
	}
	st := openPostgresStore(t)
	runStory(t, startEmbedded(t), st)
}

// openPostgresStore opens a store on a new database of the shared server,
// dropped when t ends.
func openPostgresStore(t *testing.T) *store.Store {
	t.Helper()
	sharedPostgres.once.Do(func() {
		if u := os.Getenv("OCTOPUS_TEST_POSTGRES_URL"); u != "" {
			sharedPostgres.url = u
		} else {
			sharedPostgres.dir, sharedPostgres.url, sharedPostgres.err = launchPostgres()
		}
		if sharedPostgres.err == nil {
			sharedPostgres.admin, sharedPostgres.err = sql.Open("pgx", sharedPostgres.url)
		}
	})
	if err := sharedPostgres.err; err != nil {
		if os.Getenv("CI") == "" && os.Getenv("OCTOPUS_TEST_POSTGRES_URL") == "" {
			t.Skipf("PostgreSQL story skipped (set OCTOPUS_TEST_POSTGRES_URL or install PostgreSQL): %v", err)
		}
		t.Fatalf("PostgreSQL: %v", err)
	}
	name := fmt.Sprintf("octopus_fabric_%016x", rand.Uint64())
	if _, err := sharedPostgres.admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	u, err := neturl.Parse(sharedPostgres.url)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("store.Open(postgres): %v", err)
	}
	t.Cleanup(func() {
		st.Close()
		if _, err := sharedPostgres.admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return st
}

func launchPostgres() (dir, url string, err error) {
	script, err := filepath.Abs(postgresScript)
	if err != nil {
		return "", "", err
	}
	if out, err := exec.Command("bash", script, "installed").CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("PostgreSQL is not installed (%v): %s", err, strings.TrimSpace(string(out)))
	}
	if dir, err = os.MkdirTemp("", "octopus-fabric-postgres-"); err != nil {
		return "", "", err
	}
	port, err := freePort()
	if err != nil {
		return dir, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, "start", dir, strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "OCTOPUS_POSTGRES_OWNER_PID="+strconv.Itoa(os.Getpid()), "POSTGRES_START_TIMEOUT=110")
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

func stopPostgres() {
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
}
