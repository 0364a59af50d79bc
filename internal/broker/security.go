package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
	"github.com/octofabric/octopus/internal/auth/sasl"
)

// SecurityProtocol is Kafka's security.protocol of a listener.
type SecurityProtocol int8

const (
	Plaintext SecurityProtocol = iota
	SSL
	SaslPlaintext
	SaslSSL
)

var protocolNames = [...]string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

func (p SecurityProtocol) String() string {
	if int(p) < len(protocolNames) {
		return protocolNames[p]
	}
	return fmt.Sprintf("SecurityProtocol(%d)", p)
}

// ParseSecurityProtocol parses a Kafka security protocol name.
func ParseSecurityProtocol(s string) (SecurityProtocol, error) {
	for i, n := range protocolNames {
		if strings.EqualFold(s, n) {
			return SecurityProtocol(i), nil
		}
	}
	return 0, fmt.Errorf("unknown security protocol %q (want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", s)
}

// UsesTLS reports whether connections start with a TLS handshake.
func (p SecurityProtocol) UsesTLS() bool { return p == SSL || p == SaslSSL }

// UsesSASL reports whether clients must authenticate with SASL.
func (p SecurityProtocol) UsesSASL() bool { return p == SaslPlaintext || p == SaslSSL }

// Listener describes how connections accepted on one socket are secured.
type Listener struct {
	Name      string // Kafka listener name; default the protocol's name
	Protocol  SecurityProtocol
	TLS       *tls.Config // required for SSL and SASL_SSL
	Advertise string      // host:port given to clients of this listener; "" = its address
}

// Authenticates reports whether every connection on l has an identity other
// than User:ANONYMOUS: SASL, or TLS that requires a client certificate.
func (l *Listener) Authenticates() bool {
	if l.Protocol.UsesSASL() {
		return true
	}
	return l.Protocol == SSL && l.TLS != nil && l.TLS.ClientAuth == tls.RequireAndVerifyClientCert
}

func (l *Listener) validate() error {
	if l.Protocol.UsesTLS() && l.TLS == nil {
		return fmt.Errorf("broker: listener %s needs a TLS configuration", l.Name)
	}
	if l.Advertise != "" {
		if _, _, err := net.SplitHostPort(l.Advertise); err != nil {
			return fmt.Errorf("broker: listener %s advertise %q: %w", l.Name, l.Advertise, err)
		}
	}
	return nil
}

// SecurityConfig configures authentication and authorization.
type SecurityConfig struct {
	// Authorize enforces ACLs on every request (Kafka with an authorizer and
	// allow.everyone.if.no.acl.found=false). Off, everything is allowed and
	// the ACL APIs answer SECURITY_DISABLED, as Kafka without an authorizer.
	Authorize bool
	// SuperUsers ("User:NAME") are allowed everything.
	SuperUsers []string
	// Mechanisms are the SASL mechanisms offered on SASL listeners: PLAIN,
	// SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER. PLAIN and SCRAM check the
	// SCRAM credential store. Default SCRAM-SHA-512 and SCRAM-SHA-256.
	Mechanisms []string
	// OAuthBearer is required when OAUTHBEARER is among Mechanisms.
	OAuthBearer *sasl.OAuthBearerConfig
	// MaxReauth is connections.max.reauth.ms: the longest a SASL session
	// lasts before the client must re-authenticate (KIP-368); 0 means only
	// a token's expiry limits it.
	MaxReauth time.Duration
	// FailedAuthDelay is the delay before the answer to a failed
	// authentication (connection.failed.authentication.delay.ms, 100 ms by
	// default); it doubles with each further failure from the same address
	// within a minute, up to 5 s.
	FailedAuthDelay time.Duration
	// HandshakeTimeout bounds the TLS handshake and the SASL exchange of a
	// new connection; default 10 s.
	HandshakeTimeout time.Duration
}

// anonymous is the principal of a connection that did not authenticate.
const anonymous = "User:ANONYMOUS"

func (s *SecurityConfig) setDefaults() {
	if len(s.Mechanisms) == 0 {
		s.Mechanisms = []string{"SCRAM-SHA-512", "SCRAM-SHA-256"}
	}
	if s.FailedAuthDelay <= 0 {
		s.FailedAuthDelay = 100 * time.Millisecond
	}
	if s.HandshakeTimeout <= 0 {
		s.HandshakeTimeout = 10 * time.Second
	}
}

// openSecurity opens the credential and ACL stores under DATADIR/security
// and builds the SASL mechanisms. It runs after the data dir is locked.
func (b *Broker) openSecurity() error {
	sc := &b.cfg.Security
	dir := filepath.Join(b.cfg.DataDir, "security")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("broker: security dir: %w", err)
	}
	creds, err := sasl.OpenCredentials(filepath.Join(dir, "scram-credentials"))
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	b.creds = creds
	if sc.Authorize {
		if b.authz, err = acl.Open(filepath.Join(dir, "acls"), acl.WithSuperUsers(sc.SuperUsers...)); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
	}
	b.mechs = make(map[string]sasl.Mechanism)
	for _, name := range sc.Mechanisms {
		var m sasl.Mechanism
		switch name = strings.ToUpper(name); name {
		case "PLAIN":
			m = sasl.NewPlain(creds)
		case "SCRAM-SHA-256", "SCRAM-SHA-512":
			mech, _ := sasl.ParseScramMechanism(name)
			if m, err = sasl.NewScram(mech, creds); err != nil {
				return fmt.Errorf("broker: %w", err)
			}
		case "OAUTHBEARER":
			if sc.OAuthBearer == nil {
				return errors.New("broker: OAUTHBEARER needs an issuer, audience and JWKS")
			}
			if m, err = sasl.NewOAuthBearer(*sc.OAuthBearer); err != nil {
				return fmt.Errorf("broker: %w", err)
			}
		default:
			return fmt.Errorf("broker: unknown SASL mechanism %q", name)
		}
		if _, dup := b.mechs[name]; !dup {
			b.mechs[name] = m
			b.mechNames = append(b.mechNames, name)
		}
	}
	b.failures = newAuthFailures(sc.FailedAuthDelay)
	return nil
}

// Credentials is the SCRAM credential store (DATADIR/security), which the
// serve command uses to create the first administrator.
func (b *Broker) Credentials() *sasl.Credentials { return b.creds }

// Authorizing reports whether ACLs are enforced.
func (b *Broker) Authorizing() bool { return b.authz != nil }

// allowed reports whether the request's principal may perform op on the
// named resource. Without an authorizer everything is allowed.
func (r *request) allowed(op acl.Operation, rt acl.ResourceType, name string) bool {
	a := r.c.b.authz
	if a == nil {
		return true
	}
	ok := a.Authorize(r.c.principal, r.c.host, op, rt, name)
	if !ok {
		r.c.b.metrics.denied.WithLabelValues(kmsg.NameForKey(r.key)).Inc()
	}
	return ok
}

// allowedCluster is allowed on the cluster resource.
func (r *request) allowedCluster(op acl.Operation) bool {
	return r.allowed(op, acl.Cluster, acl.ClusterName)
}

// allowedAny reports whether the principal may perform op on at least one
// resource of type rt (Kafka's authorizeByResourceType).
func (r *request) allowedAny(op acl.Operation, rt acl.ResourceType) bool {
	a := r.c.b.authz
	if a == nil {
		return true
	}
	return a.AuthorizeByResourceType(r.c.principal, r.c.host, op, rt)
}

// authorizedOps is the bit set of operations the principal may perform on
// a resource, for the authorized-operations fields of Metadata,
// DescribeGroups and DescribeCluster (bit n set = operation n allowed).
func (r *request) authorizedOps(rt acl.ResourceType, name string, ops ...acl.Operation) int32 {
	var bits int32
	for _, op := range ops {
		if r.c.b.authz == nil || r.c.b.authz.Authorize(r.c.principal, r.c.host, op, rt, name) {
			bits |= 1 << op
		}
	}
	return bits
}

// Operations Kafka reports as authorized operations, per resource type.
var (
	topicOps   = []acl.Operation{acl.Read, acl.Write, acl.Create, acl.Delete, acl.Alter, acl.Describe, acl.DescribeConfigs, acl.AlterConfigs}
	groupOps   = []acl.Operation{acl.Read, acl.Delete, acl.Describe}
	clusterOps = []acl.Operation{acl.Create, acl.ClusterAction, acl.DescribeConfigs, acl.AlterConfigs, acl.IdempotentWrite, acl.Alter, acl.Describe}
)

// javaHostAddress formats a client address as Java's
// InetAddress.getHostAddress does, since ACL host fields are compared as
// strings: dotted IPv4, and IPv6 as eight uncompressed hex groups
// ("0:0:0:0:0:0:0:1"). IPv4-mapped IPv6 addresses are IPv4.
func javaHostAddress(addr net.Addr) string {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		host, _, err := net.SplitHostPort(addr.String())
		if err != nil {
			return addr.String()
		}
		return host
	}
	ip := ap.Addr().Unmap()
	if ip.Is4() {
		return ip.String()
	}
	b := ip.As16()
	var sb strings.Builder
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%x", uint16(b[i])<<8|uint16(b[i+1]))
	}
	if z := ip.Zone(); z != "" {
		sb.WriteString("%" + z)
	}
	return sb.String()
}
