package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/octofabric/octopus/internal/fabric"
	"github.com/octofabric/octopus/internal/store"
)

// Idempotency keys. POST /keys and POST /users create something new on
// every call: without a key, each call makes a new Kafka key (one per
// device is the point) or fails because the user exists. With an
// "Idempotency-Key: K" header (1 to 200 printable ASCII characters):
//
//   - the first request with K runs, and its answer is remembered under
//     (caller identity, route, K) with a hash of the decoded request;
//   - the same request again with K creates nothing and gets the first
//     answer's status and body with the header Idempotency-Replayed: true —
//     but without the secret: the secret of a key (and its client_settings,
//     which contain it) and a user's token are never stored, so a replay
//     carries "secret_redacted": true or "token_redacted": true instead;
//   - another request with K is 409 idempotency_key_reused;
//   - a request that failed is not remembered: it may be retried with K.
//
// The store offers insert-if-absent only, so the check before creating is
// an insert in a transaction that is rolled back (lookupIdempotency). Two
// concurrent requests with the same K may both create; the one whose
// record lands second undoes its own creation (a key is revoked) and
// replays the first one's answer.

// MaxIdempotencyKey bounds the Idempotency-Key header's length.
const MaxIdempotencyKey = 200

// IdempotencyKeyHeader and IdempotencyReplayedHeader name the headers.
const (
	IdempotencyKeyHeader      = "Idempotency-Key"
	IdempotencyReplayedHeader = "Idempotency-Replayed"
)

// created is what a create call made.
type created struct {
	status   int
	full     any                             // the answer, with its secret
	redacted any                             // what is remembered and replayed
	undo     func(ctx context.Context) error // undoes the creation; nil: cannot
}

// idempotent runs create under the request's Idempotency-Key, if any, and
// writes the answer. req is the decoded request, hashed to tell a repeat
// from another request.
func (a *API) idempotent(w http.ResponseWriter, r *http.Request, c fabric.Caller, req any, create func() (created, error)) error {
	key := r.Header.Get(IdempotencyKeyHeader)
	if key == "" {
		res, err := create()
		if err != nil {
			return err
		}
		writeJSON(w, res.status, res.full)
		return nil
	}
	if !validIdempotencyKey(key) {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidIdemKey,
			Message: "the Idempotency-Key header must be 1 to 200 printable ASCII characters",
			Details: map[string]any{"field": IdempotencyKeyHeader, "in": "header"}}
	}
	reqJSON, err := json.Marshal(req)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(append([]byte(r.Pattern+"\n"), reqJSON...))
	hash := sum[:]
	scope := c.ID + " " + r.Pattern
	ctx := r.Context()

	if rec, found, err := a.lookupIdempotency(ctx, scope, key); err != nil {
		return err
	} else if found {
		return replay(w, rec, hash)
	}
	res, err := create()
	if err != nil {
		// A concurrent request with the same key may have won (a user it
		// created makes this one a conflict): answer as it did.
		if rec, found, lerr := a.lookupIdempotency(ctx, scope, key); lerr == nil && found {
			return replay(w, rec, hash)
		}
		return err
	}
	body, err := json.Marshal(res.redacted)
	if err != nil {
		return err
	}
	rec, stored, err := a.cfg.Store.PutIdempotency(ctx, store.Idempotency{Scope: scope, Key: key,
		RequestHash: hash, Response: body, Status: res.status})
	switch {
	case err != nil:
		// The thing exists; the client gets it, but a retry would create
		// another.
		a.log.Warn("api: remembering an idempotent answer failed", "route", r.Pattern, "identity", c.ID, "err", err)
	case !stored && res.undo != nil:
		// Another request with this key was quicker: undo ours.
		uctx := context.WithoutCancel(ctx)
		if uerr := res.undo(uctx); uerr != nil {
			a.log.Warn("api: undoing a duplicate idempotent create failed", "route", r.Pattern, "identity", c.ID, "err", uerr)
		}
		return replay(w, rec, hash)
	}
	writeJSON(w, res.status, res.full)
	return nil
}

// replay answers with a remembered answer, or 409 when rec was for
// another request.
func replay(w http.ResponseWriter, rec store.Idempotency, hash []byte) error {
	if !bytes.Equal(rec.RequestHash, hash) {
		return &Error{Status: http.StatusConflict, Code: CodeIdempotencyConflict,
			Message: "this Idempotency-Key was used for another request",
			Details: map[string]any{"field": IdempotencyKeyHeader, "in": "header"}}
	}
	w.Header().Set(IdempotencyReplayedHeader, "true")
	writeRaw(w, rec.Status, rec.Response)
	return nil
}

var errProbe = errors.New("api: idempotency probe")

// lookupIdempotency returns the record under (scope, key), if any, without
// keeping one: the store's insert-if-absent in a rolled-back transaction.
func (a *API) lookupIdempotency(ctx context.Context, scope, key string) (store.Idempotency, bool, error) {
	var (
		rec   store.Idempotency
		found bool
	)
	err := a.cfg.Store.WithTx(ctx, func(tx *store.Tx) error {
		got, inserted, err := tx.PutIdempotency(ctx, store.Idempotency{Scope: scope, Key: key})
		if err != nil {
			return err
		}
		rec, found = got, !inserted
		return errProbe
	})
	if !errors.Is(err, errProbe) {
		return store.Idempotency{}, false, &Error{Status: http.StatusServiceUnavailable, Code: CodeStoreUnavailable,
			Message: "the metadata store failed", Err: err}
	}
	return rec, found, nil
}

func validIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > MaxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < ' ' || k[i] > '~' {
			return false
		}
	}
	return true
}
