package client

import (
	"encoding/json"
	"time"
)

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

// TriggerRequest is the body of POST /api/v1/triggers: a new trigger.
// Zero fields are not sent and take the server's defaults (batch size 100,
// batching window 500 ms, start "latest", enabled, …).
type TriggerRequest struct {
	Name string `json:"name"`
	// Topic is the one source topic (short or full); or give Topics.
	Topic  string   `json:"topic,omitempty"`
	Topics []string `json:"topics,omitempty"`
	// Filter is a JSON array of up to 5 event patterns; nil: every record.
	Filter json.RawMessage `json:"filter,omitempty"`
	Action TriggerAction   `json:"action"`
	// BatchSize is 1 to 10,000 records per call; 0: the default.
	BatchSize int `json:"batch_size,omitempty"`
	// BatchWindowMs is how long a batch may wait to fill; nil: 500, and
	// a pointer to 0 calls at once.
	BatchWindowMs   *int                `json:"batch_window_ms,omitempty"`
	Start           string              `json:"start,omitempty"` // earliest, latest or an RFC 3339 time
	Concurrency     *TriggerConcurrency `json:"concurrency,omitempty"`
	Ordering        string              `json:"ordering,omitempty"` // partition or none
	Retry           *TriggerRetry       `json:"retry,omitempty"`
	DeadLetterTopic string              `json:"dead_letter_topic,omitempty"`
	Enabled         *bool               `json:"enabled,omitempty"` // nil: true
	// IdempotencyKey, if set, is sent as the Idempotency-Key header.
	IdempotencyKey string `json:"-"`
}

// TriggerAction is the HTTP call of a trigger. In answers, header values
// are "[redacted]".
type TriggerAction struct {
	URL       string            `json:"url"`
	Method    string            `json:"method,omitempty"` // POST (default) or PUT
	Headers   map[string]string `json:"headers,omitempty"`
	TimeoutMs int               `json:"timeout_ms,omitempty"`
}

// TriggerConcurrency bounds a trigger's batches in flight per instance.
type TriggerConcurrency struct {
	Min int `json:"min,omitempty"`
	Max int `json:"max,omitempty"`
}

// TriggerRetry is a trigger's retry policy.
type TriggerRetry struct {
	MaxAttempts    int   `json:"max_attempts,omitempty"`
	MaxRecordAgeMs int64 `json:"max_record_age_ms,omitempty"` // -1: no limit
	BackoffMinMs   int   `json:"backoff_min_ms,omitempty"`
	BackoffMaxMs   int   `json:"backoff_max_ms,omitempty"`
}

// TriggerPatch is the body of PATCH /api/v1/triggers/{id}: only non-nil
// fields are sent and change.
type TriggerPatch struct {
	Name   *string  `json:"name,omitempty"`
	Topics []string `json:"topics,omitempty"`
	// Filter replaces the filter; json.RawMessage("null") removes it.
	Filter          json.RawMessage     `json:"filter,omitempty"`
	Action          *TriggerActionPatch `json:"action,omitempty"`
	BatchSize       *int                `json:"batch_size,omitempty"`
	BatchWindowMs   *int                `json:"batch_window_ms,omitempty"`
	Start           *string             `json:"start,omitempty"`
	Concurrency     *TriggerConcurrency `json:"concurrency,omitempty"`
	Ordering        *string             `json:"ordering,omitempty"`
	Retry           *TriggerRetry       `json:"retry,omitempty"`
	DeadLetterTopic *string             `json:"dead_letter_topic,omitempty"` // "": remove it
	Enabled         *bool               `json:"enabled,omitempty"`
}

// TriggerActionPatch changes a trigger's action; Headers, when non-nil,
// replace all headers (an empty map removes them; nil is sent as null,
// which keeps them).
type TriggerActionPatch struct {
	URL       *string           `json:"url,omitempty"`
	Method    *string           `json:"method,omitempty"`
	Headers   map[string]string `json:"headers"`
	TimeoutMs *int              `json:"timeout_ms,omitempty"`
}

// Trigger is a trigger as its owner sees it: no secrets.
type Trigger struct {
	ID      string `json:"id"`
	Owner   string `json:"owner"`
	Version int64  `json:"version"` // +1 with every change
	// State is "enabled", "paused" or "blocked" (the owner lost access to
	// a topic; StateReason says which).
	State           string             `json:"state"`
	StateReason     string             `json:"state_reason,omitempty"`
	Name            string             `json:"name"`
	Topics          []string           `json:"topics"` // full names
	Filter          json.RawMessage    `json:"filter,omitempty"`
	Action          TriggerAction      `json:"action"`
	BatchSize       int                `json:"batch_size"`
	BatchWindowMs   int                `json:"batch_window_ms"`
	Start           string             `json:"start"`
	Concurrency     TriggerConcurrency `json:"concurrency"`
	Ordering        string             `json:"ordering"`
	Retry           TriggerRetry       `json:"retry"`
	DeadLetterTopic string             `json:"dead_letter_topic,omitempty"`
	Enabled         bool               `json:"enabled"`
	CreatedAt       time.Time          `json:"created_at"`
	UpdatedAt       time.Time          `json:"updated_at"`
}

// NewTrigger is the answer to CreateTrigger and RotateTriggerSecret.
type NewTrigger struct {
	Trigger
	// SigningSecret is the HMAC key of the trigger's signatures, in
	// unpadded base64url (decode it for VerifyWebhook); shown only here.
	// Empty when the create found the same trigger existing.
	SigningSecret string `json:"signing_secret,omitempty"`
	// SigningSecretRedacted is true in an idempotent replay.
	SigningSecretRedacted bool `json:"signing_secret_redacted,omitempty"`
}

// Invocation is one call of a trigger, or what became of a batch that
// failed for good, as its invocation log keeps it.
type Invocation struct {
	Trigger     string    `json:"trigger"`
	Delivery    string    `json:"delivery"`
	Time        time.Time `json:"time"`
	Status      string    `json:"status"` // ok, retry, failed, dead_lettered, dropped
	HTTPStatus  int       `json:"http_status,omitempty"`
	Attempt     int       `json:"attempt"`
	Records     int       `json:"records"`
	Topic       string    `json:"topic"`
	Partition   int32     `json:"partition"`
	FirstOffset int64     `json:"first_offset"`
	LastOffset  int64     `json:"last_offset"`
	LatencyMs   float64   `json:"latency_ms"`
	Error       string    `json:"error,omitempty"`
}

// TriggerLogQuery selects invocations; zero fields select all.
type TriggerLogQuery struct {
	Status string // ok, retry, failed, dead_lettered or dropped
	// Since and Until are RFC 3339 times or durations before now ("1h").
	Since, Until string
	Limit        int // 1 to 1000; 0: the server's default (100)
}

// FilterTestRequest is the body of POST /api/v1/filters/test.
type FilterTestRequest struct {
	Filter json.RawMessage  `json:"filter"`
	Record FilterTestRecord `json:"record"`
}

// FilterTestRecord is the record a filter is tried on.
type FilterTestRecord struct {
	// Value is any JSON: a JSON string is the value's bytes, anything else
	// its JSON text; nil: a null value.
	Value     json.RawMessage   `json:"value,omitempty"`
	Key       *string           `json:"key,omitempty"` // nil: no key
	Headers   map[string]string `json:"headers,omitempty"`
	Topic     string            `json:"topic,omitempty"`
	Partition int32             `json:"partition,omitempty"`
	Offset    int64             `json:"offset,omitempty"`
	Timestamp int64             `json:"timestamp,omitempty"` // ms since the epoch
}
