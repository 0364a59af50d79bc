// Package group is the classic consumer-group coordinator (JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup) and the durable store of committed
// offsets.
//
// Concurrency model: Coordinator.mu guards the map of groups; each group has
// its own mutex guarding its members, state, timers and offsets. Lock order:
// Coordinator.mu, then group.mu, then Store.mu. Timers (sessions, rebalance,
// pending sync) take only their group's mutex and check on entry that they
// are still current. JoinGroup and SyncGroup calls that must wait for the
// rebalance receive their answer on a buffered channel, with no lock held.
package group

import (
	"context"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config holds the coordinator's settings, with Kafka's names in comments.
type Config struct {
	MinSessionTimeout     time.Duration // group.min.session.timeout.ms; default 6s
	MaxSessionTimeout     time.Duration // group.max.session.timeout.ms; default 30m
	InitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms; default 3s, <0 for none
	OffsetsRetention      time.Duration // offsets.retention.minutes; default 7 days
	RetentionCheck        time.Duration // offsets.retention.check.interval.ms; default 10m
	MaxMetadataBytes      int           // offset.metadata.max.bytes; default 4096
	Fsync                 bool          // commits wait for fsync
	Logger                *slog.Logger
	Now                   func() time.Time // for tests; default time.Now
}

func (c *Config) setDefaults() {
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = 6 * time.Second
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = 30 * time.Minute
	}
	if c.InitialRebalanceDelay == 0 {
		c.InitialRebalanceDelay = 3 * time.Second
	}
	if c.OffsetsRetention <= 0 {
		c.OffsetsRetention = 7 * 24 * time.Hour
	}
	if c.RetentionCheck <= 0 {
		c.RetentionCheck = 10 * time.Minute
	}
	if c.MaxMetadataBytes <= 0 {
		c.MaxMetadataBytes = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Coordinator coordinates every group of one broker.
type Coordinator struct {
	cfg    Config
	logger *slog.Logger
	store  *Store

	mu     sync.Mutex
	groups map[string]*group
	closed bool

	done chan struct{}
	wg   sync.WaitGroup
}

// New opens the offsets store in dir and restores committed offsets.
func New(dir string, cfg Config) (*Coordinator, error) {
	cfg.setDefaults()
	store, state, err := OpenStore(filepath.Join(dir, "offsets.log"), cfg.Fsync, cfg.Logger)
	if err != nil {
		return nil, err
	}
	c := &Coordinator{cfg: cfg, logger: cfg.Logger, store: store, groups: make(map[string]*group), done: make(chan struct{})}
	for id, offs := range state {
		g := newGroup(c, id)
		g.offsets = offs
		c.groups[id] = g
	}
	c.wg.Add(1)
	go c.expireLoop()
	return c, nil
}

func (c *Coordinator) now() time.Time { return c.cfg.Now() }

// Close stops the expiry loop, fails waiting calls and closes the store.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	groups := c.groups
	c.mu.Unlock()
	close(c.done)
	c.wg.Wait()
	for _, g := range groups {
		g.lock()
		for _, m := range g.members {
			if m.session != nil {
				m.session.Stop()
			}
		}
		if g.rebalance != nil {
			g.rebalance.Stop()
		}
		if g.syncTimer != nil {
			g.syncTimer.Stop()
		}
		for _, t := range g.pending {
			t.Stop()
		}
		g.unlock()
	}
	return c.store.Close()
}

// getGroup returns the group, creating it if create is set.
func (c *Coordinator) getGroup(id string, create bool) *group {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[id]
	if g == nil && create && !c.closed {
		g = newGroup(c, id)
		c.groups[id] = g
	}
	return g
}

// Join handles JoinGroup, waiting for the rebalance when it must. It returns
// nil if ctx ends first (the connection closed).
func (c *Coordinator) Join(ctx context.Context, req *kmsg.JoinGroupRequest, clientID, host string) *kmsg.JoinGroupResponse {
	st := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	switch {
	case req.Group == "":
		return joinError(req, kerr.InvalidGroupID.Code, req.MemberID).resp
	case st < c.cfg.MinSessionTimeout || st > c.cfg.MaxSessionTimeout:
		return joinError(req, kerr.InvalidSessionTimeout.Code, req.MemberID).resp
	case req.ProtocolType == "" || len(req.Protocols) == 0:
		return joinError(req, kerr.InconsistentGroupProtocol.Code, req.MemberID).resp
	}
	g := c.getGroup(req.Group, req.MemberID == "")
	if g == nil {
		return joinError(req, kerr.UnknownMemberID.Code, req.MemberID).resp
	}
	g.lock()
	res := g.joinLocked(req, clientID, host)
	g.unlock()
	if res.resp != nil {
		return res.resp
	}
	select {
	case resp := <-res.wait:
		return resp
	case <-ctx.Done():
		return nil
	}
}

// Sync handles SyncGroup, waiting for the leader's assignment when it must.
func (c *Coordinator) Sync(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	resp := c.sync(ctx, req)
	if resp != nil {
		resp.Version = req.Version
	}
	return resp
}

func (c *Coordinator) sync(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	if req.Group == "" {
		return &kmsg.SyncGroupResponse{ErrorCode: kerr.InvalidGroupID.Code}
	}
	g := c.getGroup(req.Group, false)
	if g == nil {
		return &kmsg.SyncGroupResponse{ErrorCode: kerr.UnknownMemberID.Code}
	}
	g.lock()
	resp, wait := g.syncLocked(req)
	g.unlock()
	if resp != nil {
		return resp
	}
	select {
	case resp := <-wait:
		return resp
	case <-ctx.Done():
		return nil
	}
}

// Heartbeat handles Heartbeat.
func (c *Coordinator) Heartbeat(req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	g := c.getGroup(req.Group, false)
	if g == nil {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return resp
	}
	g.lock()
	resp.ErrorCode = g.heartbeatLocked(req)
	g.unlock()
	return resp
}

// Leave handles LeaveGroup (v0-v2 one member, v3+ a batch).
func (c *Coordinator) Leave(req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	members := req.Members
	if req.Version < 3 {
		members = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	g := c.getGroup(req.Group, false)
	if g == nil {
		if req.Version < 3 {
			resp.ErrorCode = kerr.UnknownMemberID.Code
			return resp
		}
		for _, m := range members {
			lm := kmsg.NewLeaveGroupResponseMember()
			lm.MemberID, lm.InstanceID, lm.ErrorCode = m.MemberID, m.InstanceID, kerr.UnknownMemberID.Code
			resp.Members = append(resp.Members, lm)
		}
		return resp
	}
	g.lock()
	codes := g.leaveLocked(members)
	g.unlock()
	if req.Version < 3 {
		resp.ErrorCode = codes[0]
		return resp
	}
	for i, m := range members {
		lm := kmsg.NewLeaveGroupResponseMember()
		lm.MemberID, lm.InstanceID, lm.ErrorCode = m.MemberID, m.InstanceID, codes[i]
		resp.Members = append(resp.Members, lm)
	}
	return resp
}

// groupSummary is a group's state for DescribeGroups and ListGroups.
func (g *group) describeLocked() kmsg.DescribeGroupsResponseGroup {
	d := kmsg.NewDescribeGroupsResponseGroup()
	d.Group, d.State, d.ProtocolType, d.Protocol = g.id, string(g.state), g.protocolType, g.protocol
	d.AuthorizedOperations = -2147483648
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := g.members[id]
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.ClientID, dm.ClientHost = m.id, m.clientID, m.host
		if m.instanceID != "" {
			dm.InstanceID = &m.instanceID
		}
		if g.state == Stable {
			dm.ProtocolMetadata = g.protocolMetadata(m)
			dm.MemberAssignment = m.assignment
		}
		d.Members = append(d.Members, dm)
	}
	return d
}

// Describe handles DescribeGroups; an unknown group is reported Dead.
func (c *Coordinator) Describe(req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		g := c.getGroup(id, false)
		if g == nil {
			d := kmsg.NewDescribeGroupsResponseGroup()
			d.Group, d.State = id, string(Dead)
			d.AuthorizedOperations = -2147483648
			resp.Groups = append(resp.Groups, d)
			continue
		}
		g.lock()
		resp.Groups = append(resp.Groups, g.describeLocked())
		g.unlock()
	}
	return resp
}

// List handles ListGroups with its state and type filters.
func (c *Coordinator) List(req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	c.mu.Lock()
	groups := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	c.mu.Unlock()
	sort.Slice(groups, func(i, j int) bool { return groups[i].id < groups[j].id })
	typeOK := len(req.TypesFilter) == 0
	for _, t := range req.TypesFilter {
		typeOK = typeOK || strings.EqualFold(t, "classic")
	}
	if !typeOK {
		return resp
	}
	for _, g := range groups {
		g.lock()
		state, pt := string(g.state), g.protocolType
		g.unlock()
		if len(req.StatesFilter) > 0 {
			match := false
			for _, s := range req.StatesFilter {
				match = match || strings.EqualFold(s, state)
			}
			if !match {
				continue
			}
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.id, pt, state, "classic"
		resp.Groups = append(resp.Groups, lg)
	}
	return resp
}

// Delete handles DeleteGroups: only empty groups go, with their offsets.
func (c *Coordinator) Delete(req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, id := range req.Groups {
		d := kmsg.NewDeleteGroupsResponseGroup()
		d.Group = id
		d.ErrorCode = c.deleteGroup(id)
		resp.Groups = append(resp.Groups, d)
	}
	return resp
}

func (c *Coordinator) deleteGroup(id string) int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[id]
	if g == nil {
		return kerr.GroupIDNotFound.Code
	}
	g.lock()
	defer g.unlock()
	if g.state != Empty {
		return kerr.NonEmptyGroup.Code
	}
	if len(g.offsets) > 0 {
		if err := c.store.write(record{kind: kindDeleteGroup, group: id}); err != nil {
			return kerr.CoordinatorNotAvailable.Code
		}
	}
	g.state = Dead
	for _, t := range g.pending {
		t.Stop()
	}
	delete(c.groups, id)
	return 0
}
