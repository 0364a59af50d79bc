package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Topic is the control plane's record of a Kafka topic: who owns it and
// what was asked for. The event plane holds the topic itself.
type Topic struct {
	Name       string // "<namespace>.<name>"; unique
	Namespace  string
	OwnerID    string // an identity
	Partitions int32  // at least 1
	Configs    map[string]string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// TopicUpdate is a change to a topic; zero fields stay as they are.
type TopicUpdate struct {
	Partitions int32             // > 0: the new partition count
	Configs    map[string]string // non-nil: replaces all configs
}

const topicColumns = "name, namespace, owner_id, partitions, configs, created_at, updated_at"

// topicColumnsT is topicColumns of the table aliased t.
const topicColumnsT = "t.name, t.namespace, t.owner_id, t.partitions, t.configs, t.created_at, t.updated_at"

func scanTopic(row rowScanner) (Topic, error) {
	var t Topic
	var configs []byte
	err := row.Scan(&t.Name, &t.Namespace, &t.OwnerID, &t.Partitions, &configs,
		scanTime{&t.CreatedAt}, scanTime{&t.UpdatedAt})
	if err != nil {
		return Topic{}, err
	}
	if err := json.Unmarshal(configs, &t.Configs); err != nil {
		return Topic{}, fmt.Errorf("topic %q: configs: %w", t.Name, err)
	}
	if t.Configs == nil {
		t.Configs = map[string]string{}
	}
	return t, nil
}

// configsJSON encodes configs as a JSON object ("{}" for none).
func configsJSON(c map[string]string) string {
	if len(c) == 0 {
		return "{}"
	}
	b, err := json.Marshal(c) // cannot fail for a map of strings
	if err != nil {
		panic(err)
	}
	return string(b)
}

// CreateTopic stores a new topic owned by an existing identity (else
// ErrNotFound) and returns it as stored: CreatedAt set to now if zero,
// UpdatedAt to CreatedAt. The name must be the namespace, a dot and at
// least one more character (else ErrInvalid); ErrConflict if it is taken.
func (o ops) CreateTopic(ctx context.Context, t Topic) (Topic, error) {
	op := fmt.Sprintf("create topic %q", t.Name)
	if err := required(op, "name", t.Name, "namespace", t.Namespace, "owner ID", t.OwnerID); err != nil {
		return Topic{}, err
	}
	if !strings.HasPrefix(t.Name, t.Namespace+".") || len(t.Name) == len(t.Namespace)+1 {
		return Topic{}, invalid(op, "the name is not in namespace %q", t.Namespace)
	}
	if t.Partitions < 1 {
		return Topic{}, invalid(op, "%d partitions, want at least 1", t.Partitions)
	}
	if t.Configs == nil {
		t.Configs = map[string]string{}
	}
	t.CreatedAt = o.clock(t.CreatedAt)
	t.UpdatedAt = t.CreatedAt
	_, err := o.w.ExecContext(ctx,
		"INSERT INTO topics ("+topicColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7)",
		t.Name, t.Namespace, t.OwnerID, t.Partitions, configsJSON(t.Configs),
		o.d.timeArg(t.CreatedAt), o.d.timeArg(t.UpdatedAt))
	if err != nil {
		return Topic{}, fail(op, err)
	}
	return t, nil
}

// GetTopic returns the topic with the given full name, or ErrNotFound.
func (o ops) GetTopic(ctx context.Context, name string) (Topic, error) {
	t, err := scanTopic(o.r.QueryRowContext(ctx, "SELECT "+topicColumns+" FROM topics WHERE name = $1", name))
	if err != nil {
		return Topic{}, fail(fmt.Sprintf("get topic %q", name), err)
	}
	return t, nil
}

// byNamespaceQuery lists namespace $1's topics named after $2, in name
// order, at most $3.
const byNamespaceQuery = "SELECT " + topicColumns + " FROM topics WHERE namespace = $1 AND name > $2 ORDER BY name LIMIT $3"

// ListTopicsByNamespace returns a page of a namespace's topics in name
// order.
func (o ops) ListTopicsByNamespace(ctx context.Context, namespace string, p Page) ([]Topic, error) {
	op := fmt.Sprintf("list topics of namespace %q", namespace)
	rows, err := o.r.QueryContext(ctx, byNamespaceQuery, namespace, p.After, p.limit())
	if err != nil {
		return nil, fail(op, err)
	}
	return collect(rows, op, scanTopic)
}

// visibleToQuery lists the topics identity $1 owns or holds a read or write
// grant on, named after $2, in name order, at most $3. A topic its owner
// also holds a grant on is listed once.
const visibleToQuery = `
	SELECT ` + topicColumns + ` FROM (
		SELECT ` + topicColumnsT + ` FROM topics t
		WHERE t.owner_id = $1 AND t.name > $2
		UNION ALL
		SELECT ` + topicColumnsT + ` FROM grants g JOIN topics t ON t.name = g.topic
		WHERE g.identity_id = $1 AND g.topic > $2 AND t.owner_id <> $1 AND (g.can_read OR g.can_write)
	) v ORDER BY name LIMIT $3`

// ListTopicsVisibleTo returns a page, in name order, of the topics an
// identity owns or holds a grant on (read, write or both). Each half of the
// query is an index range scan: topics_owner, and grants_identity joined to
// the topics' primary key.
func (o ops) ListTopicsVisibleTo(ctx context.Context, identityID string, p Page) ([]Topic, error) {
	op := fmt.Sprintf("list topics visible to %q", identityID)
	rows, err := o.r.QueryContext(ctx, visibleToQuery, identityID, p.After, p.limit())
	if err != nil {
		return nil, fail(op, err)
	}
	return collect(rows, op, scanTopic)
}

// UpdateTopic changes a topic's partition count and/or configs, sets
// UpdatedAt to now and returns the topic as stored; ErrNotFound if there is
// no such topic. The store does not judge the change (Kafka cannot shrink a
// topic; the caller checks).
func (o ops) UpdateTopic(ctx context.Context, name string, u TopicUpdate) (Topic, error) {
	op := fmt.Sprintf("update topic %q", name)
	if u.Partitions < 0 {
		return Topic{}, invalid(op, "%d partitions, want at least 1", u.Partitions)
	}
	var configs any // NULL: keep
	if u.Configs != nil {
		configs = configsJSON(u.Configs)
	}
	t, err := scanTopic(o.w.QueryRowContext(ctx, `
		UPDATE topics SET
			partitions = CASE WHEN $2 > 0 THEN $2 ELSE partitions END,
			configs = COALESCE($3, configs),
			updated_at = $4
		WHERE name = $1
		RETURNING `+topicColumns,
		name, u.Partitions, configs, o.d.timeArg(o.clock(time.Time{}))))
	if err != nil {
		return Topic{}, fail(op, err)
	}
	return t, nil
}

// DeleteTopic deletes a topic and its grants; ErrNotFound if there is no
// such topic.
func (o ops) DeleteTopic(ctx context.Context, name string) error {
	res, err := o.w.ExecContext(ctx, "DELETE FROM topics WHERE name = $1", name)
	return affectedOne(fmt.Sprintf("delete topic %q", name), res, err)
}
