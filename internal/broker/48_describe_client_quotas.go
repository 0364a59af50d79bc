package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// DescribeClientQuotas v0-v1. Octopus enforces no client quotas, so every
// valid filter matches nothing. Kafka's tools need the API all the same:
// `kafka-configs --describe --entity-type users` asks for quotas before it
// lists SCRAM credentials. AlterClientQuotas is not served.
func init() { register(48, 0, 1, handleDescribeClientQuotas) }

// quotaEntityTypes are the entity types Kafka knows.
var quotaEntityTypes = map[string]bool{"user": true, "client-id": true, "ip": true}

func handleDescribeClientQuotas(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	if !r.allowedCluster(acl.DescribeConfigs) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	seen := map[string]bool{}
	for _, c := range req.Components {
		msg := ""
		switch {
		case !quotaEntityTypes[c.EntityType]:
			msg = "Custom entity type '" + c.EntityType + "' not supported"
		case seen[c.EntityType]:
			msg = "Duplicate " + c.EntityType + " filter component entity type"
		case c.MatchType < 0 || c.MatchType > 2:
			msg = "Unknown match type"
		case c.MatchType == 0 && c.Match == nil:
			msg = "Exact match requires a name"
		}
		if msg != "" {
			resp.ErrorCode = kerr.InvalidRequest.Code
			resp.ErrorMessage = &msg
			return resp, nil
		}
		seen[c.EntityType] = true
	}
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	return resp, nil
}
