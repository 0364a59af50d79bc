package broker

import (
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// DescribeConfigs v0-v4 for topics and this broker. A topic needs
// DESCRIBE_CONFIGS on it, the broker DESCRIBE_CONFIGS on the cluster
// (ConfigHelper.handleDescribeConfigsRequest); a refused resource gets the
// error's default message and no configs.
func init() { register(32, 0, 4, handleDescribeConfigs) }

func handleDescribeConfigs(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		fail := func(code int16, msg string) { sr.ErrorCode, sr.ErrorMessage = code, &msg }
		if rt, name, e, known := configResourceAuth(int8(rr.ResourceType), rr.ResourceName); known && !r.allowed(acl.DescribeConfigs, rt, name) {
			fail(e.Code, authMessage(e))
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t := b.lookupTopic(rr.ResourceName)
			if t == nil {
				fail(kerr.UnknownTopicOrPartition.Code, "Topic "+rr.ResourceName+" does not exist.")
				break
			}
			sr.Configs = b.describeTopicConfigs(t, rr.ConfigNames, req.IncludeSynonyms, req.IncludeDocumentation)
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(nodeID)) {
				fail(kerr.InvalidRequest.Code, "Unexpected broker id "+rr.ResourceName)
				break
			}
			all := b.brokerConfigs()
			names := rr.ConfigNames
			if names == nil {
				for n := range all {
					names = append(names, n)
				}
				sort.Strings(names)
			}
			for _, n := range names {
				v, ok := all[n]
				if !ok {
					continue
				}
				rc := kmsg.NewDescribeConfigsResponseResourceConfig()
				rc.Name, rc.Value = n, kmsg.StringPtr(v)
				rc.Source = kmsg.ConfigSourceStaticBrokerConfig
				rc.ReadOnly = true
				sr.Configs = append(sr.Configs, rc)
			}
		default:
			fail(kerr.InvalidRequest.Code, "Unsupported resource type "+rr.ResourceType.String())
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}
