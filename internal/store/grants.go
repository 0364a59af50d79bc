package store

import (
	"context"
	"fmt"
	"time"
)

// Grant is what a topic's owner lets another identity do with it. The
// control plane turns grants into Kafka ACLs.
type Grant struct {
	Topic      string // a topic's full name
	IdentityID string
	Read       bool
	Write      bool
	CreatedAt  time.Time // when first granted
	UpdatedAt  time.Time // when last changed
}

const grantColumns = "topic, identity_id, can_read, can_write, created_at, updated_at"

func scanGrant(row rowScanner) (Grant, error) {
	var g Grant
	err := row.Scan(&g.Topic, &g.IdentityID, &g.Read, &g.Write, scanTime{&g.CreatedAt}, scanTime{&g.UpdatedAt})
	return g, err
}

// PutGrant creates or replaces the grant of a topic to an identity and
// returns it as stored: UpdatedAt is now, CreatedAt is kept from an
// existing grant. ErrNotFound if the topic or the identity does not exist.
// A grant of neither read nor write is stored, and gives nothing.
func (o ops) PutGrant(ctx context.Context, g Grant) (Grant, error) {
	op := fmt.Sprintf("grant topic %q to %q", g.Topic, g.IdentityID)
	if err := required(op, "topic", g.Topic, "identity ID", g.IdentityID); err != nil {
		return Grant{}, err
	}
	now := o.clock(time.Time{})
	g, err := scanGrant(o.w.QueryRowContext(ctx, `
		INSERT INTO grants (`+grantColumns+`) VALUES ($1, $2, $3, $4, $5, $5)
		ON CONFLICT (topic, identity_id) DO UPDATE SET
			can_read = excluded.can_read,
			can_write = excluded.can_write,
			updated_at = excluded.updated_at
		RETURNING `+grantColumns,
		g.Topic, g.IdentityID, g.Read, g.Write, o.d.timeArg(now)))
	if err != nil {
		return Grant{}, fail(op, err)
	}
	return g, nil
}

// GetGrant returns the grant of a topic to an identity, or ErrNotFound.
func (o ops) GetGrant(ctx context.Context, topic, identityID string) (Grant, error) {
	g, err := scanGrant(o.r.QueryRowContext(ctx,
		"SELECT "+grantColumns+" FROM grants WHERE topic = $1 AND identity_id = $2", topic, identityID))
	if err != nil {
		return Grant{}, fail(fmt.Sprintf("get grant of topic %q to %q", topic, identityID), err)
	}
	return g, nil
}

// ListGrants returns a topic's grants in identity order (none for an
// unknown topic).
func (o ops) ListGrants(ctx context.Context, topic string) ([]Grant, error) {
	op := fmt.Sprintf("list grants of topic %q", topic)
	rows, err := o.r.QueryContext(ctx,
		"SELECT "+grantColumns+" FROM grants WHERE topic = $1 ORDER BY identity_id", topic)
	if err != nil {
		return nil, fail(op, err)
	}
	return collect(rows, op, scanGrant)
}

// DeleteGrant removes the grant of a topic to an identity; ErrNotFound if
// there is none.
func (o ops) DeleteGrant(ctx context.Context, topic, identityID string) error {
	res, err := o.w.ExecContext(ctx, "DELETE FROM grants WHERE topic = $1 AND identity_id = $2", topic, identityID)
	return affectedOne(fmt.Sprintf("revoke grant of topic %q to %q", topic, identityID), res, err)
}
