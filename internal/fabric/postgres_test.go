package fabric

import (
	"context"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/store"
	"github.com/octofabric/octopus/internal/testenv"
)

// PostgreSQL for TestStoryPostgres: the server named by
// OCTOPUS_TEST_POSTGRES_URL (a superuser URL), else one started by
// scripts/postgres.sh for this test binary (as internal/store's tests do).
// Without PostgreSQL the test fails under CI and is skipped otherwise.

// TestStoryPostgres runs the story with the metadata in PostgreSQL on both
// event planes; with TestStory (SQLite) that is every pairing.
func TestStoryPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no PostgreSQL")
	}
	for _, p := range planes {
		t.Run(p.name, func(t *testing.T) {
			runStory(t, p.start(t), openPostgresStore(t))
		})
	}
}

// openPostgresStore opens a store on a new database of the shared server
// (testenv.Postgres), dropped when t ends.
func openPostgresStore(t *testing.T) *store.Store {
	t.Helper()
	url := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatalf("store.Open(postgres): %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
