package identity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/octofabric/octopus/internal/store"
)

// MaxNamespaceLen is the longest namespace NamespaceFor returns. Topics are
// "<namespace>.<name>" and Kafka allows 249 characters.
const MaxNamespaceLen = 64

// AdminNamespace is the namespace of the local administrator, "local:admin".
const AdminNamespace = "admin"

// reservedNamespaces are never derived from a name: "admin" belongs to the
// local administrator; the others are kept for Octopus itself (its own
// topics and future shared spaces) and for names that would mislead users
// into thinking a topic is Kafka's or the system's. Kafka's internal topics
// start with "_", which a namespace never contains.
var reservedNamespaces = map[string]bool{
	AdminNamespace: true,
	"octopus":      true,
	"kafka":        true,
	"system":       true,
	"internal":     true,
	"public":       true,
	"root":         true,
	"api":          true,
}

// IsReservedNamespace reports whether ns is one NamespaceFor never returns.
func IsReservedNamespace(ns string) bool { return reservedNamespaces[ns] }

// NamespaceFor derives a namespace from an identity's name: lower-case,
// every rune outside [a-z0-9-] replaced by '-', runs of '-' collapsed,
// '-' trimmed from both ends, at most MaxNamespaceLen bytes. A name that
// leaves nothing becomes "user-<8 hex digits of its SHA-256>"; a reserved
// result R becomes "user-R". Two names may give the same namespace: the
// caller resolves that with NamespaceCandidate.
func NamespaceFor(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	ns := trimNamespace(b.String(), MaxNamespaceLen)
	switch {
	case ns == "":
		sum := sha256.Sum256([]byte(name))
		return "user-" + hex.EncodeToString(sum[:4])
	case reservedNamespaces[ns]:
		return "user-" + ns
	}
	return ns
}

// trimNamespace cuts s to max bytes and trims '-' from both ends.
func trimNamespace(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	return strings.Trim(s, "-")
}

// NamespaceCandidate returns the n-th namespace to try for an identity
// whose preferred namespace is base (from NamespaceFor): base itself for
// n <= 1, else base with "-n" appended, cut so the whole stays within
// MaxNamespaceLen.
func NamespaceCandidate(base string, n int) string {
	if n <= 1 {
		return base
	}
	suffix := "-" + strconv.Itoa(n)
	return trimNamespace(base, MaxNamespaceLen-len(suffix)) + suffix
}

// maxNamespaceTries bounds the namespaces tried for one identity.
const maxNamespaceTries = 100

// Register returns the stored identity with id.ID, creating it first if it
// is new, with a namespace from NamespaceFor(id.Name) (a numbered
// candidate when that is taken). The REST layer calls it when an OIDC or
// introspection identity is first seen. Concurrent calls for one identity
// create it once.
func Register(ctx context.Context, st Store, id Identity) (store.Identity, error) {
	if got, err := st.GetIdentity(ctx, id.ID); err == nil {
		return got, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Identity{}, err
	}
	base := NamespaceFor(id.Name)
	for n := 1; n <= maxNamespaceTries; n++ {
		ns := NamespaceCandidate(base, n)
		if _, err := st.GetIdentityByNamespace(ctx, ns); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return store.Identity{}, err
		}
		created, err := st.CreateIdentity(ctx, store.Identity{ID: id.ID, Name: id.Name, Namespace: ns, Admin: id.Admin})
		if err == nil {
			return created, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return store.Identity{}, err
		}
		// Either another request created this identity, or took ns.
		if got, err := st.GetIdentity(ctx, id.ID); err == nil {
			return got, nil
		}
	}
	return store.Identity{}, fmt.Errorf("identity: register %q: no free namespace after %d tries from %q: %w",
		id.ID, maxNamespaceTries, base, store.ErrConflict)
}
