package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is what differs between the two databases. The queries do not:
// both take $1, $2, … placeholders, ON CONFLICT and RETURNING.
type dialect struct {
	name string // "sqlite" or "postgres"
	// timeArg turns a time into a query argument: an int64 of microseconds
	// since the epoch for SQLite, which has no time type, a time.Time for
	// PostgreSQL's TIMESTAMPTZ.
	timeArg func(time.Time) any
	// migrationsTable creates the version table if it is missing.
	migrationsTable string
	// lockMigrations, if set, is run first in the migration transaction to
	// keep other Octopus instances out until it ends.
	lockMigrations string
}

// optTime is timeArg for an optional time: NULL when nil.
func (d *dialect) optTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.timeArg(*t)
}

var sqliteDialect = &dialect{
	name:    kindSQLite,
	timeArg: func(t time.Time) any { return t.UnixMicro() },
	migrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`,
}

// migrationLockKey is the PostgreSQL advisory lock that serialises schema
// migrations between Octopus instances: "octopus\x00" as a big-endian int64.
// Advisory locks are per database, so instances on other databases of the
// same server do not wait for each other.
const migrationLockKey = 0x6f63746f70757300

var postgresDialect = &dialect{
	name:    kindPostgres,
	timeArg: func(t time.Time) any { return t.UTC() },
	migrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER     NOT NULL PRIMARY KEY,
		name       TEXT        NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL
	)`,
	lockMigrations: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockKey),
}

// SQLite settings, applied to every connection by the driver:
//
//	busy_timeout(10000)  wait up to 10 s for another process's write lock
//	                     instead of failing at once with SQLITE_BUSY
//	foreign_keys(1)      enforce REFERENCES (off by default in SQLite)
//	journal_mode(WAL)    readers do not block the writer nor it them
//	synchronous(FULL)    fsync the WAL at every commit: a key revoked or a
//	                     grant withdrawn stays so after a power cut; the
//	                     control plane writes little, so the cost is small
//	_txlock=immediate    a transaction takes the write lock at BEGIN, so two
//	                     processes cannot both read and then fail to write
//	query_only(1)        (read pool) a read connection cannot write
const (
	sqliteCommon   = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	sqliteWriteDSN = "?" + sqliteCommon + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	sqliteReadDSN  = "?" + sqliteCommon + "&_pragma=query_only(1)"
	// sqliteReaders bounds the read pool; the writer is one more connection.
	sqliteReaders = 4
)

// openSQLite opens (creating if needed) the SQLite database at path.
func openSQLite(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite path %q: %w", path, err)
	}
	if err := createFile(abs); err != nil {
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	rw, err := sql.Open("sqlite", abs+sqliteWriteDSN)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite %s: %w", abs, err)
	}
	rw.SetMaxOpenConns(1)
	rw.SetMaxIdleConns(1)
	rw.SetConnMaxIdleTime(0)
	rw.SetConnMaxLifetime(0)
	// The writer connects first: it switches the file to WAL, which the
	// read-only connections cannot.
	if err := pingSQLite(ctx, rw); err != nil {
		rw.Close()
		return nil, fmt.Errorf("store: sqlite %s: %w", abs, err)
	}
	ro, err := sql.Open("sqlite", abs+sqliteReadDSN)
	if err != nil {
		rw.Close()
		return nil, fmt.Errorf("store: sqlite %s: %w", abs, err)
	}
	ro.SetMaxOpenConns(sqliteReaders)
	ro.SetMaxIdleConns(sqliteReaders)
	s := &Store{d: sqliteDialect, rw: rw, ro: ro, target: abs}
	s.ops = ops{w: rw, r: ro, d: s.d, now: time.Now}
	return s, nil
}

// pingSQLite opens the writer's connection. Switching a new file to WAL
// needs an exclusive lock and SQLite answers SQLITE_BUSY at once, without
// its busy handler, while another process (or Store) holds one — as when
// instances start together on a new file — so that is retried for as long
// as busy_timeout would wait.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(10 * time.Second)
	wait := 5 * time.Millisecond
	for {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// createFile creates the database file with mode 0600 (it holds token
// hashes and key names), and its directory with mode 0700, unless they
// exist. SQLite gives its -wal and -shm files the database file's mode.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// postgresMaxConns bounds one instance's connections to PostgreSQL (whose
// default max_connections is 100, shared by every instance).
const postgresMaxConns = 10

// openPostgres connects to the PostgreSQL database at url.
func openPostgres(ctx context.Context, url string) (*Store, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("store: postgres %s: %w", redact(url), err)
	}
	db.SetMaxOpenConns(postgresMaxConns)
	db.SetMaxIdleConns(postgresMaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: postgres %s: %w", redact(url), err)
	}
	s := &Store{d: postgresDialect, rw: db, ro: db, target: redact(url)}
	s.ops = ops{w: db, r: db, d: s.d, now: time.Now}
	return s, nil
}

// classify maps a driver's constraint error to ErrConflict (unique),
// ErrNotFound (foreign key: the row referred to is missing) or ErrInvalid
// (check, not null), and anything else to nil.
func classify(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return ErrConflict
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return ErrNotFound
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			return ErrInvalid
		}
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return ErrConflict
		case "23503": // foreign_key_violation
			return ErrNotFound
		case "23514", "23502": // check_violation, not_null_violation
			return ErrInvalid
		}
	}
	return nil
}

// scanTime scans a non-null time column of either database into *T.
type scanTime struct{ T *time.Time }

func (s scanTime) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*s.T = time.UnixMicro(v).UTC()
	case time.Time:
		*s.T = utc(v)
	default:
		return fmt.Errorf("store: time column holds %T", src)
	}
	return nil
}

// scanOptTime scans a nullable time column of either database into *P
// (nil for NULL).
type scanOptTime struct{ P **time.Time }

func (s scanOptTime) Scan(src any) error {
	if src == nil {
		*s.P = nil
		return nil
	}
	var t time.Time
	if err := (scanTime{&t}).Scan(src); err != nil {
		return err
	}
	*s.P = &t
	return nil
}
