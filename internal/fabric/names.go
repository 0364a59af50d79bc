package fabric

import (
	"strconv"
	"strings"
)

// MaxTopicName is Kafka's limit on a topic name's length.
const MaxTopicName = 249

// topicConfigs are the topic configs owners may set, with whether the
// value is an integer (checked here; the event plane checks the rest).
var topicConfigs = map[string]bool{
	"cleanup.policy":    false,
	"retention.ms":      true,
	"retention.bytes":   true,
	"segment.bytes":     true,
	"segment.ms":        true,
	"max.message.bytes": true,
}

// legalTopicChar is Kafka's topic alphabet, [a-zA-Z0-9._-].
func legalTopicChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-'
}

// resolveTopic turns a topic name as a caller gives it into the full name
// and says whether it lies in namespace ns:
//
//   - a name without a dot is short: "x" is "ns.x";
//   - a name with a dot is full: its namespace is the part before the
//     first dot ("bob.x" is in namespace bob, and "a.b" is not ns's
//     "ns.a.b"; name that in full).
//
// Names must use Kafka's alphabet [a-zA-Z0-9._-] (so no "/", "\" or
// spaces: path tricks fail here), must not start or end with a dot, and
// the full name must fit Kafka's 249 characters.
func resolveTopic(ns, name string) (full string, own bool, err error) {
	switch {
	case name == "":
		return "", false, invalid("name", "invalid_name", "a topic name is required")
	case len(name) > MaxTopicName:
		return "", false, invalid("name", "invalid_name", "the topic name is longer than %d characters", MaxTopicName)
	case strings.IndexFunc(name, func(r rune) bool { return !legalTopicChar(r) }) >= 0:
		return "", false, invalid("name", "invalid_name", "a topic name may contain only letters, digits, '.', '_' and '-'")
	case name[0] == '.' || name[len(name)-1] == '.':
		return "", false, invalid("name", "invalid_name", "a topic name must not start or end with '.'")
	}
	seg, _, full0 := strings.Cut(name, ".")
	if !full0 {
		full = ns + "." + name
		if len(full) > MaxTopicName {
			return "", false, invalid("name", "invalid_name", "the full topic name %q is longer than %d characters", full[:20]+"…", MaxTopicName)
		}
		return full, true, nil
	}
	return name, seg == ns, nil
}

// checkConfigs checks the names and values of topic configs.
func checkConfigs(cs map[string]string) error {
	for k, v := range cs {
		isInt, ok := topicConfigs[k]
		if !ok {
			return invalid("configs."+k, "unknown_config", "config %q cannot be set; settable: cleanup.policy, retention.ms, retention.bytes, segment.bytes, segment.ms, max.message.bytes", k)
		}
		if v == "" || len(v) > 100 {
			return invalid("configs."+k, "invalid_config", "config %q needs a value of 1 to 100 characters", k)
		}
		if isInt {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return invalid("configs."+k, "invalid_config", "config %q must be an integer", k)
			}
		}
	}
	return nil
}
