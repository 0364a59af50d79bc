package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AlterConfigs v0-v2: a topic's overrides become exactly the configs given
// (the legacy, non-incremental semantics). Broker configs come from flags.
func init() { register(33, 0, 2, handleAlterConfigs) }

func handleAlterConfigs(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
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
