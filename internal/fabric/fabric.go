// Package fabric is the control plane's domain logic: identities and their
// namespaces, keys (Kafka credentials), topics, grants, consumer-group lag
// and managed triggers (triggers.go). The REST API, the CLI (through the
// REST API) and tests call the same methods; no business rule lives in a
// transport.
//
// Fabric keeps its records in the metadata store (internal/store) and
// drives the event plane — the embedded broker or an Apache Kafka cluster —
// only through the Kafka protocol, as a super user, with franz-go's kadm
// and kmsg: topics with CreateTopics, DeleteTopics, CreatePartitions and
// IncrementalAlterConfigs, keys with AlterUserScramCredentials, access with
// CreateAcls and DeleteAcls. So every method works the same on both planes.
//
// # Names and principals
//
// An identity owns the namespace NS ([a-z0-9-], no dots; see
// internal/identity.NamespaceFor). Its topics are "NS.<name>", and its
// consumer groups must be named "NS.<anything>".
//
// Each key is its own SCRAM-SHA-512 user "NS.k-<12 random base32 chars>"
// (principal "User:NS.k-…"), so keys of one identity are independent: a new
// key never touches another, and revoking one ends only its logins. A key
// username contains ".k-" and so can never be a namespace, the super user
// "admin", or another identity's key.
//
// # ACLs
//
// Every active key of an identity with namespace NS holds (all ALLOW, host *):
//
//	TOPIC  PREFIXED "NS."  READ WRITE DESCRIBE CREATE DELETE ALTER DESCRIBE_CONFIGS ALTER_CONFIGS
//	GROUP  PREFIXED "NS."  READ DESCRIBE DELETE
//
// and, for each grant of a topic T to the identity:
//
//	TOPIC  LITERAL  T      READ DESCRIBE   (read)
//	TOPIC  LITERAL  T      WRITE DESCRIBE  (write)
//
// Since namespaces contain no dot, the prefix "NS." matches NS's topics and
// groups only. Producing needs no cluster ACL: Kafka (KIP-679) and the
// embedded broker let a principal with WRITE on some topic use idempotent
// producers.
//
// # Topics
//
// A name without a dot is short ("x" is "NS.x"); a name with a dot is full,
// and its namespace is the part before the first dot. Names use Kafka's
// alphabet [a-zA-Z0-9._-] (so "../x" and "a/b" are invalid), do not start
// or end with a dot, and the full name has at most 249 characters. A topic
// has 1 to Config.MaxPartitions (default 1000) partitions; owners may set
// cleanup.policy, retention.ms, retention.bytes, segment.bytes, segment.ms
// and max.message.bytes. Create calls are idempotent: the same spec again
// answers the existing topic.
//
// # Errors: 403 or 404
//
// Every method returns *Error. A topic in the caller's own namespace that
// does not exist is NotFound. A topic in another namespace that the caller
// holds no grant on is Forbidden whether or not it exists, so that no one
// learns another namespace's topics by probing; a grantee asking for an
// owner-only operation is Forbidden too. Another identity's key is
// NotFound, as if it did not exist.
//
// # Revoked keys and open connections
//
// RevokeKey deletes the key's ACLs and its SCRAM credential; when it
// returns, new logins with the key fail (SASL_AUTHENTICATION_FAILED).
// Neither Apache Kafka nor the embedded broker closes connections that
// authenticated before: they stay open, but with the ACLs gone every
// request on them that touches a topic or group is denied. The lever to
// end them is the event plane's connections.max.reauth.ms (KIP-368; the
// embedded broker's SecurityConfig.MaxReauth, `octopus serve --max-reauth`):
// a client must re-authenticate within it, which fails once the
// credential is gone, and the broker closes the connection.
//
// # Waiting for the event plane
//
// Kafka applies credential and ACL changes asynchronously (each broker
// replays the metadata log). Fabric's methods return when the change is in
// effect on the broker that answered: CreateKey logs in with the new key
// and checks that it may describe its namespace; RevokeKey proves the old
// secret is refused before it returns; grant changes wait until
// DescribeAcls shows them; CreateTopic waits until Metadata shows the topic
// with leaders; RecreateTopic waits until the old topic is gone. Each wait
// retries with backoff up to Config.Wait, then fails with Unavailable.
//
// # Concurrency
//
// A Fabric is safe for concurrent use. Changes that write the ACLs of an
// identity's keys (its keys, grants to it) are serialized per identity, so
// that a key created while a grant changes gets the grant's final state;
// topic deletion excludes them all (see lockIdentity). Several
// Octopus instances on one store do not share that mutex; each side writes
// its row before it reads the other's (a key row before the grants, a grant
// row before the keys), so a grant is never missed, but a grant revoked
// during a key's creation on another instance may leave a stale ACL until
// the next change of that grant.
package fabric

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/octofabric/octopus/internal/secretbox"
	"github.com/octofabric/octopus/internal/store"
)

// Defaults of Config.
const (
	DefaultMaxPartitions = 1000
	DefaultWait          = 30 * time.Second
	// KeyMechanism is the SASL mechanism of every key.
	KeyMechanism = "SCRAM-SHA-512"
	// scramIterations is the SCRAM iteration count of keys: Kafka's
	// minimum and its tools' default. Iterations slow the guessing of
	// low-entropy passwords; a key's secret is 256 random bits, which no
	// count makes easier or harder to guess, while every count costs each
	// login (client and control plane) a PBKDF2 of that many rounds.
	scramIterations = 4096
)

// KafkaConfig is how Fabric reaches the event plane: as a super user,
// since it creates users, ACLs and topics in every namespace.
type KafkaConfig struct {
	Bootstrap []string // host:port of one or more brokers; required
	// SecurityProtocol is Kafka's security.protocol: PLAINTEXT, SSL,
	// SASL_PLAINTEXT or SASL_SSL; default SASL_PLAINTEXT.
	SecurityProtocol string
	// Mechanism is the administrator's SASL mechanism: SCRAM-SHA-512
	// (default), SCRAM-SHA-256 or PLAIN.
	Mechanism string
	User      string // the administrator, e.g. "admin"; required with SASL
	Password  string // required with SASL
	// TLS is used for SSL and SASL_SSL; nil means the system's roots.
	TLS *tls.Config
}

// Config configures a Fabric.
type Config struct {
	Store *store.Store // required
	Kafka KafkaConfig
	// ClientBootstrap is what key holders are told to connect to; default
	// Kafka.Bootstrap (set it when clients reach the event plane by other
	// addresses than Octopus does).
	ClientBootstrap []string
	// ClientSecurityProtocol is the security.protocol key holders use:
	// SASL_PLAINTEXT or SASL_SSL; default Kafka.SecurityProtocol when that
	// is a SASL protocol, else SASL_SSL.
	ClientSecurityProtocol string
	// ClientCAFile, if set, is the path of the CA certificate clients must
	// trust, put into the client settings of keys (e.g. DATA_DIR/tls/ca.crt).
	ClientCAFile string
	// MaxPartitions bounds a topic's partition count; default 1000.
	MaxPartitions int32
	// ReplicationFactor of new topics; default -1, the event plane's default.
	ReplicationFactor int16
	// Wait bounds each wait for the event plane to apply a change; default 30 s.
	Wait   time.Duration
	Logger *slog.Logger // default slog.Default()
	// Secrets seals triggers' header values and signing secrets in the
	// store; without it every trigger method answers Unavailable.
	Secrets *secretbox.Box
	// AllowPrivateTargets lets triggers call loopback and private
	// addresses (`octopus serve --trigger-allow-private`).
	AllowPrivateTargets bool
	// TriggerChanged, if set, is called after every change of a trigger
	// (e.g. the engine's Notify, so that it applies the change at once).
	TriggerChanged func()
}

var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

func (c *Config) setDefaults() {
	if c.Kafka.SecurityProtocol == "" {
		c.Kafka.SecurityProtocol = "SASL_PLAINTEXT"
	}
	c.Kafka.SecurityProtocol = strings.ToUpper(c.Kafka.SecurityProtocol)
	if c.Kafka.Mechanism == "" {
		c.Kafka.Mechanism = "SCRAM-SHA-512"
	}
	c.Kafka.Mechanism = strings.ToUpper(c.Kafka.Mechanism)
	if len(c.ClientBootstrap) == 0 {
		c.ClientBootstrap = c.Kafka.Bootstrap
	}
	if c.ClientSecurityProtocol == "" {
		c.ClientSecurityProtocol = "SASL_SSL"
		if strings.HasPrefix(c.Kafka.SecurityProtocol, "SASL_") {
			c.ClientSecurityProtocol = c.Kafka.SecurityProtocol
		}
	}
	c.ClientSecurityProtocol = strings.ToUpper(c.ClientSecurityProtocol)
	if c.MaxPartitions <= 0 {
		c.MaxPartitions = DefaultMaxPartitions
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.Wait <= 0 {
		c.Wait = DefaultWait
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a configuration that cannot work. New calls it after
// filling in defaults.
func (c *Config) Validate() error {
	if c.Store == nil {
		return errors.New("fabric: no metadata store")
	}
	if len(c.Kafka.Bootstrap) == 0 {
		return errors.New("fabric: no Kafka bootstrap servers")
	}
	for _, hp := range append(append([]string{}, c.Kafka.Bootstrap...), c.ClientBootstrap...) {
		if _, _, err := net.SplitHostPort(hp); err != nil {
			return fmt.Errorf("fabric: bootstrap server %q: %w", hp, err)
		}
	}
	if !contains(securityProtocols, c.Kafka.SecurityProtocol) {
		return fmt.Errorf("fabric: Kafka security protocol %q, want one of %v", c.Kafka.SecurityProtocol, securityProtocols)
	}
	if strings.HasPrefix(c.Kafka.SecurityProtocol, "SASL_") {
		if c.Kafka.User == "" || c.Kafka.Password == "" {
			return errors.New("fabric: the Kafka administrator's user and password are required with SASL")
		}
		if !contains([]string{"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"}, c.Kafka.Mechanism) {
			return fmt.Errorf("fabric: Kafka SASL mechanism %q, want SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN", c.Kafka.Mechanism)
		}
	}
	if c.ClientSecurityProtocol != "SASL_PLAINTEXT" && c.ClientSecurityProtocol != "SASL_SSL" {
		return fmt.Errorf("fabric: client security protocol %q, want SASL_PLAINTEXT or SASL_SSL (keys are SCRAM users)", c.ClientSecurityProtocol)
	}
	if c.MaxPartitions > 1<<20 {
		return fmt.Errorf("fabric: MaxPartitions %d is absurd", c.MaxPartitions)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Fabric is the control plane. Create it with New; Close it when done.
type Fabric struct {
	cfg    Config
	store  *store.Store
	log    *slog.Logger
	kcl    *kgo.Client  // the administrator's client
	adm    *kadm.Client // on kcl
	dialer []kgo.Opt    // seeds and transport, for key clients

	// topicMu is held exclusively by changes to every principal's ACLs on
	// one topic (topic deletion and creation), shared by lockIdentity.
	topicMu sync.RWMutex
	idMu    sync.Mutex               // guards idLocks
	idLocks map[string]*identityLock // by identity ID; present while held or awaited

	opened openedTriggers // triggers' opened specs and secrets, by version
}

type identityLock struct {
	mu   sync.Mutex
	refs int // holders and waiters; guarded by Fabric.idMu
}

// lockIdentity serializes the changes that write the ACLs of one
// identity's keys — its keys being created or revoked, grants to it set or
// deleted — so that a key created while a grant changes gets the grant's
// final state. Changes for different identities run in parallel. Lock
// order: topicMu (shared), then one identity lock; never two identities.
// It returns the unlock function.
func (f *Fabric) lockIdentity(id string) (unlock func()) {
	f.topicMu.RLock()
	f.idMu.Lock()
	l := f.idLocks[id]
	if l == nil {
		l = &identityLock{}
		f.idLocks[id] = l
	}
	l.refs++
	f.idMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		f.idMu.Lock()
		if l.refs--; l.refs == 0 {
			delete(f.idLocks, id)
		}
		f.idMu.Unlock()
		f.topicMu.RUnlock()
	}
}

// New builds a Fabric. It does not contact the event plane; the first call
// that needs it does.
func New(cfg Config) (*Fabric, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Fabric{cfg: cfg, store: cfg.Store, log: cfg.Logger, idLocks: make(map[string]*identityLock)}
	f.dialer = []kgo.Opt{kgo.SeedBrokers(cfg.Kafka.Bootstrap...), kgo.DialTimeout(10 * time.Second)}
	if cfg.Kafka.SecurityProtocol == "SSL" || cfg.Kafka.SecurityProtocol == "SASL_SSL" {
		tc := cfg.Kafka.TLS
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		f.dialer = append(f.dialer, kgo.DialTLSConfig(tc))
	}
	opts := append([]kgo.Opt{kgo.ClientID("octopus-control-plane")}, f.dialer...)
	if strings.HasPrefix(cfg.Kafka.SecurityProtocol, "SASL_") {
		opts = append(opts, kgo.SASL(adminMechanism(cfg.Kafka)))
	}
	kcl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("fabric: Kafka client: %w", err)
	}
	f.kcl, f.adm = kcl, kadm.NewClient(kcl)
	return f, nil
}

func adminMechanism(k KafkaConfig) sasl.Mechanism {
	switch k.Mechanism {
	case "PLAIN":
		return plain.Auth{User: k.User, Pass: k.Password}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: k.User, Pass: k.Password}.AsSha256Mechanism()
	}
	return scram.Auth{User: k.User, Pass: k.Password}.AsSha512Mechanism()
}

// KafkaOpts are the franz-go options that reach the event plane as the
// Fabric does — seed brokers, TLS and the administrator's SASL login — for
// the control plane's other Kafka clients (the trigger engine).
func (f *Fabric) KafkaOpts() []kgo.Opt {
	opts := append([]kgo.Opt(nil), f.dialer...)
	if strings.HasPrefix(f.cfg.Kafka.SecurityProtocol, "SASL_") {
		opts = append(opts, kgo.SASL(adminMechanism(f.cfg.Kafka)))
	}
	return opts
}

// Close closes the connections to the event plane (not the store).
func (f *Fabric) Close() { f.kcl.Close() }

// Caller is who calls a method: an identity vouched for by the REST layer
// (a verified token). ID is stable ("local:alice", "<issuer>|<sub>"); Name
// is shown and gives the namespace on first sight.
type Caller struct {
	ID    string
	Name  string
	Admin bool
}

// retry calls fn until it reports done, with backoff from 20 ms to 1 s,
// for at most f.cfg.Wait. An *Error from fn ends the wait and is returned;
// any other error is transient, kept as the cause of the Unavailable error
// returned when time runs out.
func (f *Fabric) retry(parent context.Context, what string, fn func(ctx context.Context) (done bool, err error)) error {
	ctx, cancel := context.WithTimeout(parent, f.cfg.Wait)
	defer cancel()
	delay := 20 * time.Millisecond
	var last error
	for {
		done, err := fn(ctx)
		var fe *Error
		switch {
		case errors.As(err, &fe):
			return fe
		case err == nil && done:
			return nil
		case err != nil:
			last = err
		}
		select {
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return &Error{Kind: Unavailable, Code: "canceled", Message: what + ": canceled", Err: err}
			}
			if last == nil {
				last = ctx.Err()
			}
			return &Error{Kind: Unavailable, Code: "event_plane_timeout",
				Message: fmt.Sprintf("%s: the event plane did not apply the change within %v", what, f.cfg.Wait), Err: last}
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Second)
	}
}
