package group

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTestCoordinator(t *testing.T, mod func(*Config)) *Coordinator {
	t.Helper()
	cfg := Config{MinSessionTimeout: time.Millisecond, InitialRebalanceDelay: -1, Logger: quiet()}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func joinReq(member string, session, rebalance time.Duration) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.SetVersion(9)
	req.Group, req.MemberID = "g", member
	req.SessionTimeoutMillis = int32(session.Milliseconds())
	req.RebalanceTimeoutMillis = int32(rebalance.Milliseconds())
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte{1}
	req.Protocols = append(req.Protocols, p)
	return req
}

// join runs the two-step KIP-394 join and returns the final response.
func join(t *testing.T, c *Coordinator, session, rebalance time.Duration) *kmsg.JoinGroupResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := c.Join(ctx, joinReq("", session, rebalance), "client", "/127.0.0.1")
	if first.ErrorCode != kerr.MemberIDRequired.Code || first.MemberID == "" {
		t.Fatalf("first join: code %d member %q", first.ErrorCode, first.MemberID)
	}
	return c.Join(ctx, joinReq(first.MemberID, session, rebalance), "client", "/127.0.0.1")
}

func syncReq(member string, gen int32, assign map[string][]byte) *kmsg.SyncGroupRequest {
	req := kmsg.NewPtrSyncGroupRequest()
	req.SetVersion(5)
	req.Group, req.MemberID, req.Generation = "g", member, gen
	for m, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = m, a
		req.GroupAssignment = append(req.GroupAssignment, ga)
	}
	return req
}

func heartbeat(c *Coordinator, member string, gen int32) int16 {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.Generation = "g", member, gen
	return c.Heartbeat(req).ErrorCode
}

func TestJoinSyncHeartbeatLeave(t *testing.T) {
	c := newTestCoordinator(t, nil)
	ctx := context.Background()
	a := join(t, c, time.Minute, time.Minute)
	if a.ErrorCode != 0 || a.Generation != 1 || a.LeaderID != a.MemberID || len(a.Members) != 1 {
		t.Fatalf("join a: %+v", a)
	}
	s := c.Sync(ctx, syncReq(a.MemberID, 1, map[string][]byte{a.MemberID: []byte("all")}))
	if s.ErrorCode != 0 || string(s.MemberAssignment) != "all" {
		t.Fatalf("sync a: %+v", s)
	}
	if code := heartbeat(c, a.MemberID, 1); code != 0 {
		t.Fatalf("heartbeat: %d", code)
	}
	for _, tc := range []struct {
		member string
		gen    int32
		want   int16
	}{
		{a.MemberID, 0, kerr.IllegalGeneration.Code},
		{"nobody", 1, kerr.UnknownMemberID.Code},
	} {
		if code := heartbeat(c, tc.member, tc.gen); code != tc.want {
			t.Errorf("heartbeat(%s, %d) = %d, want %d", tc.member, tc.gen, code, tc.want)
		}
	}

	// A second member starts a rebalance: a's heartbeat says so, and a
	// rejoins; both land in generation 2 with a still the leader.
	bDone := make(chan *kmsg.JoinGroupResponse)
	go func() { bDone <- join(t, c, time.Minute, time.Minute) }()
	deadline := time.Now().Add(5 * time.Second)
	for heartbeat(c, a.MemberID, 1) != kerr.RebalanceInProgress.Code {
		if time.Now().After(deadline) {
			t.Fatal("no rebalance after a second member joined")
		}
		time.Sleep(5 * time.Millisecond)
	}
	a2 := c.Join(ctx, joinReq(a.MemberID, time.Minute, time.Minute), "client", "/127.0.0.1")
	b := <-bDone
	if a2.Generation != 2 || b.Generation != 2 || a2.LeaderID != a.MemberID || len(a2.Members) != 2 || len(b.Members) != 0 {
		t.Fatalf("generation 2: a %+v b %+v", a2, b)
	}
	// The follower's SyncGroup waits for the leader's.
	bSync := make(chan *kmsg.SyncGroupResponse)
	go func() { bSync <- c.Sync(ctx, syncReq(b.MemberID, 2, nil)) }()
	c.Sync(ctx, syncReq(a.MemberID, 2, map[string][]byte{a.MemberID: []byte("p0"), b.MemberID: []byte("p1")}))
	if s := <-bSync; s.ErrorCode != 0 || string(s.MemberAssignment) != "p1" {
		t.Fatalf("follower sync: %+v", s)
	}

	// Leaving triggers a rebalance the remaining member completes alone.
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.SetVersion(5)
	lr.Group = "g"
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = b.MemberID
	lr.Members = append(lr.Members, lm)
	if resp := c.Leave(lr); resp.ErrorCode != 0 || resp.Members[0].ErrorCode != 0 {
		t.Fatalf("leave: %+v", resp)
	}
	a3 := c.Join(ctx, joinReq(a.MemberID, time.Minute, time.Minute), "client", "/127.0.0.1")
	if a3.Generation != 3 || len(a3.Members) != 1 {
		t.Fatalf("after leave: %+v", a3)
	}
}

func TestSessionExpiryAndNeverSync(t *testing.T) {
	c := newTestCoordinator(t, nil)
	ctx := context.Background()
	// a joins and syncs; b joins but never syncs and never heartbeats.
	a := join(t, c, time.Minute, 300*time.Millisecond)
	c.Sync(ctx, syncReq(a.MemberID, a.Generation, nil))
	bDone := make(chan *kmsg.JoinGroupResponse)
	go func() { bDone <- join(t, c, 200*time.Millisecond, 300*time.Millisecond) }()
	for heartbeat(c, a.MemberID, a.Generation) != kerr.RebalanceInProgress.Code {
		time.Sleep(5 * time.Millisecond)
	}
	a2 := c.Join(ctx, joinReq(a.MemberID, time.Minute, 300*time.Millisecond), "client", "/127.0.0.1")
	b := <-bDone
	if b.Generation != a2.Generation {
		t.Fatalf("generations differ: %d %d", a2.Generation, b.Generation)
	}
	c.Sync(ctx, syncReq(a.MemberID, a2.Generation, nil))
	// b is removed (it never synced, and its session expires); a is told
	// to rejoin and forms the next generation alone.
	deadline := time.Now().Add(5 * time.Second)
	for heartbeat(c, a.MemberID, a2.Generation) != kerr.RebalanceInProgress.Code {
		if time.Now().After(deadline) {
			t.Fatal("the member that never synced was not removed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	a3 := c.Join(ctx, joinReq(a.MemberID, time.Minute, 300*time.Millisecond), "client", "/127.0.0.1")
	if len(a3.Members) != 1 || a3.Generation != a2.Generation+1 {
		t.Fatalf("after removal: %+v", a3)
	}
	if code := heartbeat(c, b.MemberID, a3.Generation); code != kerr.UnknownMemberID.Code {
		t.Fatalf("removed member's heartbeat = %d", code)
	}
}

func TestJoinValidation(t *testing.T) {
	c := newTestCoordinator(t, func(c *Config) { c.MinSessionTimeout = time.Second })
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		mod  func(*kmsg.JoinGroupRequest)
		want int16
	}{
		{"empty group", func(r *kmsg.JoinGroupRequest) { r.Group = "" }, kerr.InvalidGroupID.Code},
		{"short session", func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = 10 }, kerr.InvalidSessionTimeout.Code},
		{"no protocols", func(r *kmsg.JoinGroupRequest) { r.Protocols = nil }, kerr.InconsistentGroupProtocol.Code},
		{"unknown member", func(r *kmsg.JoinGroupRequest) { r.MemberID = "ghost" }, kerr.UnknownMemberID.Code},
	} {
		req := joinReq("", time.Minute, time.Minute)
		tc.mod(req)
		if resp := c.Join(ctx, req, "c", "h"); resp.ErrorCode != tc.want {
			t.Errorf("%s: code %d, want %d", tc.name, resp.ErrorCode, tc.want)
		}
	}
}

func TestStaticMemberRejoinKeepsAssignment(t *testing.T) {
	c := newTestCoordinator(t, nil)
	ctx := context.Background()
	req := joinReq("", time.Minute, time.Minute)
	req.InstanceID = kmsg.StringPtr("host-1")
	a := c.Join(ctx, req, "c", "h")
	if a.ErrorCode != 0 {
		t.Fatalf("static join: %+v", a)
	}
	c.Sync(ctx, syncReq(a.MemberID, a.Generation, map[string][]byte{a.MemberID: []byte("mine")}))
	// The same instance restarts with no member id: same generation, no
	// rebalance, and the old member id is fenced.
	again := c.Join(ctx, req, "c", "h")
	if again.ErrorCode != 0 || again.Generation != a.Generation || again.MemberID == a.MemberID || !again.SkipAssignment {
		t.Fatalf("static rejoin: %+v", again)
	}
	if code := heartbeat(c, a.MemberID, a.Generation); code != kerr.UnknownMemberID.Code {
		t.Fatalf("old member id heartbeat = %d", code)
	}
	s := c.Sync(ctx, syncReq(again.MemberID, again.Generation, nil))
	if string(s.MemberAssignment) != "mine" {
		t.Fatalf("assignment after static rejoin: %q", s.MemberAssignment)
	}
}

func TestCommitFetchDeleteAndExpiry(t *testing.T) {
	now := time.Unix(1000, 0)
	dir := t.TempDir()
	cfg := Config{InitialRebalanceDelay: -1, Logger: quiet(), OffsetsRetention: time.Hour, Now: func() time.Time { return now }}
	c, err := New(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	exists := func(topic string, p int32) bool { return topic == "t" && p < 2 }
	commit := func(c *Coordinator, gen int32, member string, parts ...int32) []int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.SetVersion(9)
		req.Group, req.Generation, req.MemberID = "solo", gen, member
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		for _, p := range parts {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.Metadata = p, int64(100+p), kmsg.StringPtr("meta")
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, wait := c.Commit(req, exists)
		if wait != nil {
			if err := wait(); err != nil {
				t.Fatal(err)
			}
		}
		var codes []int16
		for _, p := range resp.Topics[0].Partitions {
			codes = append(codes, p.ErrorCode)
		}
		return codes
	}
	if codes := commit(c, -1, "", 0, 1, 7); codes[0] != 0 || codes[1] != 0 || codes[2] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("commit codes %v", codes)
	}
	if codes := commit(c, 5, "x", 0); codes[0] != kerr.UnknownMemberID.Code {
		t.Fatalf("commit with a generation to an empty group: %v", codes)
	}
	c.Close()

	// Offsets survive a restart.
	c, err = New(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fr := kmsg.NewPtrOffsetFetchRequest()
	fr.SetVersion(9)
	fg := kmsg.NewOffsetFetchRequestGroup()
	fg.Group = "solo"
	fr.Groups = append(fr.Groups, fg)
	resp := c.Fetch(fr)
	ps := resp.Groups[0].Topics[0].Partitions
	if len(ps) != 2 || ps[0].Offset != 100 || ps[1].Offset != 101 || *ps[1].Metadata != "meta" {
		t.Fatalf("fetched after restart: %+v", resp.Groups[0].Topics)
	}

	// Expiry: nothing before the retention, everything after.
	now = now.Add(30 * time.Minute)
	c.ExpireOffsets()
	if len(c.Fetch(fr).Groups[0].Topics) != 1 {
		t.Fatal("offsets expired early")
	}
	now = now.Add(2 * time.Hour)
	c.ExpireOffsets()
	if got := c.Fetch(fr).Groups[0].Topics; len(got) != 0 {
		t.Fatalf("offsets not expired: %+v", got)
	}
	dg := kmsg.NewPtrDeleteGroupsRequest()
	dg.Groups = []string{"solo"}
	if code := c.Delete(dg).Groups[0].ErrorCode; code != kerr.GroupIDNotFound.Code {
		t.Fatalf("delete of an expired group: %d", code)
	}
}
