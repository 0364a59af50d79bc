package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		url, kind, target string
		err               string // part of the error; "" for none
	}{
		{"sqlite://octopus.db", kindSQLite, "octopus.db", ""},
		{"sqlite://data/octopus.db", kindSQLite, "data/octopus.db", ""},
		{"sqlite://./data/octopus.db", kindSQLite, "./data/octopus.db", ""},
		{"sqlite:///var/lib/octopus/meta.db", kindSQLite, "/var/lib/octopus/meta.db", ""},
		{"SQLite://x.db", kindSQLite, "x.db", ""},
		{"sqlite3://x.db", kindSQLite, "x.db", ""},
		{"sqlite://dir with space/#hash%20.db", kindSQLite, "dir with space/#hash%20.db", ""},
		{"sqlite://", "", "", "path is empty"},
		{"sqlite://x.db?mode=ro", "", "", `may not contain '?'`},
		{"sqlite://x\x00.db", "", "", `may not contain '\x00'`},
		{"postgres://u:p@db:5432/octopus?sslmode=require", kindPostgres, "postgres://u:p@db:5432/octopus?sslmode=require", ""},
		{"postgresql://db/octopus", kindPostgres, "postgresql://db/octopus", ""},
		{"mysql://db/octopus", "", "", `unknown scheme "mysql"`},
		{"octopus.db", "", "", "want sqlite://PATH or postgres://"},
		{"", "", "", "want sqlite://PATH or postgres://"},
		{"host=db password=s3cret", "", "", "(not shown: it has a password)"},
	} {
		kind, target, err := parseURL(c.url)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parseURL(%q) = %q, %q, %v; want an error with %q", c.url, kind, target, err, c.err)
			}
			continue
		}
		if err != nil || kind != c.kind || target != c.target {
			t.Errorf("parseURL(%q) = %q, %q, %v; want %q, %q", c.url, kind, target, err, c.kind, c.target)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgres://octopus:s3cret@db:5432/meta", "postgres://octopus:xxxxx@db:5432/meta"},
		{"postgres://db/meta?user=o&password=s3cret", "postgres://db/meta?password=xxxxx&user=o"},
		{"postgres://octopus@db/meta", "postgres://octopus@db/meta"},
		{"postgres://o:p@[::1/x", "postgres://(unparsable)"},
	} {
		if got := redact(c.in); got != c.want {
			t.Errorf("redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"sqlite://octopus.db", "sqlite:///abs/x.db", "sqlite://", "sqlite://a?b", "SQLITE3://x",
		"postgres://u:p@h/db", "postgresql://h", "mysql://x", "no-scheme", "://", "sqlite://://",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		kind, target, err := parseURL(raw)
		if err != nil {
			if kind != "" || target != "" {
				t.Fatalf("parseURL(%q) failed but returned %q, %q", raw, kind, target)
			}
			return
		}
		switch kind {
		case kindSQLite:
			if target == "" || strings.ContainsAny(target, "?\x00") || !strings.HasSuffix(raw, target) {
				t.Fatalf("parseURL(%q): SQLite path %q", raw, target)
			}
			// The path round-trips.
			if k2, t2, err := parseURL("sqlite://" + target); err != nil || k2 != kindSQLite || t2 != target {
				t.Fatalf("parseURL(sqlite://%s) = %q, %q, %v", target, k2, t2, err)
			}
		case kindPostgres:
			if target != raw {
				t.Fatalf("parseURL(%q): PostgreSQL target %q, want the URL", raw, target)
			}
		default:
			t.Fatalf("parseURL(%q): kind %q", raw, kind)
		}
		redact(raw) // must not panic
	})
}

// TestOpenSQLiteFile checks what Open makes of a sqlite:// URL: a relative
// path under the working directory, missing directories created, the file
// private, and the connection settings in force.
func TestOpenSQLiteFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s := mustOpen(t, "sqlite://nested/dir/octopus.db")
	path := filepath.Join(dir, "nested/dir/octopus.db")
	if got := s.String(); got != "sqlite:"+path {
		t.Errorf("String() = %q, want sqlite:%s", got, path)
	}
	fi, err := os.Stat(path)
	must(t, err, "stat")
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600", fi.Mode().Perm())
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created directory: %v, %v; want mode 0700", fi.Mode().Perm(), err)
	}
	ctx := ctxT(t)
	for _, c := range []struct {
		pool         string
		pragma, want string
	}{
		{"rw", "journal_mode", "wal"},
		{"rw", "foreign_keys", "1"},
		{"rw", "busy_timeout", "10000"},
		{"rw", "synchronous", "2"},
		{"rw", "query_only", "0"},
		{"ro", "journal_mode", "wal"},
		{"ro", "foreign_keys", "1"},
		{"ro", "busy_timeout", "10000"},
		{"ro", "query_only", "1"},
	} {
		db := s.rw
		if c.pool == "ro" {
			db = s.ro
		}
		var got string
		must(t, db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got), c.pragma)
		if got != c.want {
			t.Errorf("%s: PRAGMA %s = %s, want %s", c.pool, c.pragma, got, c.want)
		}
	}
	if s.Driver() != kindSQLite {
		t.Errorf("Driver() = %q", s.Driver())
	}
	// A read connection cannot write.
	if _, err := s.ro.ExecContext(ctx, "DELETE FROM identities"); err == nil {
		t.Errorf("a write on the read pool succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	notDir := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(notDir, nil, 0o600), "write")
	for _, c := range []struct{ url, want string }{
		{"mysql://x/y", "unknown scheme"},
		{"sqlite://" + notDir + "/x.db", "not a directory"},
		{"postgres://octopus:s3cret@127.0.0.1:1/meta?connect_timeout=5", "postgres://octopus:xxxxx@127.0.0.1:1/meta"},
	} {
		s, err := Open(ctx, c.url)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", c.url)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q): %v; want an error with %q and no password", c.url, err, c.want)
		}
	}
	// A file that is not a database.
	junk := filepath.Join(t.TempDir(), "junk.db")
	must(t, os.WriteFile(junk, []byte(strings.Repeat("not a database ", 100)), 0o600), "write junk")
	if s, err := Open(ctx, "sqlite://"+junk); err == nil {
		s.Close()
		t.Errorf("Open of a junk file succeeded")
	}
}
