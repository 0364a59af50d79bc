package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// DescribeCluster v0-v1. Kafka answers it for any principal
// (AuthHelper.computeDescribeClusterResponse); only the cluster's
// authorized operations, when asked for, depend on DESCRIBE on the
// cluster: 0 without it.
func init() { register(60, 0, 1, handleDescribeCluster) }

func handleDescribeCluster(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.ClusterID = b.clusterID
	resp.ControllerID = nodeID
	resp.EndpointType = 1 // brokers
	host, port := r.c.advertised()
	br := kmsg.NewDescribeClusterResponseBroker()
	br.NodeID, br.Host, br.Port = nodeID, host, port
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{br}
	resp.ClusterAuthorizedOperations = authorizedOpsOmitted
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = 0
		if r.allowedCluster(acl.Describe) {
			resp.ClusterAuthorizedOperations = r.authorizedOps(acl.Cluster, acl.ClusterName, clusterOps...)
		}
	}
	return resp, nil
}
