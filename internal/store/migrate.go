package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles holds the schema, one file per version per database:
// migrations/DRIVER/NNNN_name.sql, versions from 1 without gaps. A released
// file never changes; a schema change is a new version in both directories.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migrationFS is where migrate reads the migrations: migrationFiles, except
// in tests of failing migrations.
var migrationFS fs.FS = migrationFiles

// migration is one schema version's SQL for one database.
type migration struct {
	version int
	name    string // the file name, e.g. "0001_init.sql"
	sql     string
}

// parseMigrationName returns the version of a migration file name
// ("0001_init.sql" → 1): four or more digits, '_', a name, ".sql".
func parseMigrationName(name string) (int, error) {
	digits, rest, ok := strings.Cut(name, "_")
	if !ok || len(digits) < 4 || !strings.HasSuffix(rest, ".sql") || len(rest) == len(".sql") {
		return 0, fmt.Errorf("migration file %q: want NNNN_name.sql", name)
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("migration file %q: version %q is not a number", name, digits)
		}
	}
	v, err := strconv.Atoi(digits)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("migration file %q: version %q out of range", name, digits)
	}
	return v, nil
}

// loadMigrations returns the migrations of one database in version order,
// checking that the versions run 1, 2, … without gaps or repeats.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		v, err := parseMigrationName(e.Name())
		if err != nil {
			return nil, err
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations %s: %s: want version %d", dir, m.name, i+1)
		}
	}
	return ms, nil
}

// migrations returns the embedded migrations of dialect d.
func (d *dialect) migrations() ([]migration, error) {
	return loadMigrations(migrationFS, "migrations/"+d.name)
}

// SchemaVersion is the schema version this binary creates and reads.
func SchemaVersion() int {
	ms, err := loadMigrations(migrationFiles, "migrations/"+kindSQLite)
	if err != nil {
		panic(err) // the embedded files are checked by the tests
	}
	return len(ms)
}

// migrate brings the schema to this binary's version in one transaction,
// recording each version applied in schema_migrations. On PostgreSQL an
// advisory lock held until the transaction ends makes concurrent instances
// take turns, so each version is applied once; the others find it done.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := s.d.migrations()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	tx, err := s.rw.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: begin: %w", err)
	}
	defer tx.Rollback()
	if s.d.lockMigrations != "" {
		if _, err := tx.ExecContext(ctx, s.d.lockMigrations); err != nil {
			return fmt.Errorf("store: migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.migrationsTable); err != nil {
		return fmt.Errorf("store: migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("store: migrate: read version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("store: %s: %w: the database is at version %d, this Octopus knows versions up to %d; run a newer Octopus",
			s, ErrSchemaTooNew, current, len(ms))
	}
	now := s.d.timeArg(utc(s.now()))
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("store: migrate to version %d (%s/%s): %w", m.version, s.d.name, m.name, err)
		}
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			m.version, m.name, now); err != nil {
			return fmt.Errorf("store: migrate: record version %d: %w", m.version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate: commit: %w", err)
	}
	return nil
}

// Version returns the database's schema version.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.ro.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}
