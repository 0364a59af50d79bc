package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/testenv"
)

// The store tests run every case against SQLite (a file in a temp dir) and
// PostgreSQL (testenv.Postgres): the server named by
// OCTOPUS_TEST_POSTGRES_URL (a superuser URL; each test gets a database of
// its own, created and dropped), else one started for this test binary by
// scripts/postgres.sh. Without PostgreSQL the PostgreSQL cases fail under
// CI (CI set) and are skipped otherwise.

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
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
		require: testenv.RequirePostgres,
		newURL:  testenv.Postgres,
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
