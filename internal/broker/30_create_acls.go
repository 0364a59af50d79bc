package broker

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// CreateAcls v1-v3 (Kafka 4 removed v0, KIP-896), as AclApis and
// AclControlManager: ALTER on the cluster (else every creation fails with
// CLUSTER_AUTHORIZATION_FAILED), then SECURITY_DISABLED without an
// authorizer; each creation is validated on its own (INVALID_REQUEST with
// Kafka's message; see acl.Binding.ValidateNew) and the valid ones are
// stored together, durably, before the answer. Creating a binding that
// exists succeeds and changes nothing.
//
// A creation with ANY (or MATCH) where a concrete value belongs fails the
// whole request with UNKNOWN_SERVER_ERROR and no message: Kafka's broker
// cannot even build such a binding. One with an UNKNOWN (0) element makes
// the request malformed: Kafka closes the connection, and so does this
// handler. (Both checked against Kafka 4.4.)
func init() { register(30, 1, 3, handleCreateACLs) }

func handleCreateACLs(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.CreateACLsRequest)
	for _, c := range req.Creations {
		if aclHasUnknown(c.ResourceType, c.ResourcePatternType, c.Operation, c.PermissionType) {
			return nil, fmt.Errorf("%w: CreateAcls creation contains UNKNOWN elements", errMalformed)
		}
	}
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	results := make([]kmsg.CreateACLsResponseResult, len(req.Creations))
	for i := range results {
		results[i] = kmsg.NewCreateACLsResponseResult()
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
	for _, c := range req.Creations {
		if c.ResourceType == kmsg.ACLResourceTypeAny || c.ResourcePatternType == kmsg.ACLResourcePatternTypeAny ||
			c.ResourcePatternType == kmsg.ACLResourcePatternTypeMatch || c.Operation == kmsg.ACLOperationAny ||
			c.PermissionType == kmsg.ACLPermissionTypeAny {
			for i := range results {
				results[i].ErrorCode = kerr.UnknownServerError.Code
			}
			return resp, nil
		}
	}
	var valid []acl.Binding
	var validAt []int
	for i, c := range req.Creations {
		bd := acl.Binding{
			ResourceType: acl.ResourceType(c.ResourceType),
			Name:         c.ResourceName,
			Pattern:      acl.PatternType(c.ResourcePatternType),
			Principal:    c.Principal,
			Host:         c.Host,
			Operation:    acl.Operation(c.Operation),
			Permission:   acl.Permission(c.PermissionType),
		}
		if err := bd.ValidateNew(); err != nil {
			code := kerr.InvalidRequest.Code
			var ke *kerr.Error
			if errors.As(err, &ke) {
				code = ke.Code
			}
			results[i].ErrorCode, results[i].ErrorMessage = code, kmsg.StringPtr(err.Error())
			continue
		}
		results[i].ErrorMessage = kmsg.StringPtr("") // Kafka's success carries an empty message
		valid = append(valid, bd)
		validAt = append(validAt, i)
	}
	if len(valid) == 0 {
		return resp, nil
	}
	if err := b.authz.Add(valid); err != nil {
		b.logger.Error("storing ACLs", "err", err)
		code, msg := kerr.UnknownServerError.Code, "The ACLs could not be stored."
		if acl.IsInvalid(err) { // cannot happen: each was validated
			code, msg = kerr.InvalidRequest.Code, err.Error()
		}
		for _, i := range validAt {
			results[i].ErrorCode, results[i].ErrorMessage = code, kmsg.StringPtr(msg)
		}
	}
	return resp, nil
}
