package acl

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Authorizer answers "may this principal do this" with the semantics of
// Kafka 4's StandardAuthorizer (org.apache.kafka.metadata.authorizer.
// StandardAuthorizerData) and holds the bindings in memory.
//
// Concurrency: readers (Authorize, AuthorizeByResourceType, Match,
// Bindings) load an immutable snapshot through an atomic.Pointer and take
// no lock. Writers (Add, Delete, and the Store's methods) are serialised by
// mu, build a new snapshot from the old one — sharing all it does not
// change, so a change costs in proportion to its size, not to the number
// of bindings (see snapshot.apply) — and publish it with one atomic store;
// a reader sees either all of a change or none of it.
type Authorizer struct {
	mu   sync.Mutex // serialises writers; readers never take it
	snap atomic.Pointer[snapshot]

	superUsers   map[string]struct{} // immutable after New
	allowNoACL   bool                // allow.everyone.if.no.acl.found
	superUserLst []string
}

// Option configures an Authorizer or a Store.
type Option func(*Authorizer)

// WithSuperUsers sets principals ("User:admin") that are allowed everything,
// whatever the ACLs say (Kafka's super.users).
func WithSuperUsers(principals ...string) Option {
	return func(a *Authorizer) {
		for _, p := range principals {
			a.superUsers[p] = struct{}{}
			a.superUserLst = append(a.superUserLst, p)
		}
	}
}

// WithAllowEveryoneIfNoACL sets Kafka's allow.everyone.if.no.acl.found: a
// resource with no binding at all (for any principal) is then open to
// everyone. The default, false, denies anything no ALLOW binding grants.
func WithAllowEveryoneIfNoACL(v bool) Option {
	return func(a *Authorizer) { a.allowNoACL = v }
}

// New returns an in-memory Authorizer with no bindings.
func New(opts ...Option) *Authorizer {
	a := &Authorizer{superUsers: make(map[string]struct{})}
	for _, o := range opts {
		o(a)
	}
	a.snap.Store(buildSnapshot(nil))
	return a
}

// SuperUsers returns the configured superusers.
func (a *Authorizer) SuperUsers() []string { return slices.Clone(a.superUserLst) }

// IsSuperUser reports whether principal is a configured superuser.
func (a *Authorizer) IsSuperUser(principal string) bool {
	_, ok := a.superUsers[principal]
	return ok
}

// Authorize reports whether principal, connected from host, may perform op
// on the resource (rt, name). It follows StandardAuthorizerData.authorize:
//
//   - a superuser is always allowed;
//   - the bindings considered are Literal ones with exactly this name, the
//     Literal wildcard "*", and Prefixed ones whose name is a prefix of name;
//   - a binding applies if its principal is principal or "User:*" and its
//     host is host or "*";
//   - an applicable DENY whose operation is op or ALL denies, whatever else
//     matches (deny wins);
//   - an applicable ALLOW grants if its operation is op or ALL, or implies op:
//     READ, WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies
//     DESCRIBE_CONFIGS (findResult: implication applies to ALLOW only, so a
//     DENY WRITE does not deny DESCRIBE);
//   - otherwise denied (unless WithAllowEveryoneIfNoACL and the resource has
//     no binding at all).
//
// The authorizer itself never turns WRITE into IDEMPOTENT_WRITE: since
// KIP-679 that is a rule of the InitProducerId handler; see
// AuthorizeIdempotentWrite. host is compared as a string: pass the client
// address formatted the way bindings are written (e.g. "10.0.0.7").
// Authorize does not allocate.
func (a *Authorizer) Authorize(principal, host string, op Operation, rt ResourceType, name string) bool {
	if _, ok := a.superUsers[principal]; ok {
		return true
	}
	if op <= AnyOperation || rt < 0 || int(rt) >= numResourceTypes {
		return false
	}
	ti := a.snap.Load().types[rt]
	if ti == nil {
		return a.allowNoACL
	}
	// One walk down the name's path visits every Prefixed binding whose
	// name is a prefix of name, then the Literal ones with exactly name.
	var allowed, seen bool
	for n := ti.root; ; {
		if len(n.val.pre) > 0 {
			seen = true
			if scan(n.val.pre, principal, host, op, &allowed) {
				return false
			}
		}
		d := len(n.key)
		if d == len(name) {
			if len(n.val.lit) > 0 {
				seen = true
				if scan(n.val.lit, principal, host, op, &allowed) {
					return false
				}
			}
			break
		}
		k := n.kid(name[d]) // on to the kid on name's path if its key is a prefix of name
		if k == nil || len(k.key) > len(name) || name[d+1:len(k.key)] != k.key[d+1:] {
			break
		}
		n = k
	}
	if len(ti.wildcard) > 0 && name != WildcardResource { // "*" itself was just scanned
		seen = true
		if scan(ti.wildcard, principal, host, op, &allowed) {
			return false
		}
	}
	if allowed {
		return true
	}
	return !seen && a.allowNoACL
}

// scan applies es to the request; it reports whether a DENY applies and
// sets *allowed if an ALLOW does (StandardAuthorizerData.findResult).
func scan(es []entry, principal, host string, op Operation, allowed *bool) (denied bool) {
	for i := range es {
		e := &es[i]
		if e.principal != principal && e.principal != WildcardPrincipal {
			continue
		}
		if e.host != WildcardHost && e.host != host {
			continue
		}
		if e.perm == Deny {
			if e.op == All || e.op == op {
				return true
			}
			continue
		}
		if e.op == All || e.op == op || implies(e.op, op) {
			*allowed = true
		}
	}
	return false
}

// implies reports whether an ALLOW for granted also allows op
// (IMPLIES_DESCRIBE and IMPLIES_DESCRIBE_CONFIGS in StandardAuthorizerData).
func implies(granted, op Operation) bool {
	switch op {
	case Describe:
		return granted == Read || granted == Write || granted == Delete || granted == Alter
	case DescribeConfigs:
		return granted == AlterConfigs
	}
	return false
}

// AuthorizeByResourceType reports whether principal may perform op on at
// least one resource of type rt, as Kafka's Authorizer.authorizeByResourceType
// (org.apache.kafka.server.authorizer.DefaultResourceTypeBasedAuthorization)
// decides it. Kafka uses it where a request does not name a resource yet:
// InitProducerId without a transactional id (WRITE on any topic) and
// DescribeProducers/ListTransactions-style checks. The rules, Kafka's:
//
//   - allowed if Authorize allows op on a Literal resource named "hardcode"
//     (Kafka's way of letting superusers and the "*" wildcard through; it
//     applies operation implication and prefix matching like any Authorize);
//   - otherwise only bindings with operation op or ALL count (no implication),
//     principal equal or "User:*", host equal or "*";
//   - a DENY on the Literal wildcard "*" denies;
//   - an ALLOW on the Literal wildcard "*" allows;
//   - otherwise allowed if some ALLOW pattern is not dominated by a DENY: a
//     Literal allow is dominated by a Literal deny of the same name, and any
//     allow is dominated by a Prefixed deny that is a prefix of its name.
func (a *Authorizer) AuthorizeByResourceType(principal, host string, op Operation, rt ResourceType) bool {
	if op <= AnyOperation || rt <= AnyResource || int(rt) >= numResourceTypes {
		return false // Kafka: SecurityUtils.authorizeByResourceTypeCheckArgs throws
	}
	if a.Authorize(principal, host, op, rt, "hardcode") {
		return true
	}
	ti := a.snap.Load().types[rt]
	if ti == nil {
		return false
	}
	applies := func(e entry) bool {
		return (e.host == host || e.host == WildcardHost) &&
			(e.principal == principal || e.principal == WildcardPrincipal) &&
			(e.op == op || e.op == All)
	}
	for _, e := range ti.wildcard {
		if applies(e) && e.perm == Deny {
			return false
		}
	}
	for _, e := range ti.wildcard {
		if applies(e) && e.perm == Allow {
			return true
		}
	}
	// Collect deny patterns, then look for an undominated allow. (An
	// applicable Literal "*" entry has decided already, above.)
	denyLiteral := map[string]bool{}
	denyPrefixed := map[string]bool{}
	ti.root.each(func(n *node[entries]) bool {
		for _, e := range n.val.lit {
			if applies(e) && e.perm == Deny {
				denyLiteral[n.key] = true
			}
		}
		for _, e := range n.val.pre {
			if applies(e) && e.perm == Deny {
				denyPrefixed[n.key] = true
			}
		}
		return true
	})
	dominated := func(name string) bool {
		for i := 1; i <= len(name); i++ {
			if denyPrefixed[name[:i]] {
				return true
			}
		}
		return false
	}
	found := false
	ti.root.each(func(n *node[entries]) bool {
		for _, e := range n.val.lit {
			if applies(e) && e.perm == Allow && !denyLiteral[n.key] && !dominated(n.key) {
				found = true
				return false
			}
		}
		for _, e := range n.val.pre {
			if applies(e) && e.perm == Allow && !dominated(n.key) {
				found = true
				return false
			}
		}
		return true
	})
	return found
}

// AuthorizeIdempotentWrite is Kafka's check for InitProducerId without a
// transactional id (KafkaApis.handleInitProducerIdRequest, KIP-679, Kafka ≥
// 3.0): IDEMPOTENT_WRITE on the cluster, or WRITE on any topic
// (AuthorizeByResourceType). Produce itself no longer checks
// IDEMPOTENT_WRITE.
func (a *Authorizer) AuthorizeIdempotentWrite(principal, host string) bool {
	return a.Authorize(principal, host, IdempotentWrite, Cluster, ClusterName) ||
		a.AuthorizeByResourceType(principal, host, Write, Topic)
}

// Bindings returns all bindings, sorted. The slice must not be modified.
// The first call after a change costs O(bindings); later ones are free.
func (a *Authorizer) Bindings() []Binding { return a.snap.Load().all() }

// Match returns the bindings f selects (DescribeAcls), sorted. A filter
// with a name or a principal looks only at that name's or principal's
// bindings; others scan all.
func (a *Authorizer) Match(f Filter) []Binding { return a.snap.Load().match(f) }

// Add validates bs and adds them; bindings already present are ignored, as
// Kafka does. If any binding is invalid nothing is added and the first
// validation error (an *InvalidError) is returned; callers answering
// CreateAcls should Validate each binding first to report per entry.
func (a *Authorizer) Add(bs []Binding) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := a.snap.Load()
	c, err := planAdd(cur, bs)
	if err != nil {
		return err
	}
	a.publishLocked(cur, c)
	return nil
}

// Delete removes every binding selected by any of filters and returns, per
// filter, the bindings it selected (DeleteAcls). As in Kafka's
// AclControlManager.deleteAcls, each filter is matched against the bindings
// as they were before the call, so a binding selected by two filters is
// reported under both. Filters are validated first; on an invalid filter
// nothing is removed. Kafka answers an invalid filter with an error for that
// filter only and still applies the others, so a DeleteAcls handler should
// Validate each filter and pass only the valid ones.
func (a *Authorizer) Delete(filters []Filter) ([][]Binding, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := a.snap.Load()
	removed, c, err := planDelete(cur, filters)
	if err != nil {
		return nil, err
	}
	a.publishLocked(cur, c)
	return removed, nil
}

// publishLocked makes cur changed by c the snapshot readers see.
func (a *Authorizer) publishLocked(cur *snapshot, c change) {
	if !c.empty() {
		a.snap.Store(cur.apply(c))
	}
}
