package store

import (
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// appliedVersions returns schema_migrations' rows as "version name applied_at".
func appliedVersions(t testing.TB, s *Store) []string {
	t.Helper()
	rows, err := s.ro.QueryContext(ctxT(t), "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
	must(t, err, "read schema_migrations")
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v int
		var name string
		var applied time.Time
		must(t, rows.Scan(&v, &name, scanTime{&applied}), "scan schema_migrations")
		out = append(out, fmt.Sprintf("%d %s %s", v, name, applied.Format(time.RFC3339Nano)))
	}
	must(t, rows.Err(), "rows")
	return out
}

func TestMigrations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		url := b.newURL(t)
		s := mustOpen(t, url)
		applied := appliedVersions(t, s)
		if len(applied) != SchemaVersion() || !strings.HasPrefix(applied[0], "1 0001_init.sql ") {
			t.Fatalf("fresh database: schema_migrations %v, want versions 1..%d", applied, SchemaVersion())
		}
		mkIdentity(t, s, "alice")
		s.Close()

		// Reopening changes nothing and keeps the data.
		s = mustOpen(t, url)
		if again := appliedVersions(t, s); !reflect.DeepEqual(again, applied) {
			t.Fatalf("reopened: schema_migrations %v, want %v", again, applied)
		}
		if _, err := s.GetIdentity(ctxT(t), "local:alice"); err != nil {
			t.Fatalf("reopened: %v", err)
		}

		// A version from the future: refused, with both versions named.
		newer := SchemaVersion() + 1
		_, err := s.rw.ExecContext(ctxT(t), "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			newer, "9999_future.sql", s.d.timeArg(utc(time.Now())))
		must(t, err, "insert future version")
		s.Close()
		_, err = Open(ctxT(t), url)
		wantErr(t, err, ErrSchemaTooNew, "Open of a newer schema")
		if want := fmt.Sprintf("at version %d, this Octopus knows versions up to %d", newer, SchemaVersion()); !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
		t.Logf("newer schema refused: %v", err)
	})
}

// TestMigrationFailureRollsBack runs a migration that fails halfway: the
// database stays at the version before, with nothing of the failed one.
func TestMigrationFailureRollsBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		url := b.newURL(t)
		mustOpen(t, url).Close()

		// Every real migration, then a broken one.
		dir := "migrations/" + b.name
		fsys := fstest.MapFS{}
		entries, err := fs.ReadDir(migrationFiles, dir)
		must(t, err, "read migrations")
		for _, e := range entries {
			data, err := fs.ReadFile(migrationFiles, dir+"/"+e.Name())
			must(t, err, "read "+e.Name())
			fsys[dir+"/"+e.Name()] = &fstest.MapFile{Data: data}
		}
		last := SchemaVersion()
		broken := last + 1
		fsys[fmt.Sprintf("%s/%04d_broken.sql", dir, broken)] = &fstest.MapFile{
			Data: []byte("CREATE TABLE extra (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n")}
		migrationFS = fsys
		t.Cleanup(func() { migrationFS = migrationFiles })
		_, err = Open(ctxT(t), url)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("migrate to version %d", broken)) {
			t.Fatalf("Open with a broken migration %d: %v, want a failure of version %d", broken, err, broken)
		}
		migrationFS = migrationFiles
		s := mustOpen(t, url)
		if v, err := s.Version(ctxT(t)); err != nil || v != last {
			t.Fatalf("after the failed migration: version %d, %v; want %d", v, err, last)
		}
		if _, err := s.ro.ExecContext(ctxT(t), "SELECT x FROM extra"); err == nil {
			t.Fatalf("table extra of the failed migration exists")
		}
	})
}

// TestMigrationsConcurrentOpen opens one new database from several stores at
// once, as Octopus instances starting together do: each version is applied
// once and every store works.
func TestMigrationsConcurrentOpen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		url := b.newURL(t)
		const n = 4
		stores := make([]*Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = Open(ctxT(t), url)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("store %d: Open: %v", i, err)
			}
			t.Cleanup(func() { stores[i].Close() })
		}
		applied := appliedVersions(t, stores[0])
		if len(applied) != SchemaVersion() {
			t.Fatalf("schema_migrations %v, want each of %d versions once", applied, SchemaVersion())
		}
		for i, s := range stores {
			mkIdentity(t, s, fmt.Sprintf("user%d", i))
		}
		if c, err := stores[0].CountIdentities(ctxT(t)); err != nil || c != n {
			t.Fatalf("CountIdentities = %d, %v; want %d", c, err, n)
		}
	})
}

func TestEmbeddedMigrations(t *testing.T) {
	sq, err := loadMigrations(migrationFiles, "migrations/sqlite")
	must(t, err, "sqlite migrations")
	pg, err := loadMigrations(migrationFiles, "migrations/postgres")
	must(t, err, "postgres migrations")
	if len(sq) == 0 || len(sq) != len(pg) {
		t.Fatalf("%d SQLite and %d PostgreSQL migrations, want the same number", len(sq), len(pg))
	}
	for i := range sq {
		if sq[i].name != pg[i].name {
			t.Errorf("version %d is %s for SQLite, %s for PostgreSQL", i+1, sq[i].name, pg[i].name)
		}
	}
	if SchemaVersion() != len(sq) {
		t.Errorf("SchemaVersion() = %d, want %d", SchemaVersion(), len(sq))
	}
}

func TestLoadMigrationsChecksVersions(t *testing.T) {
	for _, c := range []struct {
		files []string
		want  string // "" for no error
	}{
		{[]string{"0001_a.sql", "0002_b.sql"}, ""},
		{[]string{"0002_b.sql", "0001_a.sql", "0003_c.sql"}, ""},
		{[]string{"0001_a.sql", "0003_c.sql"}, "want version 2"},
		{[]string{"0002_b.sql"}, "want version 1"},
		{[]string{"0001_a.sql", "0001_b.sql"}, "want version 2"},
		{[]string{"0001_a.sql", "README"}, "want NNNN_name.sql"},
	} {
		fsys := fstest.MapFS{}
		for _, f := range c.files {
			fsys["m/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
		}
		_, err := loadMigrations(fsys, "m")
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("loadMigrations(%v) = %v, want %q", c.files, err, c.want)
		}
	}
}

func TestParseMigrationName(t *testing.T) {
	for _, c := range []struct {
		name string
		want int // 0: an error
	}{
		{"0001_init.sql", 1},
		{"0042_add_triggers.sql", 42},
		{"12345_big.sql", 12345},
		{"0000_zero.sql", 0},
		{"001_short.sql", 0},
		{"0001_.sql", 0},
		{"0001_init.SQL", 0},
		{"0001-init.sql", 0},
		{"000a_init.sql", 0},
		{"+001_init.sql", 0},
		{"99999999999999999999_huge.sql", 0},
		{"", 0},
	} {
		v, err := parseMigrationName(c.name)
		if c.want == 0 && err == nil || c.want != 0 && (err != nil || v != c.want) {
			t.Errorf("parseMigrationName(%q) = %d, %v; want %d", c.name, v, err, c.want)
		}
	}
}

func FuzzParseMigrationName(f *testing.F) {
	for _, s := range []string{"0001_init.sql", "0002_x_y.sql", "1_a.sql", "0001_.sql", "00000000000000000000001_a.sql"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v, err := parseMigrationName(name)
		if err != nil {
			return
		}
		if v < 1 || !strings.HasSuffix(name, ".sql") {
			t.Fatalf("parseMigrationName(%q) = %d, accepted", name, v)
		}
		digits, _, _ := strings.Cut(name, "_")
		if strings.TrimLeft(digits, "0") != fmt.Sprint(v) {
			t.Fatalf("parseMigrationName(%q) = %d, but the prefix is %q", name, v, digits)
		}
	})
}
