// Package store is the control plane's metadata store: identities, local
// tokens, Kafka keys, topics, grants, triggers and idempotency records, in
// SQLite (the embedded default, pure Go) or PostgreSQL (several Octopus
// instances on one database). Both run the same queries; the schema differs
// only in column types (see migrations/).
//
// Concurrency: a Store is safe for concurrent use and keeps no state of its
// own beyond database/sql's connection pools. On SQLite every write goes
// through one connection (SQLite allows one writer at a time; queueing in
// the pool beats retrying on SQLITE_BUSY) and reads use a separate pool of
// read-only connections, which WAL mode lets run beside the writer. On
// PostgreSQL one pool serves both, and the database orders concurrent
// writers. Inside WithTx use only the Tx: on SQLite a Store write from inside
// the function waits for the connection the Tx holds, forever.
//
// Times are UTC with microsecond precision (PostgreSQL's), so a value read
// back equals the value written.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The errors a Store method may return, tested with errors.Is; the error
// itself also says what and why.
var (
	// ErrNotFound means the row does not exist, or a row it refers to (the
	// identity of a key, the topic of a grant) does not.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique value is taken: an identity's ID or
	// namespace, a key's username, a topic's name, a token's hash.
	ErrConflict = errors.New("conflict")
	// ErrInvalid means a value breaks a rule of the store (a missing ID, a
	// topic name outside its namespace, a partition count below 1).
	ErrInvalid = errors.New("invalid")
	// ErrSchemaTooNew means the database was migrated by a newer Octopus
	// than this one; Open refuses it rather than misreading it.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
)

// Store is an open metadata store. Tx has the same data methods
// (CreateIdentity, GetTopic, …): both embed ops.
type Store struct {
	ops
	d      *dialect
	rw     *sql.DB // all writes; on SQLite exactly one connection
	ro     *sql.DB // reads; on PostgreSQL the same pool as rw
	target string  // the SQLite file, or the PostgreSQL URL without password
}

// Tx is a transaction begun by Store.WithTx, with the same data methods as
// Store.
type Tx struct {
	ops
}

// Page selects a slice of an ordered list: the items after the key After
// (the empty string: from the start), at most Limit of them (0 or less: all).
// The next page starts after the last item's key (an identity's ID, a
// topic's name).
type Page struct {
	After string
	Limit int
}

// limit is p.Limit as a SQL LIMIT: "all" is the largest int64.
func (p Page) limit() int64 {
	if p.Limit <= 0 {
		return 1<<63 - 1
	}
	return int64(p.Limit)
}

// Open opens the store at url, creating and migrating its schema as needed:
//
//	sqlite://PATH        a SQLite file, PATH relative to the working
//	                     directory or absolute (sqlite:///var/lib/x.db);
//	                     created (mode 0600, with its directory) if missing
//	postgres://…         a PostgreSQL database, in pgx's URL syntax
//	postgresql://…       (https://pkg.go.dev/github.com/jackc/pgx/v5/pgconn#ParseConfig)
//
// Open refuses a database whose schema version is newer than the binary's
// (ErrSchemaTooNew).
func Open(ctx context.Context, url string) (*Store, error) {
	kind, target, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	var s *Store
	switch kind {
	case kindSQLite:
		s, err = openSQLite(ctx, target)
	case kindPostgres:
		s, err = openPostgres(ctx, target)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the store's connections.
func (s *Store) Close() error {
	err := s.rw.Close()
	if s.ro != s.rw {
		err = errors.Join(err, s.ro.Close())
	}
	return err
}

// Driver names the database: "sqlite" or "postgres".
func (s *Store) Driver() string { return s.d.name }

// String describes the store for logs: the driver and the file or the URL
// without its password.
func (s *Store) String() string { return s.d.name + ":" + s.target }

// WithTx runs fn in a transaction and commits it if fn returns nil, else
// rolls it back and returns fn's error. A panic in fn rolls the
// transaction back and goes on. On PostgreSQL a failed statement ends the transaction's use
// (every later statement fails), so fn should return the first error it gets.
func (s *Store) WithTx(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := s.rw.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			sqlTx.Rollback()
		}
	}()
	if err := fn(&Tx{ops{w: sqlTx, r: sqlTx, d: s.d, now: s.now}}); err != nil {
		return err
	}
	done = true
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// querier is what ops needs of a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ops holds the data methods of Store and Tx. Statements that write, and
// reads that must see the caller's own uncommitted writes, go to w; other
// reads go to r. In a Tx both are the transaction.
type ops struct {
	w, r querier
	d    *dialect
	now  func() time.Time
}

// clock returns t in UTC at microsecond precision, or the current time when
// t is zero.
func (o ops) clock(t time.Time) time.Time {
	if t.IsZero() {
		t = o.now()
	}
	return utc(t)
}

// utc returns t in UTC, truncated to microseconds (what both databases keep).
func utc(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// utcPtr is utc for an optional time.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utc(*t)
	return &u
}

// idEncoding writes IDs in lower-case base32 without padding: 26 characters
// from 16 random bytes, safe in URLs and file names.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a new random opaque ID (128 bits).
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// fail wraps a driver error from operation op (e.g. `create key "k1"`): a
// missing row becomes ErrNotFound, a constraint violation ErrConflict,
// ErrNotFound (a foreign key) or ErrInvalid, each keeping the driver's
// message.
func fail(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	if kind := classify(err); kind != nil {
		return fmt.Errorf("store: %s: %w: %w", op, kind, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// invalid returns an ErrInvalid error for operation op.
func invalid(op, format string, args ...any) error {
	return fmt.Errorf("store: %s: %w: %s", op, ErrInvalid, fmt.Sprintf(format, args...))
}

// notFound returns an ErrNotFound error for operation op.
func notFound(op string) error {
	return fmt.Errorf("store: %s: %w", op, ErrNotFound)
}

// required returns an ErrInvalid error naming the first empty field, or nil.
func required(op string, fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if strings.TrimSpace(fields[i+1]) == "" {
			return invalid(op, "%s is empty", fields[i])
		}
	}
	return nil
}
