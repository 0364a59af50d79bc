package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Idempotency is the remembered answer to a create call made with an
// idempotency key, so that the same request again gets the same answer and
// creates nothing.
type Idempotency struct {
	Scope       string // whose key it is and for what, e.g. identity and route
	Key         string // the client's idempotency key
	RequestHash []byte // a hash of the request, to tell a repeat from a reuse
	Response    []byte // the response body sent
	Status      int    // the HTTP status sent
	CreatedAt   time.Time
}

const idempotencyColumns = "scope, idem_key, request_hash, response, status, created_at"

func scanIdempotency(row rowScanner) (Idempotency, error) {
	var r Idempotency
	err := row.Scan(&r.Scope, &r.Key, &r.RequestHash, &r.Response, &r.Status, scanTime{&r.CreatedAt})
	return r, err
}

// PutIdempotency stores rec unless a record with its scope and key exists.
// It returns the record stored (rec, CreatedAt set to now if zero) and true,
// or the existing record and false; the caller compares RequestHash to tell
// a repeated request (answer with the stored response) from a reused key
// (409).
func (o ops) PutIdempotency(ctx context.Context, rec Idempotency) (Idempotency, bool, error) {
	op := fmt.Sprintf("put idempotency record %q/%q", rec.Scope, rec.Key)
	if err := required(op, "scope", rec.Scope, "key", rec.Key); err != nil {
		return Idempotency{}, false, err
	}
	rec.CreatedAt = o.clock(rec.CreatedAt)
	if rec.RequestHash == nil {
		rec.RequestHash = []byte{}
	}
	if rec.Response == nil {
		rec.Response = []byte{}
	}
	// A record purged between the insert and the select is inserted again
	// on the next round.
	for range 3 {
		var status int
		err := o.w.QueryRowContext(ctx,
			"INSERT INTO idempotency ("+idempotencyColumns+") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, idem_key) DO NOTHING RETURNING status",
			rec.Scope, rec.Key, rec.RequestHash, rec.Response, rec.Status, o.d.timeArg(rec.CreatedAt)).Scan(&status)
		if err == nil {
			return rec, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Idempotency{}, false, fail(op, err)
		}
		old, err := scanIdempotency(o.w.QueryRowContext(ctx,
			"SELECT "+idempotencyColumns+" FROM idempotency WHERE scope = $1 AND idem_key = $2", rec.Scope, rec.Key))
		if err == nil {
			return old, false, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return Idempotency{}, false, fail(op, err)
		}
	}
	return Idempotency{}, false, fail(op, errors.New("the record vanished three times"))
}

// PurgeIdempotency deletes the records created before before and returns
// how many it deleted.
func (o ops) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	res, err := o.w.ExecContext(ctx, "DELETE FROM idempotency WHERE created_at < $1", o.d.timeArg(utc(before)))
	if err != nil {
		return 0, fail("purge idempotency records", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fail("purge idempotency records", err)
	}
	return n, nil
}
