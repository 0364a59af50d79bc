package client

import (
	"context"
	"encoding/json"
)

const v1 = "/api/v1"

// OpenAPI returns the server's OpenAPI document (GET /api/v1/openapi.json).
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var doc json.RawMessage
	err := c.do(ctx, "GET", v1+"/openapi.json", nil, nil, &doc)
	return doc, err
}

// Me returns who the token is (GET /api/v1/me).
func (c *Client) Me(ctx context.Context) (Me, error) {
	var m Me
	err := c.do(ctx, "GET", v1+"/me", nil, nil, &m)
	return m, err
}

// CreateUser creates a local user and its token (POST /api/v1/users;
// administrators only).
func (c *Client) CreateUser(ctx context.Context, req UserRequest) (NewUser, error) {
	var u NewUser
	err := c.do(ctx, "POST", v1+"/users", idem(req.IdempotencyKey), req, &u)
	return u, err
}

// CreateKey creates a Kafka key of the caller (POST /api/v1/keys).
func (c *Client) CreateKey(ctx context.Context, req KeyRequest) (NewKey, error) {
	var k NewKey
	err := c.do(ctx, "POST", v1+"/keys", idem(req.IdempotencyKey), req, &k)
	return k, err
}

// ListKeys lists the caller's keys, without secrets (GET /api/v1/keys).
func (c *Client) ListKeys(ctx context.Context) ([]Key, error) {
	var out struct {
		Keys []Key `json:"keys"`
	}
	err := c.do(ctx, "GET", v1+"/keys", nil, nil, &out)
	return out.Keys, err
}

// RevokeKey deletes a key of the caller and ends its Kafka logins
// (DELETE /api/v1/keys/{id}).
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", v1+"/keys/"+seg(id), nil, nil, nil)
}

// CreateTopic creates a topic in the caller's namespace (POST
// /api/v1/topics); the answer names it in full.
func (c *Client) CreateTopic(ctx context.Context, req TopicRequest) (Topic, error) {
	var t Topic
	err := c.do(ctx, "POST", v1+"/topics", idem(req.IdempotencyKey), req, &t)
	return t, err
}

// ListTopics lists the topics the caller owns or is granted (GET
// /api/v1/topics).
func (c *Client) ListTopics(ctx context.Context) ([]Topic, error) {
	var out struct {
		Topics []Topic `json:"topics"`
	}
	err := c.do(ctx, "GET", v1+"/topics", nil, nil, &out)
	return out.Topics, err
}

// GetTopic returns a topic by its short or full name (GET
// /api/v1/topics/{topic}); its owner also gets its grants.
func (c *Client) GetTopic(ctx context.Context, topic string) (Topic, error) {
	var t Topic
	err := c.do(ctx, "GET", v1+"/topics/"+seg(topic), nil, nil, &t)
	return t, err
}

// UpdateTopic changes a topic's partitions, retention or configs (PATCH
// /api/v1/topics/{topic}).
func (c *Client) UpdateTopic(ctx context.Context, topic string, p TopicPatch) (Topic, error) {
	var t Topic
	err := c.do(ctx, "PATCH", v1+"/topics/"+seg(topic), nil, p, &t)
	return t, err
}

// DeleteTopic deletes a topic the caller owns (DELETE
// /api/v1/topics/{topic}).
func (c *Client) DeleteTopic(ctx context.Context, topic string) error {
	return c.do(ctx, "DELETE", v1+"/topics/"+seg(topic), nil, nil, nil)
}

// RecreateTopic recreates a topic the caller owns (POST
// /api/v1/topics/{topic}/recreate).
func (c *Client) RecreateTopic(ctx context.Context, topic string) (Topic, error) {
	var t Topic
	err := c.do(ctx, "POST", v1+"/topics/"+seg(topic)+"/recreate", nil, nil, &t)
	return t, err
}

// ListGrants lists a topic's grants (GET /api/v1/topics/{topic}/grants).
func (c *Client) ListGrants(ctx context.Context, topic string) ([]Grant, error) {
	var out struct {
		Grants []Grant `json:"grants"`
	}
	err := c.do(ctx, "GET", v1+"/topics/"+seg(topic)+"/grants", nil, nil, &out)
	return out.Grants, err
}

// PutGrant sets what identity (as Me answers it) may do with a topic the
// caller owns (PUT /api/v1/topics/{topic}/grants/{identity}).
func (c *Client) PutGrant(ctx context.Context, topic, identity string, a Access) (Grant, error) {
	var g Grant
	err := c.do(ctx, "PUT", v1+"/topics/"+seg(topic)+"/grants/"+seg(identity), nil, a, &g)
	return g, err
}

// DeleteGrant takes away an identity's access to a topic the caller owns
// (DELETE /api/v1/topics/{topic}/grants/{identity}).
func (c *Client) DeleteGrant(ctx context.Context, topic, identity string) error {
	return c.do(ctx, "DELETE", v1+"/topics/"+seg(topic)+"/grants/"+seg(identity), nil, nil, nil)
}

// TopicGroups returns the consumer groups of a topic and their lag (GET
// /api/v1/topics/{topic}/groups).
func (c *Client) TopicGroups(ctx context.Context, topic string) ([]GroupLag, error) {
	var out struct {
		Groups []GroupLag `json:"groups"`
	}
	err := c.do(ctx, "GET", v1+"/topics/"+seg(topic)+"/groups", nil, nil, &out)
	return out.Groups, err
}
