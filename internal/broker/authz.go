package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// Kafka's default messages for the authorization errors (Errors.java), sent
// where Kafka sends error.message().
const (
	msgTopicAuthFailed   = "Topic authorization failed."
	msgGroupAuthFailed   = "Group authorization failed."
	msgClusterAuthFailed = "Cluster authorization failed."
	msgTxnAuthFailed     = "Transactional Id authorization failed."
)

// authorizedOpsOmitted is the authorized-operations value of a response
// that was not asked for them (Integer.MIN_VALUE in Kafka's schemas).
const authorizedOpsOmitted int32 = -2147483648

// permits is allowed without counting a denial: for the checks Kafka makes
// with logIfDenied=false, where a "no" filters a listing or picks another
// path rather than refusing the request (topics hidden from an all-topics
// Metadata, CREATE on the cluster before CREATE on each topic).
func (r *request) permits(op acl.Operation, rt acl.ResourceType, name string) bool {
	a := r.c.b.authz
	return a == nil || a.Authorize(r.c.principal, r.c.host, op, rt, name)
}

// permitsCluster is permits on the cluster resource.
func (r *request) permitsCluster(op acl.Operation) bool {
	return r.permits(op, acl.Cluster, acl.ClusterName)
}

// topicChecker answers "is op allowed on this topic" once per name, as
// Kafka's filterByAuthorized asks the authorizer once per distinct name.
// Most requests name one topic, so the last answer is kept without a map.
type topicChecker struct {
	r        *request
	op       acl.Operation
	last     string
	lastOK   bool
	haveLast bool
	seen     map[string]bool
}

func (r *request) topicChecker(op acl.Operation) *topicChecker {
	return &topicChecker{r: r, op: op}
}

func (tc *topicChecker) ok(name string) bool {
	if tc.r.c.b.authz == nil {
		return true
	}
	if tc.haveLast && name == tc.last {
		return tc.lastOK
	}
	v, done := tc.seen[name]
	if !done {
		v = tc.r.allowed(tc.op, acl.Topic, name)
		if tc.haveLast {
			if tc.seen == nil {
				tc.seen = map[string]bool{tc.last: tc.lastOK}
			}
			tc.seen[name] = v
		}
	}
	tc.last, tc.lastOK, tc.haveLast = name, v, true
	return v
}

// configResourceAuth maps a config resource (DescribeConfigs, AlterConfigs,
// IncrementalAlterConfigs) to the ACL resource Kafka checks and the error
// it answers when that check fails. known is false for types Kafka does not
// authorize (they fail for other reasons).
func configResourceAuth(kind int8, name string) (rt acl.ResourceType, rname string, fail *kerr.Error, known bool) {
	switch kind {
	case 2: // TOPIC
		return acl.Topic, name, kerr.TopicAuthorizationFailed, true
	case 4, 8, 16: // BROKER, BROKER_LOGGER, CLIENT_METRICS
		return acl.Cluster, acl.ClusterName, kerr.ClusterAuthorizationFailed, true
	case 32: // GROUP
		return acl.Group, name, kerr.GroupAuthorizationFailed, true
	}
	return 0, "", nil, false
}

// authMessage is Kafka's default message for an authorization error code.
func authMessage(e *kerr.Error) string {
	switch e {
	case kerr.TopicAuthorizationFailed:
		return msgTopicAuthFailed
	case kerr.GroupAuthorizationFailed:
		return msgGroupAuthFailed
	case kerr.ClusterAuthorizationFailed:
		return msgClusterAuthFailed
	case kerr.TransactionalIDAuthorizationFailed:
		return msgTxnAuthFailed
	}
	return e.Message
}
