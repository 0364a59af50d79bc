package fabric

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestResolveTopic(t *testing.T) {
	long := strings.Repeat("a", MaxTopicName)
	cases := []struct {
		name      string
		full      string
		own       bool
		errCode   string // "" for no error
		errKind   Kind
		errFields string
	}{
		{name: "x", full: "ns.x", own: true},
		{name: "ns.x", full: "ns.x", own: true},
		{name: "ns.a.b", full: "ns.a.b", own: true},
		{name: "Under_score-1", full: "ns.Under_score-1", own: true},
		{name: "bob.x", full: "bob.x", own: false},
		{name: "a.b", full: "a.b", own: false},
		{name: "nsx.y", full: "nsx.y", own: false},
		{name: long[:MaxTopicName-3], full: "ns." + long[:MaxTopicName-3], own: true},
		{name: long[:MaxTopicName-2], errCode: "invalid_name"},
		{name: long, errCode: "invalid_name"},
		{name: long + "a", errCode: "invalid_name"},
		{name: "", errCode: "invalid_name"},
		{name: ".", errCode: "invalid_name"},
		{name: "..", errCode: "invalid_name"},
		{name: "../x", errCode: "invalid_name"},
		{name: "a/b", errCode: "invalid_name"},
		{name: `a\b`, errCode: "invalid_name"},
		{name: "%2e%2e", errCode: "invalid_name"},
		{name: "a b", errCode: "invalid_name"},
		{name: "a\x00", errCode: "invalid_name"},
		{name: "é", errCode: "invalid_name"},
		{name: ".x", errCode: "invalid_name"},
		{name: "x.", errCode: "invalid_name"},
		{name: "ns.", errCode: "invalid_name"},
	}
	for _, c := range cases {
		full, own, err := resolveTopic("ns", c.name)
		if c.errCode != "" {
			var e *Error
			if !errors.As(err, &e) || e.Kind != Invalid || e.Code != c.errCode || e.Field != "name" {
				t.Errorf("resolveTopic(%q) = %q, %v, %v; want %s on field name", c.name, full, own, err, c.errCode)
			}
			continue
		}
		if err != nil || full != c.full || own != c.own {
			t.Errorf("resolveTopic(%q) = %q, %v, %v; want %q, %v", c.name, full, own, err, c.full, c.own)
		}
	}
}

func TestCheckConfigs(t *testing.T) {
	cases := []struct {
		configs map[string]string
		field   string // "" for valid
	}{
		{nil, ""},
		{map[string]string{"retention.ms": "-1", "cleanup.policy": "delete", "max.message.bytes": "1048576"}, ""},
		{map[string]string{"retention.ms": "1h"}, "configs.retention.ms"},
		{map[string]string{"retention.bytes": ""}, "configs.retention.bytes"},
		{map[string]string{"cleanup.policy": strings.Repeat("x", 101)}, "configs.cleanup.policy"},
		{map[string]string{"min.insync.replicas": "1"}, "configs.min.insync.replicas"},
		{map[string]string{"message.downconversion.enable": "true"}, "configs.message.downconversion.enable"},
	}
	for _, c := range cases {
		err := checkConfigs(c.configs)
		var e *Error
		switch {
		case c.field == "" && err != nil:
			t.Errorf("checkConfigs(%v) = %v", c.configs, err)
		case c.field != "" && (!errors.As(err, &e) || e.Kind != Invalid || e.Field != c.field):
			t.Errorf("checkConfigs(%v) = %v; want Invalid on %s", c.configs, err, c.field)
		}
	}
}

func TestNormalizeSpec(t *testing.T) {
	f := &Fabric{cfg: Config{MaxPartitions: 10}}
	hour, zero := int64(3600_000), int64(0)
	p, cs, err := f.normalize(TopicSpec{RetentionMs: &hour})
	if err != nil || p != 1 || cs["retention.ms"] != "3600000" || len(cs) != 1 {
		t.Fatalf("normalize(retention 1h) = %d, %v, %v", p, cs, err)
	}
	if _, cs, err := f.normalize(TopicSpec{RetentionMs: &hour, Configs: map[string]string{"retention.ms": "3600000"}}); err != nil || len(cs) != 1 {
		t.Fatalf("normalize(retention twice, equal) = %v, %v", cs, err)
	}
	for _, bad := range []TopicSpec{
		{Partitions: 11},
		{Partitions: -1},
		{RetentionMs: &zero},
		{RetentionMs: &hour, Configs: map[string]string{"retention.ms": "1"}},
	} {
		if _, _, err := f.normalize(bad); KindOf(err) != Invalid {
			t.Errorf("normalize(%+v) = %v; want Invalid", bad, err)
		}
	}
}

func TestKeySpec(t *testing.T) {
	now := time.Now()
	later, earlier := now.Add(time.Hour), now.Add(-time.Second)
	for _, c := range []struct {
		spec  KeySpec
		field string
	}{
		{KeySpec{}, ""},
		{KeySpec{Description: "laptop ☕", ExpiresAt: &later}, ""},
		{KeySpec{Description: strings.Repeat("x", MaxKeyDescription+1)}, "description"},
		{KeySpec{Description: "a\tb"}, "description"},
		{KeySpec{Description: "\xff"}, "description"},
		{KeySpec{ExpiresAt: &earlier}, "expires_at"},
		{KeySpec{ExpiresAt: &now}, "expires_at"},
	} {
		err := checkKeySpec(c.spec, now)
		var e *Error
		if c.field == "" && err != nil || c.field != "" && (!errors.As(err, &e) || e.Field != c.field) {
			t.Errorf("checkKeySpec(%+v) = %v; want field %q", c.spec, err, c.field)
		}
	}
}

func TestKeyUsername(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		u := keyUsername("alice-2")
		if !strings.HasPrefix(u, "alice-2.k-") || len(u) != len("alice-2.k-")+12 ||
			strings.IndexFunc(u, func(r rune) bool { return !legalTopicChar(r) }) >= 0 || seen[u] {
			t.Fatalf("keyUsername = %q (or a repeat)", u)
		}
		seen[u] = true
	}
	if s := newSecret(); len(s) != 43 {
		t.Fatalf("newSecret = %q, want 43 characters", s)
	}
}

func TestConfigValidate(t *testing.T) {
	st := openStore(t)
	ok := Config{Store: st, Kafka: KafkaConfig{Bootstrap: []string{"127.0.0.1:9092"}, User: "admin", Password: "x"}}
	cases := []struct {
		name string
		mod  func(*Config)
		want string // "" for valid
	}{
		{"valid", func(*Config) {}, ""},
		{"plaintext admin", func(c *Config) { c.Kafka.SecurityProtocol = "plaintext"; c.Kafka.User, c.Kafka.Password = "", "" }, ""},
		{"no store", func(c *Config) { c.Store = nil }, "no metadata store"},
		{"no bootstrap", func(c *Config) { c.Kafka.Bootstrap = nil }, "no Kafka bootstrap"},
		{"bad bootstrap", func(c *Config) { c.Kafka.Bootstrap = []string{"localhost"} }, "bootstrap server"},
		{"bad client bootstrap", func(c *Config) { c.ClientBootstrap = []string{"kafka.example.org"} }, "bootstrap server"},
		{"bad protocol", func(c *Config) { c.Kafka.SecurityProtocol = "TLS" }, "security protocol"},
		{"no password", func(c *Config) { c.Kafka.Password = "" }, "user and password"},
		{"bad mechanism", func(c *Config) { c.Kafka.Mechanism = "GSSAPI" }, "mechanism"},
		{"plaintext clients", func(c *Config) { c.ClientSecurityProtocol = "PLAINTEXT" }, "client security protocol"},
	}
	for _, c := range cases {
		cfg := ok
		c.mod(&cfg)
		f, err := New(cfg)
		if f != nil {
			f.Close()
		}
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: New = %v; want %q", c.name, err, c.want)
		}
	}
}
