package fabric

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/store"
)

// MaxKeyDescription bounds a key's description, in bytes.
const MaxKeyDescription = 200

// KeySpec is what a caller asks of a new key.
type KeySpec struct {
	Description string     // e.g. the device; optional
	ExpiresAt   *time.Time // nil: never; else in the future
}

// Key is a key as listed: never with its secret.
type Key struct {
	ID          string     `json:"id"`
	Username    string     `json:"username"`
	Mechanism   string     `json:"sasl_mechanism"`
	Description string     `json:"description"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

// NewKey is a key just created, with its secret: the only time the secret
// is shown (Octopus keeps only the event plane's salted SCRAM keys).
type NewKey struct {
	Key
	Secret           string         `json:"secret"`
	BootstrapServers []string       `json:"bootstrap_servers"`
	SecurityProtocol string         `json:"security_protocol"`
	Settings         ClientSettings `json:"client_settings"`
	// CACert is the PEM certificate of the CA clients must trust, when the
	// event plane's certificate comes from a private CA (ClientCAFile), so
	// that a client on another machine needs nothing but this answer.
	CACert string `json:"ca_cert,omitempty"`
}

// ClientSettings are ready-to-paste client configurations of a key.
type ClientSettings struct {
	// Librdkafka is for librdkafka, confluent-kafka (Python, Go, .NET) and kcat.
	Librdkafka map[string]string `json:"librdkafka"`
	// KafkaPython are kafka-python's KafkaProducer/KafkaConsumer arguments.
	KafkaPython map[string]string `json:"kafka_python"`
	// JavaProperties is a properties file for the Java client and Kafka's tools.
	JavaProperties string `json:"java_properties"`
	// FranzGo is Go code building a franz-go client.
	FranzGo string `json:"franz_go"`
}

func toKey(k store.Key) Key {
	return Key{ID: k.ID, Username: k.Username, Mechanism: k.Mechanism, Description: k.Description,
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt}
}

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// keyUsername returns a new username for a key of namespace ns:
// "ns.k-" and 12 base32 characters (60 random bits; the store's unique
// index catches the unlikely repeat).
func keyUsername(ns string) string {
	var b [8]byte
	rand.Read(b[:])
	return ns + ".k-" + lowerBase32.EncodeToString(b[:])[:12]
}

// newSecret returns 256 random bits, base64url without padding (43
// characters, no character that needs quoting in properties or JAAS).
func newSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func checkKeySpec(s KeySpec, now time.Time) error {
	if len(s.Description) > MaxKeyDescription {
		return invalid("description", "invalid_description", "the description is longer than %d bytes", MaxKeyDescription)
	}
	if !utf8.ValidString(s.Description) || strings.IndexFunc(s.Description, unicode.IsControl) >= 0 {
		return invalid("description", "invalid_description", "the description must be UTF-8 text without control characters")
	}
	if s.ExpiresAt != nil && !s.ExpiresAt.After(now) {
		return invalid("expires_at", "invalid_expiry", "the expiry time is not in the future")
	}
	return nil
}

// CreateKey creates a Kafka credential for the caller: a SCRAM-SHA-512
// user of its own with all the caller's access (see the package doc). The
// key is usable when CreateKey returns.
func (f *Fabric) CreateKey(ctx context.Context, c Caller, spec KeySpec) (NewKey, error) {
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return NewKey{}, err
	}
	if err := checkKeySpec(spec, time.Now()); err != nil {
		return NewKey{}, err
	}
	secret := newSecret()
	sk, err := saltSecret(secret)
	if err != nil {
		return NewKey{}, &Error{Kind: Unavailable, Code: "salt_failed", Message: "salting the key's secret failed", Err: err}
	}
	unlock := f.lockIdentity(id.ID)
	defer unlock()
	var k store.Key
	for range 3 {
		k, err = f.store.CreateKey(ctx, store.Key{IdentityID: id.ID, Username: keyUsername(id.Namespace),
			Mechanism: KeyMechanism, Description: spec.Description, ExpiresAt: spec.ExpiresAt})
		if !isStoreConflict(err) {
			break
		}
	}
	if err != nil {
		return NewKey{}, storeErr("create key", err)
	}
	fail := func(err error) (NewKey, error) {
		// Undo what may have reached the event plane, then mark the key
		// revoked, so that it is neither listed nor usable.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.cfg.Wait)
		defer cancel()
		if derr := f.dropCredential(cctx, k.Username); derr != nil {
			f.log.Warn("cleaning up a key that failed", "user", k.Username, "err", derr)
		} else if rerr := f.store.RevokeKey(cctx, k.ID, time.Time{}); rerr != nil {
			f.log.Warn("revoking a key that failed", "user", k.Username, "err", rerr)
		}
		return NewKey{}, err
	}
	// The row is written before the grants are read (see the package doc).
	grants, err := f.grantsOf(ctx, id.ID)
	if err != nil {
		return fail(err)
	}
	p := principal(k.Username)
	bs := namespaceBindings(id.Namespace, p)
	for _, g := range grants {
		bs = append(bs, topicBindings(g.Topic, p, grantedOps(Access{Read: g.Read, Write: g.Write}))...)
	}
	if err := f.upsertSCRAM(ctx, k.Username, sk); err != nil {
		return fail(err)
	}
	if err := f.createACLs(ctx, bs); err != nil {
		return fail(err)
	}
	if err := f.waitACLs(ctx, "create key", bs, nil); err != nil {
		return fail(err)
	}
	if err := f.waitLogin(ctx, k.Username, sk, id.Namespace); err != nil {
		return fail(err)
	}
	f.log.Info("key created", "identity", id.ID, "user", k.Username, "grants", len(grants))
	return f.newKey(k, secret), nil
}

// grantsOf returns the grants held by an identity on topics it does not own.
func (f *Fabric) grantsOf(ctx context.Context, identityID string) ([]store.Grant, error) {
	topics, err := f.store.ListTopicsVisibleTo(ctx, identityID, store.Page{})
	if err != nil {
		return nil, storeErr("list grants", err)
	}
	var out []store.Grant
	for _, t := range topics {
		if t.OwnerID == identityID {
			continue
		}
		g, err := f.store.GetGrant(ctx, t.Name, identityID)
		if isStoreNotFound(err) {
			continue
		}
		if err != nil {
			return nil, storeErr("list grants", err)
		}
		out = append(out, g)
	}
	return out, nil
}

func (f *Fabric) upsertSCRAM(ctx context.Context, user string, k saltedKey) error {
	rs, err := f.adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{
		User: user, Mechanism: kadm.ScramSha512, Iterations: scramIterations, Salt: k.salt, SaltedPassword: k.salted}})
	if err == nil {
		err = scramErr(rs)
	}
	return kafkaErr("set the key's credential", err)
}

// keyClient returns a client that logs in as a key.
func (f *Fabric) keyClient(user string, k saltedKey) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{
		kgo.ClientID("octopus-control-plane-check"),
		kgo.SASL(saltedScram{user: user, key: k}),
		kgo.RequestRetries(0),
		kgo.RetryTimeout(time.Second),
	}, f.dialer...)...)
}

// probeLogin logs in as user and asks for the metadata of a topic in
// namespace ns (none: no topic). It returns nil when the login succeeded
// and, with ns, the key may describe the namespace's topics.
func (f *Fabric) probeLogin(ctx context.Context, user string, k saltedKey, ns string) error {
	cl, err := f.keyClient(user, k)
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	if ns != "" {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(ns + ".octopus-key-check")
		req.Topics = append(req.Topics, t)
	}
	req.AllowAutoTopicCreation = false
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		if t.ErrorCode == kerr.TopicAuthorizationFailed.Code {
			return kerr.TopicAuthorizationFailed
		}
	}
	return nil
}

// waitLogin waits until the key logs in and may describe its namespace.
func (f *Fabric) waitLogin(ctx context.Context, user string, k saltedKey, ns string) error {
	return f.retry(ctx, "create key", func(ctx context.Context) (bool, error) {
		err := f.probeLogin(ctx, user, k, ns)
		return err == nil, err
	})
}

// dropCredential ends a key in the event plane: its ACLs are deleted,
// then its credential is replaced by a random one that Fabric waits to see
// work — proof that the key's secret is refused — and then deleted.
// Idempotent.
func (f *Fabric) dropCredential(ctx context.Context, user string) error {
	p := principal(user)
	if err := f.deleteACLs(ctx, []binding{principalFilter(p)}); err != nil {
		return err
	}
	tmp := randomSaltedKey()
	if err := f.upsertSCRAM(ctx, user, tmp); err != nil {
		return err
	}
	if err := f.retry(ctx, "revoke key", func(ctx context.Context) (bool, error) {
		err := f.probeLogin(ctx, user, tmp, "")
		return err == nil, err
	}); err != nil {
		return err
	}
	rs, err := f.adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: user, Mechanism: kadm.ScramSha512}}, nil)
	if err == nil {
		err = scramErr(rs)
	}
	if err != nil && !errors.Is(err, kerr.ResourceNotFound) {
		return kafkaErr("delete the key's credential", err)
	}
	// ACLs of the principal created concurrently by a grant are gone too
	// once DescribeAcls shows none.
	return f.retry(ctx, "revoke key", func(ctx context.Context) (bool, error) {
		set, err := f.describeACLs(ctx, p)
		if err != nil {
			return false, err
		}
		if len(set) > 0 {
			return false, f.deleteACLs(ctx, []binding{principalFilter(p)})
		}
		return true, nil
	})
}

// ListKeys returns the caller's keys that are not revoked, oldest first.
func (f *Fabric) ListKeys(ctx context.Context, c Caller) ([]Key, error) {
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return nil, err
	}
	ks, err := f.store.ListKeys(ctx, id.ID, false)
	if err != nil {
		return nil, storeErr("list keys", err)
	}
	out := make([]Key, 0, len(ks))
	for _, k := range ks {
		out = append(out, toKey(k))
	}
	return out, nil
}

// RevokeKey revokes one of the caller's keys: its credential and ACLs are
// deleted, and when RevokeKey returns the event plane refuses new logins
// with it. Connections that logged in before stay open (neither Kafka nor
// the embedded broker drops them), but with the ACLs gone every request on
// them is denied; the event plane's connections.max.reauth.ms (KIP-368)
// bounds how long they may stay. Revoking a revoked key succeeds; another
// identity's key is NotFound.
func (f *Fabric) RevokeKey(ctx context.Context, c Caller, keyID string) error {
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return err
	}
	k, err := f.store.GetKey(ctx, keyID)
	if isStoreNotFound(err) || err == nil && k.IdentityID != id.ID {
		return notFound("key_not_found", "no key %q", keyID)
	}
	if err != nil {
		return storeErr("revoke key", err)
	}
	if k.RevokedAt != nil {
		return nil
	}
	return f.revoke(ctx, k)
}

func (f *Fabric) revoke(ctx context.Context, k store.Key) error {
	unlock := f.lockIdentity(k.IdentityID)
	defer unlock()
	if err := f.dropCredential(ctx, k.Username); err != nil {
		return err
	}
	if err := f.store.RevokeKey(ctx, k.ID, time.Time{}); err != nil {
		return storeErr("revoke key", err)
	}
	f.log.Info("key revoked", "identity", k.IdentityID, "user", k.Username)
	return nil
}

// ReapExpiredKeys revokes every key that expired by now and returns how
// many it revoked; the server calls it periodically.
func (f *Fabric) ReapExpiredKeys(ctx context.Context, now time.Time) (int, error) {
	ks, err := f.store.ListExpiredKeys(ctx, now)
	if err != nil {
		return 0, storeErr("list expired keys", err)
	}
	n := 0
	for _, k := range ks {
		if err := f.revoke(ctx, k); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// newKey is the answer to CreateKey.
func (f *Fabric) newKey(k store.Key, secret string) NewKey {
	boot := strings.Join(f.cfg.ClientBootstrap, ",")
	proto := f.cfg.ClientSecurityProtocol
	rd := map[string]string{
		"bootstrap.servers": boot,
		"security.protocol": proto,
		"sasl.mechanisms":   KeyMechanism,
		"sasl.username":     k.Username,
		"sasl.password":     secret,
	}
	py := map[string]string{
		"bootstrap_servers":   boot,
		"security_protocol":   proto,
		"sasl_mechanism":      KeyMechanism,
		"sasl_plain_username": k.Username,
		"sasl_plain_password": secret,
	}
	java := fmt.Sprintf("bootstrap.servers=%s\nsecurity.protocol=%s\nsasl.mechanism=%s\n"+
		"sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"%s\" password=\"%s\";\n",
		boot, proto, KeyMechanism, k.Username, secret)
	var goTLS string
	if proto == "SASL_SSL" {
		goTLS = "\n\tkgo.DialTLSConfig(&tls.Config{}), // add RootCAs if the CA is private"
	}
	if ca := f.cfg.ClientCAFile; ca != "" {
		rd["ssl.ca.location"] = ca
		py["ssl_cafile"] = ca
		java += "ssl.truststore.type=PEM\nssl.truststore.location=" + ca + "\n"
	}
	seeds := make([]string, len(f.cfg.ClientBootstrap))
	for i, s := range f.cfg.ClientBootstrap {
		seeds[i] = fmt.Sprintf("%q", s)
	}
	gocode := fmt.Sprintf("cl, err := kgo.NewClient(\n\tkgo.SeedBrokers(%s),%s\n\tkgo.SASL(scram.Auth{User: %q, Pass: %q}.AsSha512Mechanism()),\n)\n",
		strings.Join(seeds, ", "), goTLS, k.Username, secret)
	nk := NewKey{
		Key:              toKey(k),
		Secret:           secret,
		BootstrapServers: append([]string(nil), f.cfg.ClientBootstrap...),
		SecurityProtocol: proto,
		Settings:         ClientSettings{Librdkafka: rd, KafkaPython: py, JavaProperties: java, FranzGo: gocode},
	}
	if ca := f.cfg.ClientCAFile; ca != "" {
		if pem, err := os.ReadFile(ca); err == nil {
			nk.CACert = string(pem)
		} else {
			f.log.Warn("reading the clients' CA certificate", "path", ca, "err", err)
		}
	}
	return nk
}

// scramErr is the first error of an AlterUserScramCredentials answer.
func scramErr(rs kadm.AlteredUserSCRAMs) error {
	var err error
	rs.EachError(func(a kadm.AlteredUserSCRAM) {
		if err == nil {
			err = a.Err
		}
	})
	return err
}
