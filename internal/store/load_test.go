package store

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The load fixture: loadIdentities identities u0000…, each with a token and
// a key, owning one topic uNNNN.t and granted read on the topics of the
// loadGrants identities after it, so every identity sees 1 + loadGrants
// topics among loadIdentities.
const (
	loadIdentities = 1000
	loadGrants     = 10
)

// loadFixture fills s with the load fixture in one transaction.
func loadFixture(t testing.TB, s *Store) {
	t.Helper()
	ctx := ctxT(t)
	start := time.Now()
	err := s.WithTx(ctx, func(tx *Tx) error {
		for i := range loadIdentities {
			name := fmt.Sprintf("u%04d", i)
			if _, err := tx.CreateIdentity(ctx, Identity{ID: "local:" + name, Name: name, Namespace: name}); err != nil {
				return err
			}
			if _, err := tx.CreateTopic(ctx, Topic{Name: name + ".t", Namespace: name, OwnerID: "local:" + name,
				Partitions: 3, Configs: map[string]string{"retention.ms": "604800000"}}); err != nil {
				return err
			}
			if _, err := tx.CreateToken(ctx, Token{IdentityID: "local:" + name, Hash: hash(name)}); err != nil {
				return err
			}
			if _, err := tx.CreateKey(ctx, Key{IdentityID: "local:" + name, Username: name + "-laptop", Mechanism: "SCRAM-SHA-512",
				ExpiresAt: ptr(t0.Add(time.Duration(i) * time.Minute))}); err != nil {
				return err
			}
		}
		for i := range loadIdentities {
			for j := 1; j <= loadGrants; j++ {
				g := Grant{Topic: fmt.Sprintf("u%04d.t", i), IdentityID: fmt.Sprintf("local:u%04d", (i+loadIdentities-j)%loadIdentities), Read: true}
				if _, err := tx.PutGrant(ctx, g); err != nil {
					return err
				}
			}
		}
		return nil
	})
	must(t, err, "load fixture")
	// PostgreSQL plans from statistics; a deployment gets them from
	// autovacuum, a test must ask.
	if s.Driver() == kindPostgres {
		_, err := s.rw.ExecContext(ctx, "ANALYZE")
		must(t, err, "ANALYZE")
	}
	t.Logf("%s: loaded %d identities, topics, tokens and keys each, %d grants, in %v",
		s.Driver(), loadIdentities, loadIdentities*loadGrants, time.Since(start).Round(time.Millisecond))
}

// explained is a query the load test checks the plan of.
type explained struct {
	name  string
	query string
	args  func(d *dialect) []any
	// pgIndexes must appear in PostgreSQL's plan: the indexes that find
	// the few rows the query is about.
	pgIndexes []string
}

var explainedQueries = []explained{
	{"ListTopicsVisibleTo", visibleToQuery, func(*dialect) []any { return []any{"local:u0500", "", int64(100)} },
		[]string{"topics_owner", "grants_identity"}},
	{"ListTopicsVisibleTo after", visibleToQuery, func(*dialect) []any { return []any{"local:u0500", "u0495.t", int64(100)} },
		[]string{"topics_owner", "grants_identity"}},
	{"ListTopicsByNamespace", byNamespaceQuery, func(*dialect) []any { return []any{"u0500", "", int64(100)} },
		[]string{"topics_namespace"}},
	{"ListIdentities", listIdentitiesQuery, func(*dialect) []any { return []any{"local:u0500", int64(100)} },
		[]string{"identities_pkey"}},
	{"ListKeys", listKeysQuery, func(*dialect) []any { return []any{"local:u0500", false} },
		[]string{"keys_identity"}},
	{"ListExpiredKeys", expiredKeysQuery, func(d *dialect) []any { return []any{d.timeArg(utc(t0.Add(10 * time.Minute)))} },
		[]string{"keys_expiring"}},
	{"LookupToken", lookupTokenQuery, func(d *dialect) []any { return []any{hash("u0500"), d.timeArg(utc(t0))} },
		[]string{"tokens_hash_key"}},
	{"ListGrants", "SELECT " + grantColumns + " FROM grants WHERE topic = $1 ORDER BY identity_id", func(*dialect) []any { return []any{"u0500.t"} },
		[]string{"grants_pkey"}},
}

// fullScanRE finds a full scan of a table in a query plan: PostgreSQL's
// "Seq Scan on grants", SQLite's "SCAN grants" or "SCAN g" (SQLite's index
// lookups are SEARCH).
var fullScanRE = map[string]*regexp.Regexp{
	kindPostgres: regexp.MustCompile(`Seq Scan on \w+`),
	kindSQLite:   regexp.MustCompile(`(^|\n)SCAN \w+`),
}

// TestLoadQueriesUseIndexes fills a store with the load fixture and checks
// the plans of the queries that must not slow down as tables grow, and that
// the lists are right. The timings are logged, not asserted.
//
// SQLite (EXPLAIN QUERY PLAN): no step reads a whole table. PostgreSQL
// (EXPLAIN): the plan finds the rows through the expected indexes; and with
// sequential scans disabled no step reads a whole table, which proves an
// index path exists for every table the query touches. (PostgreSQL's planner
// may rightly prefer to hash-join the 1,000-row topics table, 13 pages, over
// a dozen index lookups; it switches to the index as the table grows.)
func TestLoadQueriesUseIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("the load fixture takes seconds; skipped with -short")
	}
	forEachBackend(t, func(t *testing.T, b *backend) {
		db := openTest(t, b)
		loadFixture(t, db.Store)
		ctx := ctxT(t)
		for _, q := range explainedQueries {
			plan := explain(t, db.Store, false, q.query, q.args(db.d)...)
			t.Logf("%s plan:\n%s", q.name, plan)
			if db.Driver() == kindPostgres {
				for _, index := range q.pgIndexes {
					if !strings.Contains(plan, " using "+index+" ") {
						t.Errorf("%s: plan does not use index %s", q.name, index)
					}
				}
				plan = explain(t, db.Store, true, q.query, q.args(db.d)...)
				t.Logf("%s plan with sequential scans disabled:\n%s", q.name, plan)
			}
			if m := fullScanRE[db.Driver()].FindString(plan); m != "" {
				t.Errorf("%s reads a whole table (%q); plan:\n%s", q.name, strings.TrimSpace(m), plan)
			}
		}

		start := time.Now()
		const calls = 100
		for i := range calls {
			id := fmt.Sprintf("local:u%04d", i*7%loadIdentities)
			topics, err := db.ListTopicsVisibleTo(ctx, id, Page{})
			must(t, err, "ListTopicsVisibleTo")
			if len(topics) != 1+loadGrants {
				t.Fatalf("%s sees %d topics, want %d", id, len(topics), 1+loadGrants)
			}
		}
		t.Logf("%s: ListTopicsVisibleTo %v per call (%d calls, -race slows this)", db.Driver(), time.Since(start)/calls, calls)
		if n, err := db.CountIdentities(ctx); err != nil || n != loadIdentities {
			t.Fatalf("CountIdentities = %d, %v", n, err)
		}
		expired, err := db.ListExpiredKeys(ctx, t0.Add(10*time.Minute))
		must(t, err, "ListExpiredKeys")
		if len(expired) != 11 {
			t.Fatalf("ListExpiredKeys at t0+10m: %d keys, want 11", len(expired))
		}
	})
}

// explain returns the plan of query with args, one line per step; on
// PostgreSQL with noSeqScan, the plan with sequential scans disabled.
func explain(t testing.TB, s *Store, noSeqScan bool, query string, args ...any) string {
	t.Helper()
	ctx := ctxT(t)
	prefix := "EXPLAIN "
	if s.Driver() == kindSQLite {
		prefix = "EXPLAIN QUERY PLAN "
	}
	tx, err := s.ro.BeginTx(ctx, nil)
	must(t, err, "begin")
	defer tx.Rollback()
	if noSeqScan {
		_, err := tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off")
		must(t, err, "disable sequential scans")
	}
	rows, err := tx.QueryContext(ctx, prefix+query, args...)
	must(t, err, "explain")
	defer rows.Close()
	cols, err := rows.Columns()
	must(t, err, "columns")
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		must(t, rows.Scan(ptrs...), "scan plan")
		// PostgreSQL: one column, "QUERY PLAN"; SQLite: id, parent,
		// notused, detail.
		lines = append(lines, fmt.Sprint(vals[len(vals)-1]))
	}
	must(t, rows.Err(), "plan rows")
	return strings.Join(lines, "\n")
}

// BenchmarkList measures the list calls of the REST layer on the load
// fixture (1,000 identities, 1,000 topics, 10,000 grants), per backend.
func BenchmarkList(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			be.require(b)
			db := openTest(b, be)
			loadFixture(b, db.Store)
			ctx := ctxT(b)
			b.Run("TopicsVisibleTo", func(b *testing.B) {
				i := 0
				for b.Loop() {
					topics, err := db.ListTopicsVisibleTo(ctx, fmt.Sprintf("local:u%04d", i%loadIdentities), Page{Limit: 100})
					if err != nil || len(topics) != 1+loadGrants {
						b.Fatalf("ListTopicsVisibleTo: %d topics, %v", len(topics), err)
					}
					i++
				}
			})
			b.Run("TopicsByNamespace", func(b *testing.B) {
				i := 0
				for b.Loop() {
					topics, err := db.ListTopicsByNamespace(ctx, fmt.Sprintf("u%04d", i%loadIdentities), Page{Limit: 100})
					if err != nil || len(topics) != 1 {
						b.Fatalf("ListTopicsByNamespace: %d topics, %v", len(topics), err)
					}
					i++
				}
			})
			b.Run("Identities100", func(b *testing.B) {
				i := 0
				for b.Loop() {
					ids, err := db.ListIdentities(ctx, Page{After: fmt.Sprintf("local:u%04d", i%(loadIdentities-100)), Limit: 100})
					if err != nil || len(ids) != 100 {
						b.Fatalf("ListIdentities: %d, %v", len(ids), err)
					}
					i++
				}
			})
			b.Run("Grants", func(b *testing.B) {
				i := 0
				for b.Loop() {
					gs, err := db.ListGrants(ctx, fmt.Sprintf("u%04d.t", i%loadIdentities))
					if err != nil || len(gs) != loadGrants {
						b.Fatalf("ListGrants: %d, %v", len(gs), err)
					}
					i++
				}
			})
			b.Run("GetTopic", func(b *testing.B) {
				i := 0
				for b.Loop() {
					if _, err := db.GetTopic(ctx, fmt.Sprintf("u%04d.t", i%loadIdentities)); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
			b.Run("PutGrant", func(b *testing.B) {
				i := 0
				for b.Loop() {
					_, err := db.PutGrant(ctx, Grant{Topic: fmt.Sprintf("u%04d.t", i%loadIdentities), IdentityID: "local:u0000", Read: true, Write: i%2 == 0})
					if err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
}
