package fabric

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/store"
)

// TopicSpec is what a caller asks of a new topic.
type TopicSpec struct {
	Name        string            // short ("x") or full ("<namespace>.x")
	Partitions  int32             // 1..Config.MaxPartitions; 0: 1
	RetentionMs *int64            // sets retention.ms: -1 (forever) or > 0
	Configs     map[string]string // see topicConfigs
}

// TopicUpdate is a change to a topic; zero fields stay as they are.
type TopicUpdate struct {
	Partitions  int32              // > 0: the new count, not below the current one
	RetentionMs *int64             // sets retention.ms
	Configs     map[string]*string // a value sets a config, nil resets it to the default
}

// Access is what an identity may do with a topic.
type Access struct {
	Read  bool `json:"read"`
	Write bool `json:"write"`
}

// Topic is a topic as a caller sees it.
type Topic struct {
	Name       string            `json:"name"`
	Namespace  string            `json:"namespace"`
	Owner      string            `json:"owner"` // the owner's identity ID
	Owned      bool              `json:"owned"` // by the caller
	Access     Access            `json:"access"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	// Grants are the topic's grants, shown to its owner only.
	Grants []Grant `json:"grants,omitempty"`
}

func toTopic(t store.Topic, callerID string, a Access) Topic {
	owned := t.OwnerID == callerID
	if owned {
		a = Access{Read: true, Write: true}
	}
	return Topic{Name: t.Name, Namespace: t.Namespace, Owner: t.OwnerID, Owned: owned, Access: a,
		Partitions: t.Partitions, Configs: t.Configs, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

// normalize checks a spec and returns its partition count and configs
// (retention folded in).
func (f *Fabric) normalize(s TopicSpec) (int32, map[string]string, error) {
	p := s.Partitions
	if p == 0 {
		p = 1
	}
	if p < 1 || p > f.cfg.MaxPartitions {
		return 0, nil, invalid("partitions", "invalid_partitions", "partitions must be between 1 and %d", f.cfg.MaxPartitions)
	}
	cs := maps.Clone(s.Configs)
	if cs == nil {
		cs = map[string]string{}
	}
	if err := checkConfigs(cs); err != nil {
		return 0, nil, err
	}
	if s.RetentionMs != nil {
		if err := checkRetention(*s.RetentionMs); err != nil {
			return 0, nil, err
		}
		v := strconv.FormatInt(*s.RetentionMs, 10)
		if old, ok := cs["retention.ms"]; ok && old != v {
			return 0, nil, invalid("retention_ms", "invalid_config", "retention and configs[\"retention.ms\"] differ")
		}
		cs["retention.ms"] = v
	}
	return p, cs, nil
}

func checkRetention(ms int64) error {
	if ms < -1 || ms == 0 {
		return invalid("retention_ms", "invalid_retention", "retention must be -1 (forever) or a positive number of milliseconds")
	}
	return nil
}

// CreateTopic creates a topic in the caller's namespace and returns it. The
// same request again returns the same topic; a different spec for an
// existing name is a Conflict. The topic is in the event plane's metadata
// when CreateTopic returns. A topic that exists in the event plane but not
// in the store (created by one of the owner's keys with CreateTopics, which
// the namespace ACLs allow) is adopted as it is.
func (f *Fabric) CreateTopic(ctx context.Context, c Caller, spec TopicSpec) (Topic, error) {
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return Topic{}, err
	}
	full, own, err := resolveTopic(id.Namespace, spec.Name)
	if err != nil {
		return Topic{}, err
	}
	if !own {
		return Topic{}, forbidden("not_your_namespace", "topics can be created only in your namespace %q", id.Namespace)
	}
	parts, configs, err := f.normalize(spec)
	if err != nil {
		return Topic{}, err
	}
	row, err := f.store.CreateTopic(ctx, store.Topic{Name: full, Namespace: id.Namespace, OwnerID: id.ID,
		Partitions: parts, Configs: configs})
	inserted := err == nil
	if isStoreConflict(err) {
		// A repeat, or a clash: compare with what is stored.
		old, gerr := f.store.GetTopic(ctx, full)
		if gerr != nil {
			return Topic{}, storeErr("create topic", gerr)
		}
		if old.OwnerID != id.ID || old.Partitions != parts || !maps.Equal(old.Configs, configs) {
			return Topic{}, conflict("topic_exists", "topic %q exists with another spec", full)
		}
		row = old
	} else if err != nil {
		return Topic{}, storeErr("create topic", err)
	}
	if inserted {
		// A literal ACL left on this name by an earlier topic (a key
		// created on another instance while that topic was deleted) must
		// not give anyone access to the new one.
		f.topicMu.Lock()
		err := f.deleteACLs(ctx, []binding{topicFilter(full)})
		f.topicMu.Unlock()
		if err != nil {
			if derr := f.store.DeleteTopic(context.WithoutCancel(ctx), full); derr != nil {
				f.log.Warn("forgetting a topic that failed", "topic", full, "err", derr)
			}
			return Topic{}, err
		}
	}
	if err := f.createInKafka(ctx, row); err != nil {
		if inserted {
			// Forget the topic; should the event plane have created it
			// after all, the same request again adopts it.
			if derr := f.store.DeleteTopic(context.WithoutCancel(ctx), full); derr != nil {
				f.log.Warn("forgetting a refused topic", "topic", full, "err", derr)
			}
		}
		return Topic{}, err
	}
	return toTopic(row, id.ID, Access{}), nil
}

// createInKafka creates t in the event plane (an existing one is kept) and
// waits until Metadata shows its partitions with leaders.
func (f *Fabric) createInKafka(ctx context.Context, t store.Topic) error {
	cs := make(map[string]*string, len(t.Configs))
	for k, v := range t.Configs {
		cs[k] = kadm.StringPtr(v)
	}
	err := f.retry(ctx, "create topic", func(ctx context.Context) (bool, error) {
		_, err := f.adm.CreateTopic(ctx, t.Partitions, f.cfg.ReplicationFactor, cs, t.Name)
		switch {
		case err == nil || errors.Is(err, kerr.TopicAlreadyExists):
			return true, nil
		case errors.Is(err, kerr.InvalidConfig), errors.Is(err, kerr.InvalidPartitions),
			errors.Is(err, kerr.InvalidTopicException), errors.Is(err, kerr.PolicyViolation),
			errors.Is(err, kerr.InvalidRequest), errors.Is(err, kerr.InvalidReplicationFactor):
			return false, kafkaErr("create topic", err)
		}
		return false, err // e.g. a deletion still under way
	})
	if err != nil {
		return err
	}
	return f.waitTopic(ctx, t.Name, t.Partitions)
}

// topicMetadata asks the event plane for topic's metadata, past kgo's
// metadata cache (which would hide a new or deleted topic for seconds).
func (f *Fabric) topicMetadata(ctx context.Context, topic string) (kmsg.MetadataResponseTopic, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, f.kcl)
	if err != nil {
		return kmsg.MetadataResponseTopic{}, err
	}
	for _, t := range resp.Topics {
		if t.Topic != nil && *t.Topic == topic {
			return t, nil
		}
	}
	return kmsg.MetadataResponseTopic{}, fmt.Errorf("topic %q missing from the metadata answer", topic)
}

// waitTopic waits until Metadata shows topic with at least n partitions,
// each with a leader.
func (f *Fabric) waitTopic(ctx context.Context, topic string, n int32) error {
	return f.retry(ctx, "wait for topic", func(ctx context.Context) (bool, error) {
		t, err := f.topicMetadata(ctx, topic)
		if err != nil {
			return false, err
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return false, fmt.Errorf("topic %q not in metadata yet: %w", topic, err)
		}
		if int32(len(t.Partitions)) < n {
			return false, fmt.Errorf("topic %q has %d of %d partitions", topic, len(t.Partitions), n)
		}
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 {
				return false, fmt.Errorf("partition %d of %q has no leader yet", p.Partition, topic)
			}
		}
		return true, nil
	})
}

// waitGone waits until Metadata no longer knows topic.
func (f *Fabric) waitGone(ctx context.Context, topic string) error {
	defer f.kcl.PurgeTopicsFromClient(topic)
	return f.retry(ctx, "wait for topic deletion", func(ctx context.Context) (bool, error) {
		t, err := f.topicMetadata(ctx, topic)
		if err != nil {
			return false, err
		}
		if t.ErrorCode == kerr.UnknownTopicOrPartition.Code {
			return true, nil
		}
		return false, fmt.Errorf("topic %q still exists", topic)
	})
}

// access is what the caller may do with a topic it named.
type access struct {
	topic store.Topic
	owner bool
	grant Access
}

// lookup finds the topic a caller names and checks that the caller owns it
// (ownerOnly) or holds a grant on it. 403 or 404: a topic in the caller's
// namespace that does not exist is NotFound; in another namespace, a topic
// the caller may not use is Forbidden whether it exists or not, so that
// nobody learns which topics other namespaces have.
func (f *Fabric) lookup(ctx context.Context, id store.Identity, name string, ownerOnly bool) (access, error) {
	full, own, err := resolveTopic(id.Namespace, name)
	if err != nil {
		return access{}, err
	}
	t, err := f.store.GetTopic(ctx, full)
	if err != nil && !isStoreNotFound(err) {
		return access{}, storeErr("get topic", err)
	}
	exists := err == nil
	if own {
		if !exists {
			return access{}, notFound("topic_not_found", "no topic %q", full)
		}
		if t.OwnerID != id.ID {
			return access{}, forbidden("not_owner", "topic %q belongs to another identity", full)
		}
		return access{topic: t, owner: true}, nil
	}
	denied := forbidden("no_access", "you have no access to topic %q", full)
	if !exists {
		return access{}, denied
	}
	if t.OwnerID == id.ID { // an identity whose namespace changed
		return access{topic: t, owner: true}, nil
	}
	g, err := f.store.GetGrant(ctx, full, id.ID)
	if isStoreNotFound(err) || err == nil && !g.Read && !g.Write {
		return access{}, denied
	}
	if err != nil {
		return access{}, storeErr("get grant", err)
	}
	if ownerOnly {
		return access{}, forbidden("not_owner", "only the owner of topic %q may do this", full)
	}
	return access{topic: t, grant: Access{Read: g.Read, Write: g.Write}}, nil
}

// ListTopics returns the topics the caller owns or holds a grant on, in
// name order.
func (f *Fabric) ListTopics(ctx context.Context, c Caller) ([]Topic, error) {
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return nil, err
	}
	ts, err := f.store.ListTopicsVisibleTo(ctx, id.ID, store.Page{})
	if err != nil {
		return nil, storeErr("list topics", err)
	}
	out := make([]Topic, 0, len(ts))
	for _, t := range ts {
		var a Access
		if t.OwnerID != id.ID {
			g, err := f.store.GetGrant(ctx, t.Name, id.ID)
			if err != nil && !isStoreNotFound(err) {
				return nil, storeErr("list topics", err)
			}
			a = Access{Read: g.Read, Write: g.Write}
		}
		out = append(out, toTopic(t, id.ID, a))
	}
	return out, nil
}

// GetTopic describes a topic the caller owns or holds a grant on: its
// partition count as the event plane has it, its configs, its owner, and
// for the owner its grants.
func (f *Fabric) GetTopic(ctx context.Context, c Caller, name string) (Topic, error) {
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return Topic{}, err
	}
	a, err := f.lookup(ctx, id, name, false)
	if err != nil {
		return Topic{}, err
	}
	t := toTopic(a.topic, id.ID, a.grant)
	md, err := f.topicMetadata(ctx, t.Name)
	if err != nil {
		return Topic{}, kafkaErr("describe topic", err)
	}
	if md.ErrorCode == 0 {
		t.Partitions = int32(len(md.Partitions))
	}
	if a.owner {
		if t.Grants, err = f.grants(ctx, t.Name); err != nil {
			return Topic{}, err
		}
	}
	return t, nil
}

// UpdateTopic changes a topic's partition count (up only) and configs;
// owner only.
func (f *Fabric) UpdateTopic(ctx context.Context, c Caller, name string, u TopicUpdate) (Topic, error) {
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return Topic{}, err
	}
	a, err := f.lookup(ctx, id, name, true)
	if err != nil {
		return Topic{}, err
	}
	t := a.topic
	if u.Partitions != 0 && (u.Partitions < t.Partitions || u.Partitions > f.cfg.MaxPartitions) {
		return Topic{}, invalid("partitions", "invalid_partitions", "partitions can only grow, from %d up to %d", t.Partitions, f.cfg.MaxPartitions)
	}
	configs := maps.Clone(t.Configs)
	var alter []kadm.AlterConfig
	set := map[string]string{}
	for k, v := range u.Configs {
		if v == nil {
			if _, ok := topicConfigs[k]; !ok {
				return Topic{}, invalid("configs."+k, "unknown_config", "config %q cannot be set", k)
			}
			delete(configs, k)
			alter = append(alter, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			continue
		}
		set[k] = *v
	}
	if u.RetentionMs != nil {
		if err := checkRetention(*u.RetentionMs); err != nil {
			return Topic{}, err
		}
		set["retention.ms"] = strconv.FormatInt(*u.RetentionMs, 10)
	}
	if err := checkConfigs(set); err != nil {
		return Topic{}, err
	}
	for k, v := range set {
		configs[k] = v
		alter = append(alter, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)})
	}
	if u.Partitions > t.Partitions {
		rs, err := f.adm.UpdatePartitions(ctx, int(u.Partitions), t.Name)
		if err == nil {
			err = rs.Error()
		}
		if err != nil {
			return Topic{}, kafkaErr("add partitions", err)
		}
	}
	if len(alter) > 0 {
		rs, err := f.adm.AlterTopicConfigs(ctx, alter, t.Name)
		if err == nil {
			for _, r := range rs {
				if r.Err != nil {
					err = r.Err
					break
				}
			}
		}
		if err != nil {
			return Topic{}, kafkaErr("alter configs", err)
		}
	}
	row, err := f.store.UpdateTopic(ctx, t.Name, store.TopicUpdate{Partitions: u.Partitions, Configs: configs})
	if err != nil {
		return Topic{}, storeErr("update topic", err)
	}
	if u.Partitions > t.Partitions {
		if err := f.waitTopic(ctx, t.Name, u.Partitions); err != nil {
			return Topic{}, err
		}
	}
	return toTopic(row, id.ID, Access{}), nil
}

// DeleteTopic deletes a topic, its grants and every literal ACL on it;
// owner only. Deleting a topic of the caller's namespace that does not
// exist is NotFound.
func (f *Fabric) DeleteTopic(ctx context.Context, c Caller, name string) error {
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return err
	}
	a, err := f.lookup(ctx, id, name, true)
	if err != nil {
		return err
	}
	f.topicMu.Lock()
	defer f.topicMu.Unlock()
	if err := f.deleteInKafka(ctx, a.topic.Name); err != nil {
		return err
	}
	if err := f.deleteACLs(ctx, []binding{topicFilter(a.topic.Name)}); err != nil {
		return err
	}
	if err := f.store.DeleteTopic(ctx, a.topic.Name); err != nil && !isStoreNotFound(err) {
		return storeErr("delete topic", err)
	}
	f.log.Info("topic deleted", "topic", a.topic.Name, "owner", id.ID)
	return nil
}

// topicFilter matches every literal ACL on topic.
func topicFilter(topic string) binding {
	return binding{rt: kmsg.ACLResourceTypeTopic, name: topic, pattern: kmsg.ACLResourcePatternTypeLiteral, op: kmsg.ACLOperationAny}
}

func (f *Fabric) deleteInKafka(ctx context.Context, topic string) error {
	r, err := f.adm.DeleteTopic(ctx, topic)
	if err == nil {
		err = r.Err
	}
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return kafkaErr("delete topic", err)
	}
	return f.waitGone(ctx, topic)
}

// RecreateTopic deletes a topic's data: the topic is deleted and, once the
// event plane no longer has it, created again with the same spec. Grants
// and their ACLs stay. Owner only.
func (f *Fabric) RecreateTopic(ctx context.Context, c Caller, name string) (Topic, error) {
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return Topic{}, err
	}
	a, err := f.lookup(ctx, id, name, true)
	if err != nil {
		return Topic{}, err
	}
	if err := f.deleteInKafka(ctx, a.topic.Name); err != nil {
		return Topic{}, err
	}
	if err := f.createInKafka(ctx, a.topic); err != nil {
		return Topic{}, err
	}
	f.log.Info("topic recreated", "topic", a.topic.Name, "owner", id.ID)
	return toTopic(a.topic, id.ID, Access{}), nil
}
