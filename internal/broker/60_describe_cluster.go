package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// DescribeCluster v0-v1.
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
	resp.ClusterAuthorizedOperations = -2147483648
	return resp, nil
}
