package fabric

import (
	"context"
	"strings"

	"github.com/octofabric/octopus/internal/identity"
	"github.com/octofabric/octopus/internal/store"
)

// Me is what GET /api/v1/me answers.
type Me struct {
	Identity  string `json:"identity"` // the identity's ID, as used in grant paths
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Admin     bool   `json:"admin"`
}

// Me returns the caller's identity and namespace, registering the caller
// on first sight.
func (f *Fabric) Me(ctx context.Context, c Caller) (Me, error) {
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return Me{}, err
	}
	return Me{Identity: id.ID, Name: id.Name, Namespace: id.Namespace, Admin: id.Admin}, nil
}

// EnsureIdentity returns the stored identity of c, creating it first when
// c is new, with a namespace derived from c.Name (with a numeric suffix
// when taken): identity.Register, so that the rule lives in one place.
func (f *Fabric) EnsureIdentity(ctx context.Context, c Caller) (store.Identity, error) {
	if strings.TrimSpace(c.ID) == "" {
		return store.Identity{}, &Error{Kind: Unauthenticated, Code: "no_identity", Message: "no caller identity"}
	}
	id, err := identity.Register(ctx, f.store, identity.Identity{ID: c.ID, Name: c.Name, Admin: c.Admin})
	if err != nil {
		return store.Identity{}, storeErr("register identity", err)
	}
	return id, nil
}
