package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Identity is a user or service known to the control plane. It owns one
// namespace, under which its topics are named.
type Identity struct {
	// ID is given by whoever vouches for the identity: "local:alice" for the
	// built-in issuer, "<issuer>|<sub>" for an OIDC provider.
	ID        string
	Name      string // for people: a display name
	Namespace string // unique among identities
	Admin     bool
	CreatedAt time.Time
}

const identityColumns = "id, name, namespace, admin, created_at"

func scanIdentity(row rowScanner) (Identity, error) {
	var id Identity
	err := row.Scan(&id.ID, &id.Name, &id.Namespace, &id.Admin, scanTime{&id.CreatedAt})
	return id, err
}

// CreateIdentity stores a new identity and returns it as stored (CreatedAt,
// if zero, set to now). ErrConflict if its ID or namespace is taken.
func (o ops) CreateIdentity(ctx context.Context, id Identity) (Identity, error) {
	op := fmt.Sprintf("create identity %q", id.ID)
	if err := required(op, "ID", id.ID, "namespace", id.Namespace); err != nil {
		return Identity{}, err
	}
	id.CreatedAt = o.clock(id.CreatedAt)
	_, err := o.w.ExecContext(ctx,
		"INSERT INTO identities ("+identityColumns+") VALUES ($1, $2, $3, $4, $5)",
		id.ID, id.Name, id.Namespace, id.Admin, o.d.timeArg(id.CreatedAt))
	if err != nil {
		return Identity{}, fail(op, err)
	}
	return id, nil
}

// GetIdentity returns the identity with the given ID, or ErrNotFound.
func (o ops) GetIdentity(ctx context.Context, id string) (Identity, error) {
	ident, err := scanIdentity(o.r.QueryRowContext(ctx,
		"SELECT "+identityColumns+" FROM identities WHERE id = $1", id))
	if err != nil {
		return Identity{}, fail(fmt.Sprintf("get identity %q", id), err)
	}
	return ident, nil
}

// GetIdentityByNamespace returns the identity owning a namespace, or
// ErrNotFound.
func (o ops) GetIdentityByNamespace(ctx context.Context, namespace string) (Identity, error) {
	ident, err := scanIdentity(o.r.QueryRowContext(ctx,
		"SELECT "+identityColumns+" FROM identities WHERE namespace = $1", namespace))
	if err != nil {
		return Identity{}, fail(fmt.Sprintf("get identity of namespace %q", namespace), err)
	}
	return ident, nil
}

// listIdentitiesQuery lists the identities with IDs after $1, in ID order,
// at most $2.
const listIdentitiesQuery = "SELECT " + identityColumns + " FROM identities WHERE id > $1 ORDER BY id LIMIT $2"

// ListIdentities returns a page of identities in ID order (byte-wise).
func (o ops) ListIdentities(ctx context.Context, p Page) ([]Identity, error) {
	rows, err := o.r.QueryContext(ctx, listIdentitiesQuery, p.After, p.limit())
	if err != nil {
		return nil, fail("list identities", err)
	}
	return collect(rows, "list identities", scanIdentity)
}

// CountIdentities returns the number of identities.
func (o ops) CountIdentities(ctx context.Context) (int, error) {
	var n int
	if err := o.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM identities").Scan(&n); err != nil {
		return 0, fail("count identities", err)
	}
	return n, nil
}

// rowScanner is what a scan function needs of *sql.Row and *sql.Rows.
type rowScanner interface{ Scan(...any) error }

// collect scans every row with scan and closes rows. An empty result is an
// empty slice, not nil.
func collect[T any](rows *sql.Rows, op string, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fail(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(op, err)
	}
	return out, nil
}
