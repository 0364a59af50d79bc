package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDescribeClientQuotas(t *testing.T) {
	quotas := func(t *testing.T, c *rawClient, entityType string) *kmsg.DescribeClientQuotasResponse {
		t.Helper()
		req := kmsg.NewPtrDescribeClientQuotasRequest()
		comp := kmsg.NewDescribeClientQuotasRequestComponent()
		comp.EntityType, comp.MatchType = entityType, 2 // any
		req.Components = append(req.Components, comp)
		resp, err := c.do(req, 1)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.DescribeClientQuotasResponse)
	}
	_, addr := startBroker(t, t.TempDir(), nil)
	c := dialRaw(t, addr)
	if r := quotas(t, c, "user"); r.ErrorCode != 0 || r.Entries == nil || len(r.Entries) != 0 {
		t.Fatalf("user quotas: error %d, entries %v; want none", r.ErrorCode, r.Entries)
	}
	if r := quotas(t, c, "printer"); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("unknown entity type: error %d, want INVALID_REQUEST", r.ErrorCode)
	}

	_, saddr, _ := startSaslBroker(t, func(c *Config) { c.Security.Authorize = true }, "alice")
	sc := dialRaw(t, saddr)
	sc.scramLogin("alice", "alice-secret")
	if r := quotas(t, sc, "user"); r.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("without DESCRIBE_CONFIGS on the cluster: error %d, want CLUSTER_AUTHORIZATION_FAILED", r.ErrorCode)
	}
}
