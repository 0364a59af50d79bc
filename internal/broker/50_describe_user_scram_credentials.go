package broker

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// DescribeUserScramCredentials v0, as KafkaApis and ScramImage.describe:
// DESCRIBE on the cluster; served with or without an authorizer. No users
// (null or empty) means every user with a credential; a named user without
// one is RESOURCE_NOT_FOUND, a user named twice DUPLICATE_RESOURCE.
func init() { register(50, 0, 0, handleDescribeUserSCRAMCredentials) }

func handleDescribeUserSCRAMCredentials(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !r.allowedCluster(acl.Describe) {
		// DescribeUserScramCredentialsRequest.getErrorResponse: the error
		// at the top and once per requested user (without the name), with
		// no message (checked against Kafka 4.4).
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		for range req.Users {
			res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
			res.ErrorCode = resp.ErrorCode
			resp.Results = append(resp.Results, res)
		}
		return resp, nil
	}
	resp.ErrorMessage = kmsg.StringPtr("") // Kafka's success carries empty messages
	var users []string
	dup := make(map[string]bool)
	for _, u := range req.Users {
		if _, seen := dup[u.Name]; seen {
			dup[u.Name] = true
			continue
		}
		dup[u.Name] = false
		users = append(users, u.Name)
	}
	infos := b.creds.Describe(users)
	if len(users) == 0 {
		for u := range infos {
			users = append(users, u)
		}
		sort.Strings(users)
	}
	for _, u := range users {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = u
		switch {
		case dup[u]:
			res.ErrorCode = kerr.DuplicateResource.Code
			res.ErrorMessage = kmsg.StringPtr("Cannot describe SCRAM credentials for the same user twice in a single request: " + u)
		case len(infos[u]) == 0:
			res.ErrorCode = kerr.ResourceNotFound.Code
			res.ErrorMessage = kmsg.StringPtr("Attempt to describe a user credential that does not exist: " + u)
		default:
			res.ErrorMessage = kmsg.StringPtr("")
			for _, in := range infos[u] {
				ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				ci.Mechanism, ci.Iterations = int8(in.Mechanism), int32(in.Iterations)
				res.CredentialInfos = append(res.CredentialInfos, ci)
			}
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}
