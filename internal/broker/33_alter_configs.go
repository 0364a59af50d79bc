package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// AlterConfigs v0-v2: a topic's overrides become exactly the configs given
// (the legacy, non-incremental semantics). Broker configs come from flags.
// A topic needs ALTER_CONFIGS on it, the broker ALTER_CONFIGS on the
// cluster (ControllerApis.handleLegacyAlterConfigs).
func init() { register(33, 0, 2, handleAlterConfigs) }

func handleAlterConfigs(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		if code, msg := authorizeAlterConfigs(r, rr.ResourceType, rr.ResourceName, false); code != 0 {
			sr.ErrorCode, sr.ErrorMessage = code, msg
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		configs := make(map[string]string)
		for _, c := range rr.Configs {
			if c.Value != nil {
				configs[c.Name] = *c.Value
			}
		}
		if terr := b.alterResource(rr.ResourceType, rr.ResourceName, func(map[string]string) (map[string]string, *topicErr) {
			return configs, nil
		}, req.ValidateOnly); terr != nil {
			sr.ErrorCode, sr.ErrorMessage = terr.code, &terr.msg
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}

// authorizeAlterConfigs checks ALTER_CONFIGS for a config resource (Kafka's
// authorizeAlterResource) and returns the refusal's code and message, or
// 0. BROKER_LOGGER is authorized only by the incremental API; the legacy
// one refuses it for another reason.
func authorizeAlterConfigs(r *request, kind kmsg.ConfigResourceType, name string, incremental bool) (int16, *string) {
	if kind == kmsg.ConfigResourceTypeBrokerLogger && !incremental {
		return 0, nil
	}
	rt, rname, e, known := configResourceAuth(int8(kind), name)
	if !known || r.allowed(acl.AlterConfigs, rt, rname) {
		return 0, nil
	}
	if rt == acl.Cluster {
		return e.Code, nil // Kafka 4.4 sends no message for the cluster's configs
	}
	return e.Code, kmsg.StringPtr(authMessage(e))
}

// alterResource applies change to a topic's current overrides.
func (b *Broker) alterResource(kind kmsg.ConfigResourceType, name string, change func(map[string]string) (map[string]string, *topicErr), validateOnly bool) *topicErr {
	switch kind {
	case kmsg.ConfigResourceTypeTopic:
	case kmsg.ConfigResourceTypeBroker:
		return kafkaErr(kerr.InvalidRequest, "Octopus broker configs are set by `octopus serve` flags, not AlterConfigs")
	default:
		return kafkaErr(kerr.InvalidRequest, "Unsupported resource type %v", kind)
	}
	t := b.lookupTopic(name)
	if t == nil {
		return kafkaErr(kerr.UnknownTopicOrPartition, "Topic %s does not exist.", name)
	}
	b.mu.RLock()
	cur := make(map[string]string, len(t.configs))
	for k, v := range t.configs {
		cur[k] = v
	}
	b.mu.RUnlock()
	next, terr := change(cur)
	if terr != nil {
		return terr
	}
	return b.alterTopicConfigs(t, next, validateOnly)
}
