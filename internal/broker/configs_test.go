package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestAlterConfigsPersistAndApply(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	b, addr := startBroker(t, dir, nil)
	adm := kadm.NewClient(newClient(t, addr))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "cfg"); err != nil {
		t.Fatal(err)
	}
	describe := func(adm *kadm.Client) map[string]string {
		rc, err := adm.DescribeTopicConfigs(ctx, "cfg")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, c := range rc[0].Configs {
			out[c.Key] = c.MaybeValue()
		}
		return out
	}
	alter := func(ops ...kadm.AlterConfig) error {
		resp, err := adm.AlterTopicConfigs(ctx, ops, "cfg")
		if err != nil {
			return err
		}
		return resp[0].Err
	}
	if err := alter(kadm.AlterConfig{Name: "retention.ms", Value: kadm.StringPtr("1000")},
		kadm.AlterConfig{Name: "message.timestamp.type", Value: kadm.StringPtr("LogAppendTime")}); err != nil {
		t.Fatal(err)
	}
	if got := describe(adm); got["retention.ms"] != "1000" {
		t.Fatalf("retention.ms after SET: %q", got["retention.ms"])
	}
	if err := alter(kadm.AlterConfig{Name: "cleanup.policy", Value: kadm.StringPtr("compact")}); err != kerr.InvalidConfig {
		t.Fatalf("compact: %v", err)
	}
	if err := alter(kadm.AlterConfig{Name: "no.such.config", Value: kadm.StringPtr("1")}); err != kerr.InvalidConfig {
		t.Fatalf("unknown config: %v", err)
	}
	if err := alter(kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"}); err != nil {
		t.Fatal(err)
	}

	// LogAppendTime is applied: the broker's clock stamps the record.
	cl := newClient(t, addr)
	before := time.Now().Add(-time.Second)
	r := &kgo.Record{Topic: "cfg", Value: []byte("x"), Timestamp: time.UnixMilli(1)}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cons := newClient(t, addr, kgo.ConsumeTopics("cfg"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := cons.PollFetches(ctx)
	if fs.NumRecords() != 1 || fs.Records()[0].Timestamp.Before(before) || fs.Records()[0].Attrs.TimestampType() != 1 {
		t.Fatalf("record not stamped with the log append time: %+v", fs.Records())
	}

	b.Close()
	_, addr = startBroker(t, dir, nil)
	adm = kadm.NewClient(newClient(t, addr))
	got := describe(adm)
	if got["retention.ms"] != "604800000" || got["message.timestamp.type"] != "LogAppendTime" {
		t.Fatalf("configs after restart: retention.ms=%s message.timestamp.type=%s", got["retention.ms"], got["message.timestamp.type"])
	}

	// Legacy AlterConfigs replaces the whole set of overrides.
	req := kmsg.NewPtrAlterConfigsRequest()
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "cfg"
	rc := kmsg.NewAlterConfigsRequestResourceConfig()
	rc.Name, rc.Value = "retention.bytes", kmsg.StringPtr("5000")
	rr.Configs = append(rr.Configs, rc)
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctx, newClient(t, addr))
	if err != nil || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("AlterConfigs: %v %v", resp, err)
	}
	got = describe(adm)
	if got["retention.bytes"] != "5000" || got["message.timestamp.type"] != "CreateTime" {
		t.Fatalf("after AlterConfigs: retention.bytes=%s message.timestamp.type=%s", got["retention.bytes"], got["message.timestamp.type"])
	}
}
