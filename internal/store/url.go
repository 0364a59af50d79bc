package store

import (
	"fmt"
	neturl "net/url"
	"strings"
)

// The databases Open knows.
const (
	kindSQLite   = "sqlite"
	kindPostgres = "postgres"
)

// parseURL splits a store URL into the database kind and its target: the
// file path for SQLite (verbatim, no percent-decoding, relative or absolute),
// the whole URL for PostgreSQL (pgx parses it). The scheme is
// case-insensitive.
func parseURL(raw string) (kind, target string, err error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if strings.Contains(strings.ToLower(raw), "password") {
			raw = "(not shown: it has a password)" // a key=value DSN, perhaps
		}
		return "", "", fmt.Errorf("store: database URL %q: want sqlite://PATH or postgres://…", raw)
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		if rest == "" {
			return "", "", fmt.Errorf("store: database URL %q: the file path is empty", raw)
		}
		// The driver reads everything after the first '?' as its
		// options. (A relative path such as "file:x" never reaches
		// SQLite's URI parser: openSQLite makes it absolute.)
		if i := strings.IndexAny(rest, "?\x00"); i >= 0 {
			return "", "", fmt.Errorf("store: database URL %q: the file path may not contain %q", raw, rest[i])
		}
		return kindSQLite, rest, nil
	case "postgres", "postgresql":
		return kindPostgres, raw, nil
	default:
		return "", "", fmt.Errorf("store: database URL %q: unknown scheme %q (want sqlite or postgres)", redact(raw), scheme)
	}
}

// redact returns a URL fit for errors and logs: a password, in the user
// part or as a "password" query parameter, becomes "xxxxx"; a URL that does
// not parse is reduced to its scheme.
func redact(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		scheme, _, _ := strings.Cut(raw, "://")
		return scheme + "://(unparsable)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
