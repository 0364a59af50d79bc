package broker

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/octofabric/octopus/internal/log"
)

// IncrementalAlterConfigs v0-v1: SET, DELETE (back to the default), APPEND
// and SUBTRACT (list configs) on a topic's overrides. Authorized as
// AlterConfigs (ALTER_CONFIGS; BROKER_LOGGER on the cluster too).
func init() { register(44, 0, 1, handleIncrementalAlterConfigs) }

func handleIncrementalAlterConfigs(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		if code, msg := authorizeAlterConfigs(r, rr.ResourceType, rr.ResourceName, true); code != 0 {
			sr.ErrorCode, sr.ErrorMessage = code, msg
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		terr := b.alterResource(rr.ResourceType, rr.ResourceName, func(cur map[string]string) (map[string]string, *topicErr) {
			return applyIncremental(cur, rr.Configs)
		}, req.ValidateOnly)
		if terr != nil {
			sr.ErrorCode, sr.ErrorMessage = terr.code, &terr.msg
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil
}

func applyIncremental(cur map[string]string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig) (map[string]string, *topicErr) {
	seen := make(map[string]bool)
	for _, op := range ops {
		if seen[op.Name] {
			return nil, kafkaErr(kerr.InvalidRequest, "Error due to duplicate config keys")
		}
		seen[op.Name] = true
		tc, known := topicConfigs[op.Name]
		if !known {
			return nil, kafkaErr(kerr.InvalidConfig, "Unknown or unsupported topic config name: %s", op.Name)
		}
		value := ""
		if op.Value != nil {
			value = *op.Value
		}
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if op.Value == nil {
				return nil, kafkaErr(kerr.InvalidRequest, "Null value not supported for: %s", op.Name)
			}
			cur[op.Name] = value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(cur, op.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if tc.kind != kmsg.ConfigTypeList {
				return nil, kafkaErr(kerr.InvalidConfig, "Config value append/subtract is not allowed for config key %s", op.Name)
			}
			list := splitList(cur[op.Name])
			if _, set := cur[op.Name]; !set {
				list = splitList(tc.def(plog.Config{})) // list defaults do not depend on the log config
			}
			for _, v := range splitList(value) {
				i := slices.Index(list, v)
				switch {
				case op.Op == kmsg.IncrementalAlterConfigOpAppend && i < 0:
					list = append(list, v)
				case op.Op == kmsg.IncrementalAlterConfigOpSubtract && i >= 0:
					list = slices.Delete(list, i, i+1)
				}
			}
			cur[op.Name] = strings.Join(list, ",")
		default:
			return nil, kafkaErr(kerr.InvalidRequest, "Unknown operation %d", op.Op)
		}
	}
	return cur, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
