package fabric

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/store"
)

// Grant is what a topic's owner lets another identity do with it.
type Grant struct {
	Identity  string    `json:"identity"` // the grantee's identity ID
	Name      string    `json:"name"`
	Namespace string    `json:"namespace"`
	Read      bool      `json:"read"`
	Write     bool      `json:"write"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PutGrant sets what grantee (an identity ID) may do with a topic the
// caller owns, and returns the grant. Read gives READ and DESCRIBE, write
// WRITE and DESCRIBE, to every active key of the grantee and to its later
// keys; the grantee consumes in groups of its own namespace. The same call
// twice gives the same grant. The ACLs are in effect when PutGrant returns.
func (f *Fabric) PutGrant(ctx context.Context, c Caller, topic, grantee string, acc Access) (Grant, error) {
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return Grant{}, err
	}
	a, err := f.lookup(ctx, id, topic, true)
	if err != nil {
		return Grant{}, err
	}
	if grantee == id.ID {
		return Grant{}, invalid("identity", "self_grant", "the owner has all access to its topics already")
	}
	ge, err := f.store.GetIdentity(ctx, grantee)
	if isStoreNotFound(err) {
		return Grant{}, notFound("identity_not_found", "no identity %q", grantee)
	}
	if err != nil {
		return Grant{}, storeErr("get identity", err)
	}
	unlock := f.lockIdentity(ge.ID)
	defer unlock()
	// The grant is written before the keys are read (see the package doc).
	g, err := f.store.PutGrant(ctx, store.Grant{Topic: a.topic.Name, IdentityID: ge.ID, Read: acc.Read, Write: acc.Write})
	if err != nil {
		return Grant{}, storeErr("put grant", err)
	}
	if err := f.applyGrant(ctx, a.topic.Name, ge.ID, acc); err != nil {
		return Grant{}, err
	}
	f.log.Info("grant set", "topic", a.topic.Name, "grantee", ge.ID, "read", acc.Read, "write", acc.Write)
	return toGrant(g, ge), nil
}

// applyGrant makes the literal ACLs of every active key of grantee on
// topic those of acc, and waits until they are in effect.
func (f *Fabric) applyGrant(ctx context.Context, topic, grantee string, acc Access) error {
	keys, err := f.store.ListKeys(ctx, grantee, false)
	if err != nil {
		return storeErr("list keys", err)
	}
	want := grantedOps(acc)
	var present, absent, filters []binding
	for _, k := range keys {
		p := principal(k.Username)
		present = append(present, topicBindings(topic, p, want)...)
		for _, op := range grantOps {
			if !containsOp(want, op) {
				b := topicBindings(topic, p, []kmsg.ACLOperation{op})[0]
				absent = append(absent, b)
				filters = append(filters, b)
			}
		}
	}
	if err := f.createACLs(ctx, present); err != nil {
		return err
	}
	if err := f.deleteACLs(ctx, filters); err != nil {
		return err
	}
	return f.waitACLs(ctx, "apply grant", present, absent)
}

func containsOp(ops []kmsg.ACLOperation, op kmsg.ACLOperation) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

// DeleteGrant takes back everything a grant gave; deleting a grant that
// does not exist succeeds. Owner only.
func (f *Fabric) DeleteGrant(ctx context.Context, c Caller, topic, grantee string) error {
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return err
	}
	a, err := f.lookup(ctx, id, topic, true)
	if err != nil {
		return err
	}
	unlock := f.lockIdentity(grantee)
	defer unlock()
	if err := f.store.DeleteGrant(ctx, a.topic.Name, grantee); err != nil && !isStoreNotFound(err) {
		return storeErr("delete grant", err)
	}
	if err := f.applyGrant(ctx, a.topic.Name, grantee, Access{}); err != nil {
		return err
	}
	f.log.Info("grant deleted", "topic", a.topic.Name, "grantee", grantee)
	return nil
}

// ListGrants returns a topic's grants in identity order; owner only.
func (f *Fabric) ListGrants(ctx context.Context, c Caller, topic string) ([]Grant, error) {
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return nil, err
	}
	a, err := f.lookup(ctx, id, topic, true)
	if err != nil {
		return nil, err
	}
	return f.grants(ctx, a.topic.Name)
}

func (f *Fabric) grants(ctx context.Context, topic string) ([]Grant, error) {
	gs, err := f.store.ListGrants(ctx, topic)
	if err != nil {
		return nil, storeErr("list grants", err)
	}
	out := make([]Grant, 0, len(gs))
	for _, g := range gs {
		ge, err := f.store.GetIdentity(ctx, g.IdentityID)
		if err != nil && !isStoreNotFound(err) {
			return nil, storeErr("list grants", err)
		}
		if err != nil {
			ge = store.Identity{ID: g.IdentityID}
		}
		out = append(out, toGrant(g, ge))
	}
	return out, nil
}

// Access is what the grant gives.
func (g Grant) Access() Access { return Access{Read: g.Read, Write: g.Write} }

func toGrant(g store.Grant, ge store.Identity) Grant {
	return Grant{Identity: ge.ID, Name: ge.Name, Namespace: ge.Namespace, Read: g.Read, Write: g.Write,
		CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}
