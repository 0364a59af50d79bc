package broker

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/octofabric/octopus/internal/log"
)

// topicConfig is one topic-level configuration Octopus understands, named
// and valued as in Apache Kafka.
type topicConfig struct {
	name  string
	kind  kmsg.ConfigType
	def   func(plog.Config) string         // the broker default, shown by DescribeConfigs
	apply func(*plog.Config, string) error // sets the log config from a value
}

var topicConfigs = map[string]topicConfig{}

func init() {
	for _, c := range []topicConfig{
		{"cleanup.policy", kmsg.ConfigTypeList, func(plog.Config) string { return "delete" }, func(_ *plog.Config, v string) error {
			if v != "delete" {
				return fmt.Errorf("cleanup.policy %q is not supported: Octopus has no log compaction yet, only \"delete\"", v)
			}
			return nil
		}},
		{"retention.ms", kmsg.ConfigTypeLong, func(c plog.Config) string { return durationMs(c.RetentionAge) }, func(c *plog.Config, v string) error {
			ms, err := parseLong(v, -1)
			c.RetentionAge = msDuration(ms)
			return err
		}},
		{"retention.bytes", kmsg.ConfigTypeLong, func(c plog.Config) string { return strconv.FormatInt(c.RetentionBytes, 10) }, func(c *plog.Config, v string) error {
			n, err := parseLong(v, -1)
			c.RetentionBytes = n
			return err
		}},
		{"segment.bytes", kmsg.ConfigTypeInt, func(c plog.Config) string { return strconv.FormatInt(c.SegmentBytes, 10) }, func(c *plog.Config, v string) error {
			n, err := parseInt(v, 14)
			c.SegmentBytes = int64(n)
			return err
		}},
		{"segment.ms", kmsg.ConfigTypeLong, func(c plog.Config) string { return durationMs(c.SegmentAge) }, func(c *plog.Config, v string) error {
			ms, err := parseLong(v, 1)
			c.SegmentAge = time.Duration(ms) * time.Millisecond
			return err
		}},
		{"max.message.bytes", kmsg.ConfigTypeInt, func(c plog.Config) string { return strconv.Itoa(int(c.MaxBatchBytes)) }, func(c *plog.Config, v string) error {
			n, err := parseInt(v, 0)
			c.MaxBatchBytes = n
			return err
		}},
		{"index.interval.bytes", kmsg.ConfigTypeInt, func(c plog.Config) string { return strconv.Itoa(int(c.IndexIntervalBytes)) }, func(c *plog.Config, v string) error {
			n, err := parseInt(v, 0)
			c.IndexIntervalBytes = n
			return err
		}},
		{"message.timestamp.type", kmsg.ConfigTypeString, func(c plog.Config) string { return timestampType(c.LogAppendTime) }, func(c *plog.Config, v string) error {
			switch v {
			case "CreateTime", "LogAppendTime":
				c.LogAppendTime = v == "LogAppendTime"
				return nil
			}
			return fmt.Errorf("must be CreateTime or LogAppendTime")
		}},
		{"message.timestamp.after.max.ms", kmsg.ConfigTypeLong, func(c plog.Config) string { return unlimitedMs(c.MaxTimestampAhead) }, func(c *plog.Config, v string) error {
			ms, err := parseLong(v, 0)
			c.MaxTimestampAhead = limitMs(ms)
			return err
		}},
		{"message.timestamp.before.max.ms", kmsg.ConfigTypeLong, func(c plog.Config) string { return unlimitedMs(c.MaxTimestampBehind) }, func(c *plog.Config, v string) error {
			ms, err := parseLong(v, 0)
			c.MaxTimestampBehind = limitMs(ms)
			return err
		}},
		{"compression.type", kmsg.ConfigTypeString, func(plog.Config) string { return "producer" }, func(_ *plog.Config, v string) error {
			if v != "producer" {
				return fmt.Errorf("compression.type %q is not supported: batches are stored as the producer compressed them (\"producer\")", v)
			}
			return nil
		}},
		{"min.insync.replicas", kmsg.ConfigTypeInt, func(plog.Config) string { return "1" }, func(_ *plog.Config, v string) error {
			if v != "1" {
				return fmt.Errorf("min.insync.replicas %q: a single-node broker has one replica", v)
			}
			return nil
		}},
	} {
		topicConfigs[c.name] = c
	}
}

// logConfig applies topic overrides to the broker's default log config.
func logConfig(base plog.Config, overrides map[string]string) (plog.Config, error) {
	cfg := base
	for k, v := range overrides {
		tc, ok := topicConfigs[k]
		if !ok {
			return cfg, fmt.Errorf("unknown or unsupported topic config name: %s", k)
		}
		if err := tc.apply(&cfg, v); err != nil {
			return cfg, fmt.Errorf("invalid value %q for configuration %s: %w", v, k, err)
		}
	}
	return cfg, nil
}

// effectiveLogConfig is the log config with the log package's defaults.
func (b *Broker) effectiveLogConfig() plog.Config { return b.cfg.Log.WithDefaults() }

// describeTopicConfigs lists a topic's configs, filtered to keys if any.
func (b *Broker) describeTopicConfigs(t *topic, keys []string, synonyms, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	defaults := b.effectiveLogConfig()
	names := keys
	if names == nil {
		for n := range topicConfigs {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, n := range names {
		tc, ok := topicConfigs[n]
		if !ok {
			continue
		}
		def := tc.def(defaults)
		rc := kmsg.NewDescribeConfigsResponseResourceConfig()
		rc.Name = n
		rc.ConfigType = tc.kind
		if v, ok := t.configs[n]; ok {
			rc.Value = kmsg.StringPtr(v)
			rc.Source = kmsg.ConfigSourceDynamicTopicConfig
			if synonyms {
				s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
				s.Name, s.Value, s.Source = n, kmsg.StringPtr(v), kmsg.ConfigSourceDynamicTopicConfig
				rc.ConfigSynonyms = append(rc.ConfigSynonyms, s)
			}
		} else {
			rc.Value = kmsg.StringPtr(def)
			rc.Source = kmsg.ConfigSourceDefaultConfig
			rc.IsDefault = true
		}
		if synonyms {
			s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			s.Name, s.Value, s.Source = n, kmsg.StringPtr(def), kmsg.ConfigSourceDefaultConfig
			rc.ConfigSynonyms = append(rc.ConfigSynonyms, s)
		}
		out = append(out, rc)
	}
	return out
}

// brokerConfigs are the broker-level settings DescribeConfigs reports.
func (b *Broker) brokerConfigs() map[string]string {
	d := b.effectiveLogConfig()
	return map[string]string{
		"broker.id":                 strconv.Itoa(int(nodeID)),
		"num.partitions":            strconv.Itoa(int(b.cfg.DefaultPartitions)),
		"auto.create.topics.enable": strconv.FormatBool(b.cfg.AutoCreateTopics),
		"socket.request.max.bytes":  strconv.Itoa(int(b.cfg.MaxRequestBytes)),
		"message.max.bytes":         strconv.Itoa(int(d.MaxBatchBytes)),
		"log.segment.bytes":         strconv.FormatInt(d.SegmentBytes, 10),
		"log.retention.ms":          durationMs(d.RetentionAge),
		"log.retention.bytes":       strconv.FormatInt(d.RetentionBytes, 10),
		"log.flush.policy":          b.cfg.Fsync.String(),
	}
}

// unlimitedMs shows a bound as Kafka does: no bound is Long.MAX_VALUE.
func unlimitedMs(d time.Duration) string {
	if d < 0 {
		return strconv.FormatInt(math.MaxInt64, 10)
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

// limitMs reads such a bound; 0 means none may differ, which the log
// expresses as the smallest positive duration.
func limitMs(ms int64) time.Duration {
	switch {
	case ms >= math.MaxInt64/int64(time.Millisecond):
		return -1
	case ms == 0:
		return time.Nanosecond
	}
	return time.Duration(ms) * time.Millisecond
}

func timestampType(logAppendTime bool) string {
	if logAppendTime {
		return "LogAppendTime"
	}
	return "CreateTime"
}

func durationMs(d time.Duration) string {
	if d < 0 {
		return "-1"
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

func msDuration(ms int64) time.Duration {
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

func parseLong(v string, min int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number")
	}
	if n < min {
		return 0, fmt.Errorf("must be at least %d", min)
	}
	return n, nil
}

func parseInt(v string, min int32) (int32, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("not a 32-bit number")
	}
	if int32(n) < min {
		return 0, fmt.Errorf("must be at least %d", min)
	}
	return int32(n), nil
}
