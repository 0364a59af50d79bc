package broker

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/broker/group"
)

// TestGroupBadInput drives the coordinator over the wire with requests a
// confused or hostile client might send; each gets Kafka's error code and
// the broker keeps serving.
func TestGroupBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, addr := startBroker(t, t.TempDir(), func(c *Config) { c.Groups = group.Config{InitialRebalanceDelay: -1} })
	cl := newClient(t, addr)

	join := func(member, protocolType string, metadata []byte) *kmsg.JoinGroupResponse {
		t.Helper()
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.ProtocolType = "bad", member, protocolType
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10000, 10000
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", metadata
		req.Protocols = append(req.Protocols, p)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// Oversized (1 MiB) member metadata is carried through to the leader.
	big := bytes.Repeat([]byte{7}, 1<<20)
	first := join("", "consumer", big)
	if first.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("first join: %d", first.ErrorCode)
	}
	leader := join(first.MemberID, "consumer", big)
	if leader.ErrorCode != 0 || len(leader.Members) != 1 || !bytes.Equal(leader.Members[0].ProtocolMetadata, big) {
		t.Fatalf("join with 1 MiB metadata: code %d, %d members", leader.ErrorCode, len(leader.Members))
	}
	// A different protocol type cannot join the group.
	if resp := join("", "connect", nil); resp.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("other protocol type: code %d", resp.ErrorCode)
	}

	// A heartbeat storm: stale generation, unknown member, and the real one.
	for i := 0; i < 2000; i++ {
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation = "bad", leader.MemberID, leader.Generation
		want := int16(0)
		switch i % 3 {
		case 1:
			hb.Generation = leader.Generation + 5
			want = kerr.IllegalGeneration.Code
		case 2:
			hb.MemberID = "ghost"
			want = kerr.UnknownMemberID.Code
		}
		resp, err := hb.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ErrorCode != want {
			t.Fatalf("heartbeat %d: code %d, want %d", i, resp.ErrorCode, want)
		}
	}
	// SyncGroup from a stale generation and from an unknown member.
	for _, tc := range []struct {
		member string
		gen    int32
		want   int16
	}{
		{leader.MemberID, leader.Generation - 1, kerr.IllegalGeneration.Code},
		{"ghost", leader.Generation, kerr.UnknownMemberID.Code},
	} {
		sr := kmsg.NewPtrSyncGroupRequest()
		sr.Group, sr.MemberID, sr.Generation = "bad", tc.member, tc.gen
		resp, err := sr.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ErrorCode != tc.want {
			t.Errorf("sync(%s, %d): code %d, want %d", tc.member, tc.gen, resp.ErrorCode, tc.want)
		}
	}
	// The broker still serves ordinary traffic.
	if err := newClient(t, addr, kgo.AllowAutoTopicCreation()).ProduceSync(ctx, &kgo.Record{Topic: "still-up", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}
