package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// DeleteAcls v1-v3 (Kafka 4 removed v0, KIP-896), as AclApis and
// AclControlManager: ALTER on the cluster (else every filter fails with
// CLUSTER_AUTHORIZATION_FAILED), then SECURITY_DISABLED without an
// authorizer; an invalid filter fails on its own (INVALID_REQUEST) and the
// others are applied together, durably. A filter with an UNKNOWN (0)
// element makes the request malformed: Kafka closes the connection, and so
// does this handler. Each filter reports the bindings
// it matched before the call, so a binding two filters select appears
// under both.
func init() { register(31, 1, 3, handleDeleteACLs) }

func handleDeleteACLs(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteACLsRequest)
	for _, f := range req.Filters {
		if aclHasUnknown(f.ResourceType, f.ResourcePatternType, f.Operation, f.PermissionType) {
			return nil, fmt.Errorf("%w: DeleteAcls filter contains UNKNOWN elements", errMalformed)
		}
	}
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	results := make([]kmsg.DeleteACLsResponseResult, len(req.Filters))
	for i := range results {
		results[i] = kmsg.NewDeleteACLsResponseResult()
	}
	resp.Results = results
	failAll := func(e *kerr.Error, msg string) (kmsg.Response, error) {
		for i := range results {
			results[i].ErrorCode, results[i].ErrorMessage = e.Code, kmsg.StringPtr(msg)
		}
		return resp, nil
	}
	if !r.allowedCluster(acl.Alter) {
		return failAll(kerr.ClusterAuthorizationFailed, msgClusterAuthFailed)
	}
	if b.authz == nil {
		return failAll(kerr.SecurityDisabled, "No Authorizer is configured.")
	}
	var valid []acl.Filter
	var validAt []int
	for i, f := range req.Filters {
		af := acl.Filter{
			ResourceType: acl.ResourceType(f.ResourceType),
			Name:         f.ResourceName,
			Pattern:      acl.PatternType(f.ResourcePatternType),
			Principal:    f.Principal,
			Host:         f.Host,
			Operation:    acl.Operation(f.Operation),
			Permission:   acl.Permission(f.PermissionType),
		}
		if err := af.Validate(); err != nil {
			results[i].ErrorCode, results[i].ErrorMessage = kerr.InvalidRequest.Code, kmsg.StringPtr(err.Error())
			continue
		}
		valid = append(valid, af)
		validAt = append(validAt, i)
	}
	if len(valid) == 0 {
		return resp, nil
	}
	removed, err := b.authz.DeleteFiltered(valid)
	if err != nil {
		b.logger.Error("deleting ACLs", "err", err)
		for _, i := range validAt {
			results[i].ErrorCode, results[i].ErrorMessage = kerr.UnknownServerError.Code, kmsg.StringPtr("The ACLs could not be deleted.")
		}
		return resp, nil
	}
	for k, i := range validAt {
		for _, bd := range removed[k] {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType = kmsg.ACLResourceType(bd.ResourceType)
			m.ResourceName = bd.Name
			m.ResourcePatternType = kmsg.ACLResourcePatternType(bd.Pattern)
			m.Principal, m.Host = bd.Principal, bd.Host
			m.Operation = kmsg.ACLOperation(bd.Operation)
			m.PermissionType = kmsg.ACLPermissionType(bd.Permission)
			results[i].MatchingACLs = append(results[i].MatchingACLs, m)
		}
	}
	return resp, nil
}
