package client

import "time"

// The types mirror the JSON of internal/api/openapi.json (components.schemas).

// Me is who the token is: GET /api/v1/me.
type Me struct {
	// Identity is the stable identity ID (`local:alice`,
	// `https://issuer|sub`), the {identity} of grant paths.
	Identity string `json:"identity"`
	Name     string `json:"name"`
	// Namespace prefixes the identity's topics (`<namespace>.<name>`) and
	// consumer groups.
	Namespace string `json:"namespace"`
	Admin     bool   `json:"admin"`
}

// UserRequest is the body of POST /api/v1/users (administrators only).
type UserRequest struct {
	Name string `json:"name"`
	// IdempotencyKey, if set, is sent as the Idempotency-Key header.
	IdempotencyKey string `json:"-"`
}

// NewUser is a local user just created, with its token.
type NewUser struct {
	Identity  string `json:"identity"`
	Token     string `json:"token,omitempty"` // absent in an idempotent replay
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// TokenRedacted is true in an idempotent replay, which has no token.
	TokenRedacted bool `json:"token_redacted,omitempty"`
}

// KeyRequest is the body of POST /api/v1/keys.
type KeyRequest struct {
	Description string     `json:"description,omitempty"` // e.g. the device
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`  // nil: never
	// IdempotencyKey, if set, is sent as the Idempotency-Key header.
	IdempotencyKey string `json:"-"`
}

// Key is a Kafka key as listed, without its secret.
type Key struct {
	ID            string     `json:"id"`
	Username      string     `json:"username"` // the SASL username
	SASLMechanism string     `json:"sasl_mechanism"`
	Description   string     `json:"description"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
}

// NewKey is a key just created: the only time its secret is shown.
type NewKey struct {
	Key
	Secret           string   `json:"secret,omitempty"`
	BootstrapServers []string `json:"bootstrap_servers"`
	// SecurityProtocol is SASL_PLAINTEXT or SASL_SSL.
	SecurityProtocol string          `json:"security_protocol"`
	ClientSettings   *ClientSettings `json:"client_settings,omitempty"`
	// CACert is the PEM certificate of the CA to trust on SASL_SSL, when
	// the server's certificate comes from a private CA.
	CACert string `json:"ca_cert,omitempty"`
	// SecretRedacted is true in an idempotent replay, which carries
	// neither Secret nor ClientSettings.
	SecretRedacted bool `json:"secret_redacted,omitempty"`
}

// ClientSettings are ready-to-paste client configurations of a key.
type ClientSettings struct {
	Librdkafka     map[string]string `json:"librdkafka,omitempty"`
	KafkaPython    map[string]string `json:"kafka_python,omitempty"`
	JavaProperties string            `json:"java_properties,omitempty"`
	FranzGo        string            `json:"franz_go,omitempty"`
}

// TopicRequest is the body of POST /api/v1/topics.
type TopicRequest struct {
	Name        string            `json:"name"`                   // short or full
	Partitions  int32             `json:"partitions,omitempty"`   // 0: the server's default (1)
	RetentionMS *int64            `json:"retention_ms,omitempty"` // -1: forever
	Configs     map[string]string `json:"configs,omitempty"`
	// IdempotencyKey, if set, is sent as the Idempotency-Key header.
	IdempotencyKey string `json:"-"`
}

// TopicPatch is the body of PATCH /api/v1/topics/{topic}; nil fields are
// left alone.
type TopicPatch struct {
	Partitions  *int32 `json:"partitions,omitempty"` // the new count; only up
	RetentionMS *int64 `json:"retention_ms,omitempty"`
	// Configs: a value sets a config, nil resets it to the default.
	Configs map[string]*string `json:"configs,omitempty"`
}

// Access is what an identity may do with a topic.
type Access struct {
	Read  bool `json:"read"`
	Write bool `json:"write"`
}

// Topic is a topic as the caller sees it.
type Topic struct {
	Name       string            `json:"name"` // the full name
	Namespace  string            `json:"namespace"`
	Owner      string            `json:"owner"` // the owner's identity
	Owned      bool              `json:"owned"` // by the caller
	Access     Access            `json:"access"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	Grants     []Grant           `json:"grants,omitempty"` // for the owner, by GetTopic
}

// Grant is what one identity may do with a topic.
type Grant struct {
	Identity  string    `json:"identity"`
	Name      string    `json:"name,omitempty"`
	Namespace string    `json:"namespace,omitempty"`
	Read      bool      `json:"read"`
	Write     bool      `json:"write"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// GroupLag is a consumer group's position in a topic.
type GroupLag struct {
	Group      string         `json:"group"`
	State      string         `json:"state"`
	Members    int            `json:"members"`
	Lag        int64          `json:"lag"` // over partitions with a known lag
	Partitions []PartitionLag `json:"partitions"`
}

// PartitionLag is a group's position in one partition.
type PartitionLag struct {
	Partition int32 `json:"partition"`
	Committed int64 `json:"committed"` // -1: no commit
	End       int64 `json:"end"`
	Lag       int64 `json:"lag"` // -1: unknown
}
