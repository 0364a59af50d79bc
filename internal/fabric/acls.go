package fabric

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// binding is one ALLOW ACL on host "*". As a filter (deleteACLs), an
// empty name or principal means any, and ACLOperationAny any operation.
type binding struct {
	rt        kmsg.ACLResourceType
	name      string
	pattern   kmsg.ACLResourcePatternType
	principal string
	op        kmsg.ACLOperation
}

func (b binding) String() string {
	return fmt.Sprintf("%s:%s:%s %s %s", b.rt, b.pattern, b.name, b.principal, b.op)
}

// principal is the Kafka principal of a key's username.
func principal(username string) string { return "User:" + username }

// Operations of a namespace's owner on its topics and groups, and of
// grants; see the package doc.
var (
	ownerTopicOps = []kmsg.ACLOperation{kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe,
		kmsg.ACLOperationCreate, kmsg.ACLOperationDelete, kmsg.ACLOperationAlter,
		kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs}
	ownerGroupOps = []kmsg.ACLOperation{kmsg.ACLOperationRead, kmsg.ACLOperationDescribe, kmsg.ACLOperationDelete}
	// grantOps are the operations a grant may give on a topic.
	grantOps = []kmsg.ACLOperation{kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe}
)

// namespaceBindings are the ACLs a key of namespace ns holds on it.
func namespaceBindings(ns, p string) []binding {
	var bs []binding
	for _, op := range ownerTopicOps {
		bs = append(bs, binding{kmsg.ACLResourceTypeTopic, ns + ".", kmsg.ACLResourcePatternTypePrefixed, p, op})
	}
	for _, op := range ownerGroupOps {
		bs = append(bs, binding{kmsg.ACLResourceTypeGroup, ns + ".", kmsg.ACLResourcePatternTypePrefixed, p, op})
	}
	return bs
}

// grantedOps are the topic operations access gives.
func grantedOps(a Access) []kmsg.ACLOperation {
	var ops []kmsg.ACLOperation
	if a.Read {
		ops = append(ops, kmsg.ACLOperationRead)
	}
	if a.Write {
		ops = append(ops, kmsg.ACLOperationWrite)
	}
	if a.Read || a.Write {
		ops = append(ops, kmsg.ACLOperationDescribe)
	}
	return ops
}

// topicBindings are the literal ACLs of ops on topic for principal p.
func topicBindings(topic, p string, ops []kmsg.ACLOperation) []binding {
	var bs []binding
	for _, op := range ops {
		bs = append(bs, binding{kmsg.ACLResourceTypeTopic, topic, kmsg.ACLResourcePatternTypeLiteral, p, op})
	}
	return bs
}

// createACLs creates bs (existing ones stay, as in Kafka) in one request.
func (f *Fabric) createACLs(ctx context.Context, bs []binding) error {
	if len(bs) == 0 {
		return nil
	}
	req := kmsg.NewPtrCreateACLsRequest()
	for _, b := range bs {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = b.rt, b.name, b.pattern
		c.Principal, c.Host, c.Operation, c.PermissionType = b.principal, "*", b.op, kmsg.ACLPermissionTypeAllow
		req.Creations = append(req.Creations, c)
	}
	resp, err := req.RequestWith(ctx, f.kcl)
	if err != nil {
		return kafkaErr("create ACLs", err)
	}
	for i, r := range resp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			what := "create ACL"
			if i < len(bs) {
				what += " " + bs[i].String()
			}
			return kafkaErr(what, err)
		}
	}
	return nil
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// deleteACLs deletes every ALLOW ACL matching one of the filters.
func (f *Fabric) deleteACLs(ctx context.Context, filters []binding) error {
	if len(filters) == 0 {
		return nil
	}
	req := kmsg.NewPtrDeleteACLsRequest()
	for _, b := range filters {
		d := kmsg.NewDeleteACLsRequestFilter()
		d.ResourceType, d.ResourceName, d.ResourcePatternType = b.rt, optString(b.name), b.pattern
		d.Principal, d.Host, d.Operation, d.PermissionType = optString(b.principal), nil, b.op, kmsg.ACLPermissionTypeAllow
		req.Filters = append(req.Filters, d)
	}
	resp, err := req.RequestWith(ctx, f.kcl)
	if err != nil {
		return kafkaErr("delete ACLs", err)
	}
	for _, r := range resp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return kafkaErr("delete ACLs", err)
		}
	}
	return nil
}

// principalFilter matches every ACL of principal p.
func principalFilter(p string) binding {
	return binding{kmsg.ACLResourceTypeAny, "", kmsg.ACLResourcePatternTypeAny, p, kmsg.ACLOperationAny}
}

// describeACLs returns the ALLOW ACLs of principal p as a set.
func (f *Fabric) describeACLs(ctx context.Context, p string) (map[binding]bool, error) {
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	req.Principal, req.Operation, req.PermissionType = &p, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAllow
	resp, err := req.RequestWith(ctx, f.kcl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	set := make(map[binding]bool)
	for _, r := range resp.Resources {
		for _, a := range r.ACLs {
			if a.Host == "*" {
				set[binding{r.ResourceType, r.ResourceName, r.ResourcePatternType, a.Principal, a.Operation}] = true
			}
		}
	}
	return set, nil
}

// waitACLs waits until DescribeAcls shows every binding of present and
// none of absent (all of them ACLs of principals, not filters).
func (f *Fabric) waitACLs(ctx context.Context, what string, present, absent []binding) error {
	byP := make(map[string][2][]binding)
	for _, b := range present {
		e := byP[b.principal]
		e[0] = append(e[0], b)
		byP[b.principal] = e
	}
	for _, b := range absent {
		e := byP[b.principal]
		e[1] = append(e[1], b)
		byP[b.principal] = e
	}
	return f.retry(ctx, what, func(ctx context.Context) (bool, error) {
		for p, e := range byP {
			set, err := f.describeACLs(ctx, p)
			if err != nil {
				return false, err
			}
			for _, b := range e[0] {
				if !set[b] {
					return false, fmt.Errorf("ACL %s not visible yet", b)
				}
			}
			for _, b := range e[1] {
				if set[b] {
					return false, fmt.Errorf("ACL %s still visible", b)
				}
			}
		}
		return true, nil
	})
}
