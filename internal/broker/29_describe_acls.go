package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// DescribeAcls v1-v3 (Kafka 4 removed v0, KIP-896), as AclApis: DESCRIBE
// on the cluster, then SECURITY_DISABLED without an authorizer, else the
// bindings the filter selects, grouped by resource pattern. A filter with
// an UNKNOWN (0) element is malformed: Kafka cannot parse the request and
// closes the connection, and so does this handler. Other unknown values
// are answered INVALID_REQUEST.
func init() { register(29, 1, 3, handleDescribeACLs) }

func handleDescribeACLs(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeACLsRequest)
	if aclHasUnknown(req.ResourceType, req.ResourcePatternType, req.Operation, req.PermissionType) {
		return nil, fmt.Errorf("%w: DescribeAcls filter contains UNKNOWN elements", errMalformed)
	}
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	fail := func(e *kerr.Error, msg string) (kmsg.Response, error) {
		resp.ErrorCode, resp.ErrorMessage = e.Code, &msg
		return resp, nil
	}
	if !r.allowedCluster(acl.Describe) {
		return fail(kerr.ClusterAuthorizationFailed, msgClusterAuthFailed)
	}
	if b.authz == nil {
		return fail(kerr.SecurityDisabled, "No Authorizer is configured on the broker")
	}
	f := acl.Filter{
		ResourceType: acl.ResourceType(req.ResourceType),
		Name:         req.ResourceName,
		Pattern:      acl.PatternType(req.ResourcePatternType),
		Principal:    req.Principal,
		Host:         req.Host,
		Operation:    acl.Operation(req.Operation),
		Permission:   acl.Permission(req.PermissionType),
	}
	if err := f.Validate(); err != nil {
		return fail(kerr.InvalidRequest, err.Error())
	}
	resp.ErrorMessage = kmsg.StringPtr("") // as Kafka answers success
	// Match returns bindings sorted by resource type, pattern and name,
	// so each resource's bindings are adjacent.
	for _, bd := range b.authz.Match(f) {
		n := len(resp.Resources)
		if n == 0 || resp.Resources[n-1].ResourceType != kmsg.ACLResourceType(bd.ResourceType) ||
			resp.Resources[n-1].ResourcePatternType != kmsg.ACLResourcePatternType(bd.Pattern) ||
			resp.Resources[n-1].ResourceName != bd.Name {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType = kmsg.ACLResourceType(bd.ResourceType)
			res.ResourceName = bd.Name
			res.ResourcePatternType = kmsg.ACLResourcePatternType(bd.Pattern)
			resp.Resources = append(resp.Resources, res)
			n++
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host = bd.Principal, bd.Host
		a.Operation = kmsg.ACLOperation(bd.Operation)
		a.PermissionType = kmsg.ACLPermissionType(bd.Permission)
		resp.Resources[n-1].ACLs = append(resp.Resources[n-1].ACLs, a)
	}
	return resp, nil
}

// aclHasUnknown reports an UNKNOWN (0) enum element, which Kafka's ACL
// request classes refuse while parsing (the connection is closed).
func aclHasUnknown(rt kmsg.ACLResourceType, pt kmsg.ACLResourcePatternType, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) bool {
	return rt == 0 || pt == 0 || op == 0 || perm == 0
}
