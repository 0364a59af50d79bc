package group

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// PartitionExists reports whether a topic partition exists, so commits for
// unknown partitions are refused.
type PartitionExists func(topic string, partition int32) bool

// Commit handles OffsetCommit v2+. It applies the offsets and writes them to
// the store in call order; the returned wait, if not nil, blocks until they
// are durable (fsync policy) and reports a failure, after which every
// partition that had succeeded must be answered with the error.
func (c *Coordinator) Commit(req *kmsg.OffsetCommitRequest, exists PartitionExists) (*kmsg.OffsetCommitResponse, func() error) {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	fill := func(code func(topic string, p kmsg.OffsetCommitRequestTopicPartition) int16) {
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code(rt.Topic, rp)
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	}
	all := func(code int16) (*kmsg.OffsetCommitResponse, func() error) {
		fill(func(string, kmsg.OffsetCommitRequestTopicPartition) int16 { return code })
		return resp, nil
	}

	g := c.getGroup(req.Group, req.Generation < 0)
	if g == nil {
		// A generation from a group this coordinator does not know.
		return all(kerr.IllegalGeneration.Code)
	}
	g.lock()
	defer g.unlock()
	if code := g.validateCommitLocked(req); code != 0 {
		return all(code)
	}
	now := c.now().UnixMilli()
	var recs []record
	fill(func(topic string, p kmsg.OffsetCommitRequestTopicPartition) int16 {
		switch {
		case !exists(topic, p.Partition):
			return kerr.UnknownTopicOrPartition.Code
		case p.Metadata != nil && len(*p.Metadata) > c.cfg.MaxMetadataBytes:
			return kerr.OffsetMetadataTooLarge.Code
		}
		o := Offset{Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, CommitTime: now}
		if p.Metadata != nil {
			o.Metadata = *p.Metadata
		}
		recs = append(recs, record{kind: kindCommit, group: g.id, topic: topic, partition: p.Partition, offset: o})
		return 0
	})
	if len(recs) == 0 {
		return resp, nil
	}
	seq, err := c.store.append(recs)
	if err != nil {
		failCommitted(resp)
		return resp, nil
	}
	for _, r := range recs {
		g.offsets[topicPartition{r.topic, r.partition}] = r.offset
	}
	return resp, func() error {
		if err := c.store.waitSynced(seq); err != nil {
			failCommitted(resp)
			return err
		}
		return nil
	}
}

// failCommitted marks every partition not already failed as not committed.
func failCommitted(resp *kmsg.OffsetCommitResponse) {
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Partitions[j].ErrorCode == 0 {
				resp.Topics[i].Partitions[j].ErrorCode = kerr.CoordinatorNotAvailable.Code
			}
		}
	}
}

// validateCommitLocked applies Kafka's rules for who may commit.
func (g *group) validateCommitLocked(req *kmsg.OffsetCommitRequest) int16 {
	m := g.members[req.MemberID]
	switch {
	case g.state == Dead:
		return kerr.CoordinatorNotAvailable.Code
	case req.InstanceID != nil && g.static[*req.InstanceID] != "" && g.static[*req.InstanceID] != req.MemberID:
		return kerr.FencedInstanceID.Code
	case req.Generation < 0 && g.state == Empty:
		return 0 // a consumer that assigns partitions itself
	case g.state == CompletingRebalance:
		return kerr.RebalanceInProgress.Code
	case m == nil:
		return kerr.UnknownMemberID.Code
	case req.Generation != g.generation:
		return kerr.IllegalGeneration.Code
	}
	if g.state != PreparingRebalance {
		g.resetSessionLocked(m) // a commit shows the member is alive
	}
	return 0
}

// Fetch handles OffsetFetch (v0-v7 one group, v8+ several).
func (c *Coordinator) Fetch(req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version < 8 {
		topics := make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(req.Topics))
		for _, t := range req.Topics {
			topics = append(topics, kmsg.OffsetFetchRequestGroupTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
		if req.Topics == nil {
			topics = nil
		}
		fg := c.fetchGroup(req.Group, topics)
		resp.ErrorCode = fg.ErrorCode
		for _, t := range fg.Topics {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	for _, rg := range req.Groups {
		resp.Groups = append(resp.Groups, c.fetchGroup(rg.Group, rg.Topics))
	}
	return resp
}

// fetchGroup returns a group's committed offsets for topics (nil: all).
func (c *Coordinator) fetchGroup(id string, topics []kmsg.OffsetFetchRequestGroupTopic) kmsg.OffsetFetchResponseGroup {
	out := kmsg.NewOffsetFetchResponseGroup()
	out.Group = id
	var offs map[topicPartition]Offset
	if g := c.getGroup(id, false); g != nil {
		g.lock()
		offs = make(map[topicPartition]Offset, len(g.offsets))
		for tp, o := range g.offsets {
			offs[tp] = o
		}
		g.unlock()
	}
	part := func(p int32, o Offset, ok bool) kmsg.OffsetFetchResponseGroupTopicPartition {
		rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
		rp.Partition = p
		rp.Offset, rp.LeaderEpoch, rp.Metadata = -1, -1, kmsg.StringPtr("")
		if ok {
			rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Offset, o.LeaderEpoch, kmsg.StringPtr(o.Metadata)
		}
		return rp
	}
	if topics == nil {
		byTopic := make(map[string][]int32)
		for tp := range offs {
			byTopic[tp.topic] = append(byTopic[tp.topic], tp.partition)
		}
		names := make([]string, 0, len(byTopic))
		for t := range byTopic {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			ps := byTopic[t]
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = t
			for _, p := range ps {
				rt.Partitions = append(rt.Partitions, part(p, offs[topicPartition{t, p}], true))
			}
			out.Topics = append(out.Topics, rt)
		}
		return out
	}
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			o, ok := offs[topicPartition{t.Topic, p}]
			rt.Partitions = append(rt.Partitions, part(p, o, ok))
		}
		out.Topics = append(out.Topics, rt)
	}
	return out
}

// DeleteOffsets handles OffsetDelete: allowed for an empty group, or for
// topics no member of a consumer group subscribes to.
func (c *Coordinator) DeleteOffsets(req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	g := c.getGroup(req.Group, false)
	if g == nil {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return resp
	}
	g.lock()
	defer g.unlock()
	var subscribed map[string]bool
	switch {
	case g.state == Dead:
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return resp
	case g.state == Empty:
	case g.protocolType == "consumer":
		subscribed = g.subscribedTopicsLocked()
	default:
		resp.ErrorCode = kerr.NonEmptyGroup.Code
		return resp
	}
	var recs []record
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			if subscribed[rt.Topic] {
				sp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			} else if _, ok := g.offsets[topicPartition{rt.Topic, rp.Partition}]; ok {
				recs = append(recs, record{kind: kindDelete, group: g.id, topic: rt.Topic, partition: rp.Partition})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(recs) > 0 {
		if err := c.store.write(recs...); err != nil {
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			resp.Topics = nil
			return resp
		}
		for _, r := range recs {
			delete(g.offsets, topicPartition{r.topic, r.partition})
		}
	}
	return resp
}

// subscribedTopicsLocked reads the topics in members' consumer-protocol
// subscriptions.
func (g *group) subscribedTopicsLocked() map[string]bool {
	topics := make(map[string]bool)
	for _, m := range g.members {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(g.protocolMetadata(m)); err != nil {
			continue
		}
		for _, t := range meta.Topics {
			topics[t] = true
		}
	}
	return topics
}

// expireLoop drops offsets of groups that have been empty for longer than
// the retention (Kafka's rule since 2.1), and then the groups themselves.
func (c *Coordinator) expireLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.RetentionCheck)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.ExpireOffsets()
		}
	}
}

// ExpireOffsets runs one expiry pass.
func (c *Coordinator) ExpireOffsets() {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	// Records up to snap are in the copies below: each is written and
	// applied under its group's lock, which the copy takes.
	snap := c.store.lastSeq()
	live := make(offsetsByGroup)
	for id, g := range c.groups {
		g.lock()
		if g.state == Empty {
			var recs []record
			for tp, o := range g.offsets {
				since := max(g.emptySince.UnixMilli(), o.CommitTime)
				if now.UnixMilli()-since >= c.cfg.OffsetsRetention.Milliseconds() {
					recs = append(recs, record{kind: kindDelete, group: id, topic: tp.topic, partition: tp.partition})
				}
			}
			if len(recs) > 0 && c.store.write(recs...) == nil {
				for _, r := range recs {
					delete(g.offsets, topicPartition{r.topic, r.partition})
				}
				c.logger.Info("expired committed offsets", "group", id, "partitions", len(recs))
			}
			if len(g.offsets) == 0 && len(g.pending) == 0 {
				g.state = Dead
				delete(c.groups, id)
			}
		}
		if len(g.offsets) > 0 {
			cp := make(map[topicPartition]Offset, len(g.offsets))
			for tp, o := range g.offsets {
				cp[tp] = o
			}
			live[id] = cp
		}
		g.unlock()
	}
	if err := c.store.maybeRewrite(live, snap); err != nil {
		c.logger.Error("rewriting offsets file", "err", err)
	}
}
