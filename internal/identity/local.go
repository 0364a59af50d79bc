package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/octofabric/octopus/internal/fsutil"
	"github.com/octofabric/octopus/internal/store"
)

// LocalPrefix starts every token of the built-in issuer, so Chain can route
// it and secret scanners can recognise a leaked one.
const LocalPrefix = "oct_"

// localSecretLen is the number of random bytes in a local token.
const localSecretLen = 32

// localTokenLen is the length of a local token: the prefix and 32 bytes in
// unpadded base64url.
var localTokenLen = len(LocalPrefix) + base64.RawURLEncoding.EncodedLen(localSecretLen)

// AdminID is the identity EnsureAdmin creates.
const AdminID = "local:admin"

// AdminTokenFile is the name of the administrator token's file in the data
// directory.
const AdminTokenFile = "admin.token"

// Store is what this package needs of the metadata store (*store.Store).
type Store interface {
	CreateIdentity(ctx context.Context, id store.Identity) (store.Identity, error)
	GetIdentity(ctx context.Context, id string) (store.Identity, error)
	GetIdentityByNamespace(ctx context.Context, namespace string) (store.Identity, error)
	CreateToken(ctx context.Context, t store.Token) (store.Token, error)
	LookupToken(ctx context.Context, hash []byte, now time.Time) (store.Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time) error
	WithTx(ctx context.Context, fn func(tx *store.Tx) error) error
}

// Local is the built-in issuer for sites without an identity provider. Its
// tokens are LocalPrefix + base64url(32 random bytes); the store keeps only
// their SHA-256, so a copy of the database lets nobody log in.
type Local struct {
	st Store
	o  options
}

// NewLocal returns the built-in issuer on st. Options: WithClock,
// WithLogger.
func NewLocal(st Store, opts ...Option) *Local {
	return &Local{st: st, o: newOptions(opts)}
}

func (l *Local) shape() Shape { return ShapeLocal }

// newLocalToken returns a new random token and its SHA-256.
func newLocalToken() (token string, hash []byte) {
	var b [localSecretLen]byte
	rand.Read(b[:])
	token = LocalPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token)
}

// hashToken is what the store keeps of a token.
func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// tokenRow is the store row for a new token of identityID valid for ttl
// (ttl <= 0: no expiry).
func (l *Local) tokenRow(identityID string, hash []byte, ttl time.Duration) store.Token {
	now := l.o.now()
	t := store.Token{IdentityID: identityID, Hash: hash, CreatedAt: now}
	if ttl > 0 {
		exp := now.Add(ttl)
		t.ExpiresAt = &exp
	}
	return t
}

// Issue creates a token for an existing identity (else an error wrapping
// store.ErrNotFound), valid for ttl (ttl <= 0: until revoked), and returns
// it. The token is shown only here.
func (l *Local) Issue(ctx context.Context, identityID string, ttl time.Duration) (string, error) {
	token, hash := newLocalToken()
	if _, err := l.st.CreateToken(ctx, l.tokenRow(identityID, hash, ttl)); err != nil {
		return "", fmt.Errorf("identity: issue token: %w", err)
	}
	return token, nil
}

// Verify implements Verifier for local tokens. An unknown, revoked or
// expired token is ErrInvalidToken (the store does not say which); a store
// failure is ErrUnavailable.
func (l *Local) Verify(ctx context.Context, token string) (Identity, error) {
	t, err := l.lookup(ctx, token)
	if err != nil {
		return Identity{}, err
	}
	sid, err := l.st.GetIdentity(ctx, t.IdentityID)
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, invalidf("the token's identity no longer exists")
	} else if err != nil {
		return Identity{}, unavailable("metadata store", err)
	}
	id := Identity{ID: sid.ID, Name: sid.Name, Admin: sid.Admin, Source: SourceLocal}
	if t.ExpiresAt != nil {
		id.ExpiresAt = *t.ExpiresAt
	}
	return id, nil
}

// lookup checks a local token's form and finds its usable store row.
func (l *Local) lookup(ctx context.Context, token string) (store.Token, error) {
	if token == "" {
		return store.Token{}, ErrNoToken
	}
	if err := checkLocalForm(token); err != nil {
		return store.Token{}, err
	}
	t, err := l.st.LookupToken(ctx, hashToken(token), l.o.now())
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, invalidf("unknown, revoked or expired local token")
	} else if err != nil {
		return store.Token{}, unavailable("metadata store", err)
	}
	return t, nil
}

// checkLocalForm rejects a string that cannot be a local token without
// touching the store.
func checkLocalForm(token string) error {
	if len(token) != localTokenLen || token[:len(LocalPrefix)] != LocalPrefix {
		return invalidf("not a local token")
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(token[len(LocalPrefix):]); err != nil {
		return invalidf("malformed local token")
	}
	return nil
}

// Revoke ends a local token at once. A token that is unknown, or already
// revoked or expired, is ErrInvalidToken.
func (l *Local) Revoke(ctx context.Context, token string) error {
	t, err := l.lookup(ctx, token)
	if err != nil {
		return err
	}
	if err := l.st.RevokeToken(ctx, t.ID, l.o.now()); err != nil {
		return unavailable("metadata store", err)
	}
	return nil
}

// localName is a local user's name: it becomes the identity ID
// "local:<name>", which appears in URL paths, so it is kept plain.
var localName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// CreateUser creates the local identity "local:<name>" (not an
// administrator; namespace from NamespaceFor, numbered on conflict) with a
// token that does not expire, in one transaction, and returns both. A name
// that is not 1–64 of [A-Za-z0-9._@-] starting with a letter or digit, or
// is "admin", is an error wrapping store.ErrInvalid; an existing user one
// wrapping store.ErrConflict. Only administrators may call it (the REST
// layer checks).
func (l *Local) CreateUser(ctx context.Context, name string) (Identity, string, error) {
	if !localName.MatchString(name) {
		return Identity{}, "", fmt.Errorf("identity: user name %q: %w: want 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name, store.ErrInvalid)
	}
	id := "local:" + name
	if id == AdminID {
		return Identity{}, "", fmt.Errorf("identity: user name %q: %w: reserved for the administrator", name, store.ErrInvalid)
	}
	token, hash := newLocalToken()
	base := NamespaceFor(name)
	for n := 1; n <= maxNamespaceTries; n++ {
		ns := NamespaceCandidate(base, n)
		if _, err := l.st.GetIdentityByNamespace(ctx, ns); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return Identity{}, "", fmt.Errorf("identity: create user %q: %w", name, err)
		}
		err := l.st.WithTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.CreateIdentity(ctx, store.Identity{ID: id, Name: name, Namespace: ns}); err != nil {
				return err
			}
			_, err := tx.CreateToken(ctx, l.tokenRow(id, hash, 0))
			return err
		})
		if err == nil {
			return Identity{ID: id, Name: name, Source: SourceLocal}, token, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return Identity{}, "", fmt.Errorf("identity: create user %q: %w", name, err)
		}
		if _, gerr := l.st.GetIdentity(ctx, id); gerr == nil {
			return Identity{}, "", fmt.Errorf("identity: user %q exists: %w", name, store.ErrConflict)
		}
		// Someone took ns between the check and the insert: try the next.
	}
	return Identity{}, "", fmt.Errorf("identity: create user %q: no free namespace: %w", name, store.ErrConflict)
}

// EnsureAdmin makes sure the administrator "local:admin" (namespace
// "admin") exists and that dataDir/admin.token (mode 0600) holds a valid
// token of it, followed by a newline; it is called on every start.
//
//   - First start: creates the identity and a token that does not expire,
//     then writes the file (atomically). The token is never logged.
//   - The file holds a valid administrator token: nothing changes.
//   - The file is missing, or holds no valid administrator token (it was
//     lost or deleted, the token was revoked, or the database was
//     replaced): a new token is issued and written, and a warning logged.
//     This is the recovery for a lost token: delete admin.token and
//     restart. Tokens issued earlier stay valid until revoked; on
//     PostgreSQL each instance's data directory gets its own admin token.
//
// Whoever can write the data directory can therefore become administrator;
// so can whoever can read it, by reading the file. Keep it 0700.
func (l *Local) EnsureAdmin(ctx context.Context, dataDir string) error {
	path := filepath.Join(dataDir, AdminTokenFile)
	admin, err := l.st.GetIdentity(ctx, AdminID)
	created := false
	switch {
	case errors.Is(err, store.ErrNotFound):
		created = true
		admin, err = l.st.CreateIdentity(ctx, store.Identity{ID: AdminID, Name: "admin", Namespace: AdminNamespace, Admin: true})
		if errors.Is(err, store.ErrConflict) { // another instance was quicker?
			var gerr error
			if admin, gerr = l.st.GetIdentity(ctx, AdminID); gerr == nil {
				err = nil
			} else if errors.Is(gerr, store.ErrNotFound) {
				err = fmt.Errorf("namespace %q belongs to another identity: %w", AdminNamespace, err)
			}
		}
		if err != nil {
			return fmt.Errorf("identity: create administrator: %w", err)
		}
	case err != nil:
		return fmt.Errorf("identity: administrator: %w", err)
	}
	if !admin.Admin {
		return fmt.Errorf("identity: %q exists but is not an administrator; fix the metadata store", AdminID)
	}

	reason := "first start"
	switch b, err := os.ReadFile(path); {
	case err == nil:
		t, verr := l.lookup(ctx, string(bytes.TrimSpace(b)))
		if verr == nil && t.IdentityID == AdminID {
			return l.fixMode(path)
		}
		if verr != nil && errors.Is(verr, ErrUnavailable) {
			return fmt.Errorf("identity: check %s: %w", path, verr)
		}
		reason = "the file holds no valid administrator token"
	case errors.Is(err, os.ErrNotExist):
		if !created {
			reason = "the file was missing"
		}
	default:
		return fmt.Errorf("identity: read %s: %w", path, err)
	}

	token, err := l.Issue(ctx, AdminID, 0)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("identity: write admin token: %w", err)
	}
	if err := fsutil.WriteFileAtomic(path, []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("identity: write admin token: %w", err)
	}
	if reason == "first start" {
		l.o.logger.Info("administrator token written", "path", path)
	} else {
		l.o.logger.Warn("new administrator token written; earlier administrator tokens stay valid until revoked",
			"path", path, "reason", reason)
	}
	return nil
}

// fixMode makes the admin token file private if someone loosened it.
func (l *Local) fixMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("identity: %w", err)
		}
		l.o.logger.Warn("administrator token file was readable by others; mode set to 0600", "path", path)
	}
	return nil
}
