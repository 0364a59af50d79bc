package group

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a classic group's state, named as Kafka names it.
type State string

const (
	Empty               State = "Empty"
	PreparingRebalance  State = "PreparingRebalance"
	CompletingRebalance State = "CompletingRebalance"
	Stable              State = "Stable"
	Dead                State = "Dead"
)

// group is one consumer group. Every field is guarded by mu (in
// Coordinator: lock order Coordinator.mu before group.mu); timers run their
// callbacks under mu too and check that they are still current.
type group struct {
	c  *Coordinator
	mu sync.Mutex
	id string

	state        State
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	static       map[string]string      // instance id -> member id
	pending      map[string]*time.Timer // member ids handed out, awaiting the rejoin (KIP-394)
	pendingSync  map[string]bool        // members that have not synced this generation
	rebalance    *time.Timer
	syncTimer    *time.Timer
	initialDelay bool // the rebalance started from Empty and is still in its initial delay
	rebalanceEnd time.Time
	emptySince   time.Time

	offsets map[topicPartition]Offset
}

// member is one group member.
type member struct {
	id, instanceID   string
	clientID, host   string
	protocolType     string
	protocols        []kmsg.JoinGroupRequestProtocol
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	assignment       []byte
	joinVersion      int16
	join             chan *kmsg.JoinGroupResponse // waiting JoinGroup, or nil
	sync             chan *kmsg.SyncGroupResponse // waiting SyncGroup, or nil
	session          *time.Timer
	joined           bool // rejoined during the current rebalance
}

func (g *group) lock()   { g.mu.Lock() }
func (g *group) unlock() { g.mu.Unlock() }

func newGroup(c *Coordinator, id string) *group {
	return &group{
		c: c, id: id, state: Empty,
		members:     make(map[string]*member),
		static:      make(map[string]string),
		pending:     make(map[string]*time.Timer),
		pendingSync: make(map[string]bool),
		offsets:     make(map[topicPartition]Offset),
		emptySince:  c.now(),
	}
}

func newMemberID(clientID string) string {
	var b [16]byte
	rand.Read(b[:])
	return clientID + "-" + hex.EncodeToString(b[:])
}

func (g *group) protocolMetadata(m *member) []byte {
	for _, p := range m.protocols {
		if p.Name == g.protocol {
			return p.Metadata
		}
	}
	return nil
}

// supportsProtocols reports whether a joining member's protocols fit the
// group: same protocol type and at least one protocol every member has.
func (g *group) supportsProtocols(protocolType string, protocols []kmsg.JoinGroupRequestProtocol) bool {
	if len(g.members) == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		all := true
		for _, m := range g.members {
			if !hasProtocol(m.protocols, p.Name) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func hasProtocol(ps []kmsg.JoinGroupRequestProtocol, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

func sameProtocols(a, b []kmsg.JoinGroupRequestProtocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Metadata, b[i].Metadata) {
			return false
		}
	}
	return true
}

// selectProtocol picks the protocol every member supports that most members
// prefer, the way Kafka votes.
func (g *group) selectProtocol() string {
	var candidates []string
	for _, m := range g.members {
		for _, p := range m.protocols {
			all := true
			for _, o := range g.members {
				if !hasProtocol(o.protocols, p.Name) {
					all = false
					break
				}
			}
			if all && !contains(candidates, p.Name) {
				candidates = append(candidates, p.Name)
			}
		}
		break
	}
	votes := make(map[string]int)
	for _, m := range g.members {
		for _, p := range m.protocols {
			if contains(candidates, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best := ""
	for _, name := range candidates {
		if best == "" || votes[name] > votes[best] {
			best = name
		}
	}
	return best
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// joinResult is what Join hands back: a response now, or a channel.
type joinResult struct {
	resp *kmsg.JoinGroupResponse
	wait chan *kmsg.JoinGroupResponse
}

func joinError(req *kmsg.JoinGroupRequest, code int16, memberID string) joinResult {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.ErrorCode = code
	resp.MemberID = memberID
	resp.Generation = -1
	return joinResult{resp: resp}
}

// joinLocked handles a JoinGroup whose basic fields are valid.
func (g *group) joinLocked(req *kmsg.JoinGroupRequest, clientID, host string) joinResult {
	if g.state == Dead {
		return joinError(req, kerr.CoordinatorNotAvailable.Code, req.MemberID)
	}
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		return joinError(req, kerr.InconsistentGroupProtocol.Code, req.MemberID)
	}
	instance := ""
	if req.InstanceID != nil {
		instance = *req.InstanceID
	}

	if req.MemberID == "" {
		id := newMemberID(clientID)
		if instance != "" {
			return g.joinStaticLocked(req, id, instance, clientID, host)
		}
		if req.Version >= 4 {
			// KIP-394: hand out the id and wait for the member to
			// come back with it, so that retried joins of an
			// unreachable client do not pile up as members.
			var t *time.Timer
			t = time.AfterFunc(g.sessionTimeout(req), func() {
				g.lock()
				defer g.unlock()
				if g.pending[id] != t {
					return
				}
				delete(g.pending, id)
				g.maybeCompleteJoinLocked()
			})
			g.pending[id] = t
			return joinError(req, kerr.MemberIDRequired.Code, id)
		}
		return g.addMemberLocked(req, id, instance, clientID, host)
	}

	if t, ok := g.pending[req.MemberID]; ok {
		t.Stop()
		delete(g.pending, req.MemberID)
		return g.addMemberLocked(req, req.MemberID, instance, clientID, host)
	}
	m := g.members[req.MemberID]
	if m == nil {
		return joinError(req, kerr.UnknownMemberID.Code, req.MemberID)
	}
	if instance != "" && g.static[instance] != m.id {
		return joinError(req, kerr.FencedInstanceID.Code, req.MemberID)
	}
	return g.rejoinLocked(m, req)
}

func (g *group) sessionTimeout(req *kmsg.JoinGroupRequest) time.Duration {
	return time.Duration(req.SessionTimeoutMillis) * time.Millisecond
}

func rebalanceTimeout(req *kmsg.JoinGroupRequest) time.Duration {
	if req.Version == 0 {
		return time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	}
	return time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
}

// joinStaticLocked joins a member with a group.instance.id (KIP-345).
func (g *group) joinStaticLocked(req *kmsg.JoinGroupRequest, id, instance, clientID, host string) joinResult {
	oldID, known := g.static[instance]
	if !known {
		return g.addMemberLocked(req, id, instance, clientID, host)
	}
	old := g.members[oldID]
	// Replace the old member id: its in-flight calls are fenced.
	delete(g.members, oldID)
	if old.join != nil {
		old.join <- fencedJoin(old)
		old.join = nil
	}
	if old.sync != nil {
		old.sync <- &kmsg.SyncGroupResponse{Version: 0, ErrorCode: kerr.FencedInstanceID.Code}
		old.sync = nil
	}
	if old.session != nil {
		old.session.Stop()
	}
	m := *old
	m.id, m.clientID, m.host = id, clientID, host
	m.join, m.sync, m.session = nil, nil, nil
	g.members[id] = &m
	g.static[instance] = id
	if g.leader == oldID {
		g.leader = id
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[id] = true
	}
	changed := req.ProtocolType != m.protocolType || !sameProtocols(req.Protocols, m.protocols)
	m.protocols, m.protocolType = req.Protocols, req.ProtocolType
	m.sessionTimeout, m.rebalanceTimeout = g.sessionTimeout(req), rebalanceTimeout(req)
	m.joinVersion = req.Version
	if g.state == Stable && !changed {
		// Known static member, same subscription: no rebalance; it
		// gets the current generation and keeps its assignment.
		g.resetSessionLocked(&m)
		resp := g.joinResponse(&m)
		if m.id == g.leader && req.Version >= 9 {
			resp.SkipAssignment = true
		}
		return joinResult{resp: resp}
	}
	return g.waitJoinLocked(&m)
}

func fencedJoin(m *member) *kmsg.JoinGroupResponse {
	resp := &kmsg.JoinGroupResponse{Version: m.joinVersion}
	resp.Default()
	resp.ErrorCode = kerr.FencedInstanceID.Code
	resp.MemberID = m.id
	resp.Generation = -1
	return resp
}

func (g *group) addMemberLocked(req *kmsg.JoinGroupRequest, id, instance, clientID, host string) joinResult {
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	m := &member{
		id: id, instanceID: instance, clientID: clientID, host: host,
		protocolType: req.ProtocolType, protocols: req.Protocols,
		sessionTimeout:   g.sessionTimeout(req),
		rebalanceTimeout: rebalanceTimeout(req),
		joinVersion:      req.Version,
	}
	g.members[id] = m
	if instance != "" {
		g.static[instance] = id
	}
	return g.waitJoinLocked(m)
}

func (g *group) rejoinLocked(m *member, req *kmsg.JoinGroupRequest) joinResult {
	changed := req.ProtocolType != m.protocolType || !sameProtocols(req.Protocols, m.protocols)
	m.protocols, m.protocolType = req.Protocols, req.ProtocolType
	m.sessionTimeout, m.rebalanceTimeout = g.sessionTimeout(req), rebalanceTimeout(req)
	m.joinVersion = req.Version
	switch g.state {
	case CompletingRebalance:
		if !changed {
			// A retried join for the generation just formed.
			g.resetSessionLocked(m)
			return joinResult{resp: g.joinResponse(m)}
		}
	case Stable:
		if !changed && m.id != g.leader {
			g.resetSessionLocked(m)
			return joinResult{resp: g.joinResponse(m)}
		}
	}
	return g.waitJoinLocked(m)
}

// waitJoinLocked parks m's JoinGroup until the rebalance completes, starting
// one if needed.
func (g *group) waitJoinLocked(m *member) joinResult {
	if m.join != nil {
		// A duplicate join replaces the older one, which learns that
		// a newer call took over.
		old := m.join
		resp := &kmsg.JoinGroupResponse{Version: m.joinVersion}
		resp.Default()
		resp.ErrorCode = kerr.RebalanceInProgress.Code
		resp.MemberID = m.id
		old <- resp
	}
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	m.join = ch
	m.joined = true
	if m.session != nil {
		m.session.Stop() // the rebalance timeout governs it until the join completes
	}
	if g.state != PreparingRebalance {
		g.prepareRebalanceLocked()
	} else {
		if g.initialDelay {
			g.extendInitialDelayLocked(m)
		}
		g.maybeCompleteJoinLocked()
	}
	return joinResult{wait: ch}
}

// prepareRebalanceLocked moves the group to PreparingRebalance.
func (g *group) prepareRebalanceLocked() {
	if g.state == CompletingRebalance {
		// Members waiting on SyncGroup must rejoin.
		for _, m := range g.members {
			if m.sync != nil {
				m.sync <- &kmsg.SyncGroupResponse{ErrorCode: kerr.RebalanceInProgress.Code}
				m.sync = nil
			}
		}
	}
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
	clear(g.pendingSync)
	wasEmpty := g.state == Empty
	g.state = PreparingRebalance
	timeout := g.maxRebalanceTimeout()
	if g.rebalance != nil {
		g.rebalance.Stop()
	}
	if wasEmpty && g.c.cfg.InitialRebalanceDelay > 0 {
		// Kafka waits group.initial.rebalance.delay.ms after the first
		// member, extended as others arrive, up to the rebalance timeout,
		// so that a starting fleet forms one generation.
		g.initialDelay = true
		g.rebalanceEnd = g.c.now().Add(timeout)
		g.armRebalanceLocked(min(g.c.cfg.InitialRebalanceDelay, timeout))
		return
	}
	g.initialDelay = false
	g.armRebalanceLocked(timeout)
	g.maybeCompleteJoinLocked()
}

func (g *group) extendInitialDelayLocked(m *member) {
	left := g.rebalanceEnd.Sub(g.c.now())
	g.armRebalanceLocked(max(0, min(g.c.cfg.InitialRebalanceDelay, left)))
}

func (g *group) armRebalanceLocked(d time.Duration) {
	if g.rebalance != nil {
		g.rebalance.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		g.lock()
		defer g.unlock()
		if g.rebalance != t || g.state != PreparingRebalance {
			return
		}
		g.initialDelay = false
		g.completeJoinLocked()
	})
	g.rebalance = t
}

func (g *group) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// maybeCompleteJoinLocked completes the join phase once every member has
// rejoined (outside the initial delay).
func (g *group) maybeCompleteJoinLocked() {
	if g.state != PreparingRebalance || g.initialDelay {
		return
	}
	for _, m := range g.members {
		if !m.joined {
			return
		}
	}
	if len(g.pending) > 0 {
		return // a new member was told its id and is about to rejoin
	}
	g.completeJoinLocked()
}

// completeJoinLocked ends the join phase: members that did not rejoin are
// removed, a new generation is formed and every waiting join answered.
func (g *group) completeJoinLocked() {
	if g.rebalance != nil {
		g.rebalance.Stop()
		g.rebalance = nil
	}
	for id, m := range g.members {
		if !m.joined {
			g.removeMemberLocked(id)
		}
	}
	g.generation++
	if len(g.members) == 0 {
		// Kafka keeps the protocol type of an empty group.
		g.state = Empty
		g.protocol, g.leader = "", ""
		g.emptySince = g.c.now()
		return
	}
	g.protocol = g.selectProtocol()
	if g.members[g.leader] == nil {
		g.leader = ""
		for id := range g.members {
			if g.leader == "" || id < g.leader {
				g.leader = id
			}
		}
	}
	g.state = CompletingRebalance
	for _, m := range g.members {
		m.joined = false
		m.assignment = nil
		g.pendingSync[m.id] = true
		if m.join != nil {
			m.join <- g.joinResponse(m)
			m.join = nil
		}
		g.resetSessionLocked(m)
	}
	// Members that never send SyncGroup are removed after the rebalance
	// timeout, so one stuck member cannot hold the group.
	gen := g.generation
	g.syncTimer = time.AfterFunc(g.maxRebalanceTimeout(), func() {
		g.lock()
		defer g.unlock()
		if g.generation != gen || (g.state != CompletingRebalance && g.state != Stable) || len(g.pendingSync) == 0 {
			return
		}
		for id := range g.pendingSync {
			g.c.logger.Info("removing member that did not sync", "group", g.id, "member", id)
			g.removeMemberLocked(id)
		}
		g.afterRemovalLocked()
	})
}

// joinResponse is m's JoinGroup answer for the current generation; the
// leader gets every member's metadata.
func (g *group) joinResponse(m *member) *kmsg.JoinGroupResponse {
	resp := &kmsg.JoinGroupResponse{Version: m.joinVersion}
	resp.Default()
	resp.Generation = g.generation
	resp.ProtocolType = &g.protocolType
	resp.Protocol = &g.protocol
	resp.LeaderID = g.leader
	resp.MemberID = m.id
	if m.id == g.leader {
		for _, o := range g.members {
			jm := kmsg.NewJoinGroupResponseMember()
			jm.MemberID = o.id
			if o.instanceID != "" {
				jm.InstanceID = &o.instanceID
			}
			jm.ProtocolMetadata = g.protocolMetadata(o)
			resp.Members = append(resp.Members, jm)
		}
	}
	return resp
}

func (g *group) resetSessionLocked(m *member) {
	if m.session != nil {
		m.session.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(m.sessionTimeout, func() {
		g.lock()
		defer g.unlock()
		if g.members[m.id] != m || m.session != t {
			return
		}
		g.c.logger.Info("member session expired", "group", g.id, "member", m.id)
		g.removeMemberLocked(m.id)
		g.afterRemovalLocked()
	})
	m.session = t
}

// removeMemberLocked drops a member, failing its waiting calls.
func (g *group) removeMemberLocked(id string) {
	m := g.members[id]
	if m == nil {
		return
	}
	if m.session != nil {
		m.session.Stop()
	}
	if m.join != nil {
		resp := &kmsg.JoinGroupResponse{Version: m.joinVersion}
		resp.Default()
		resp.ErrorCode = kerr.UnknownMemberID.Code
		resp.MemberID = id
		resp.Generation = -1
		m.join <- resp
	}
	if m.sync != nil {
		m.sync <- &kmsg.SyncGroupResponse{ErrorCode: kerr.UnknownMemberID.Code}
	}
	delete(g.members, id)
	delete(g.pendingSync, id)
	if m.instanceID != "" && g.static[m.instanceID] == id {
		delete(g.static, m.instanceID)
	}
}

// afterRemovalLocked rebalances after members left.
func (g *group) afterRemovalLocked() {
	switch g.state {
	case Stable, CompletingRebalance:
		if len(g.members) == 0 {
			g.toEmptyLocked()
			return
		}
		g.prepareRebalanceLocked()
	case PreparingRebalance:
		if len(g.members) == 0 && len(g.pending) == 0 {
			g.completeJoinLocked()
			return
		}
		g.maybeCompleteJoinLocked()
	}
}

func (g *group) toEmptyLocked() {
	if g.rebalance != nil {
		g.rebalance.Stop()
		g.rebalance = nil
	}
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
	g.generation++
	g.state = Empty
	g.protocol, g.leader = "", ""
	g.emptySince = g.c.now()
}

// syncLocked handles a SyncGroup; wait is set when the answer comes later.
func (g *group) syncLocked(req *kmsg.SyncGroupRequest) (*kmsg.SyncGroupResponse, chan *kmsg.SyncGroupResponse) {
	fail := func(code int16) (*kmsg.SyncGroupResponse, chan *kmsg.SyncGroupResponse) {
		return &kmsg.SyncGroupResponse{ErrorCode: code}, nil
	}
	m := g.members[req.MemberID]
	switch {
	case g.state == Dead:
		return fail(kerr.CoordinatorNotAvailable.Code)
	case m == nil:
		return fail(kerr.UnknownMemberID.Code)
	case req.InstanceID != nil && g.static[*req.InstanceID] != m.id:
		return fail(kerr.FencedInstanceID.Code)
	case req.Generation != g.generation:
		return fail(kerr.IllegalGeneration.Code)
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.Protocol != nil && *req.Protocol != g.protocol:
		return fail(kerr.InconsistentGroupProtocol.Code)
	case g.state == PreparingRebalance:
		return fail(kerr.RebalanceInProgress.Code)
	}
	delete(g.pendingSync, m.id)
	g.resetSessionLocked(m)
	if g.state == Stable {
		return g.syncResponse(m), nil
	}
	// CompletingRebalance: the leader's assignment completes it.
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	if m.sync != nil {
		m.sync <- &kmsg.SyncGroupResponse{ErrorCode: kerr.RebalanceInProgress.Code}
	}
	m.sync = ch
	if m.id == g.leader {
		for _, a := range req.GroupAssignment {
			if o := g.members[a.MemberID]; o != nil {
				o.assignment = a.MemberAssignment
			}
		}
		g.state = Stable
		for _, o := range g.members {
			if o.sync != nil {
				o.sync <- g.syncResponse(o)
				o.sync = nil
			}
		}
	}
	return nil, ch
}

func (g *group) syncResponse(m *member) *kmsg.SyncGroupResponse {
	resp := &kmsg.SyncGroupResponse{}
	resp.Default()
	pt, p := g.protocolType, g.protocol
	resp.ProtocolType, resp.Protocol = &pt, &p
	resp.MemberAssignment = m.assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	return resp
}

// heartbeatLocked answers a Heartbeat.
func (g *group) heartbeatLocked(req *kmsg.HeartbeatRequest) int16 {
	m := g.members[req.MemberID]
	switch {
	case g.state == Dead:
		return kerr.CoordinatorNotAvailable.Code
	case m == nil:
		return kerr.UnknownMemberID.Code
	case req.InstanceID != nil && g.static[*req.InstanceID] != m.id:
		return kerr.FencedInstanceID.Code
	case req.Generation != g.generation:
		return kerr.IllegalGeneration.Code
	}
	if g.state != PreparingRebalance || !m.joined {
		// While a member's join is parked the rebalance timeout, not
		// its session, decides whether it stays.
		g.resetSessionLocked(m)
	}
	if g.state == PreparingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// leaveLocked removes members; per-member error codes for v3+.
func (g *group) leaveLocked(ids []kmsg.LeaveGroupRequestMember) []int16 {
	codes := make([]int16, len(ids))
	removed := false
	for i, lm := range ids {
		id := lm.MemberID
		if lm.InstanceID != nil {
			cur, ok := g.static[*lm.InstanceID]
			switch {
			case !ok:
				codes[i] = kerr.UnknownMemberID.Code
				continue
			case id != "" && id != cur:
				codes[i] = kerr.FencedInstanceID.Code
				continue
			}
			id = cur
		}
		if g.members[id] == nil {
			if t, ok := g.pending[id]; ok {
				t.Stop()
				delete(g.pending, id)
				continue
			}
			codes[i] = kerr.UnknownMemberID.Code
			continue
		}
		g.removeMemberLocked(id)
		removed = true
	}
	if removed {
		g.afterRemovalLocked()
	}
	return codes
}
