package test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	ksasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/octofabric/octopus/internal/auth/sasl"
	"github.com/octofabric/octopus/internal/testenv"
)

// secAdminPassword is the super user's password on both secured brokers:
// KAFKA_ADMIN_PASSWORD for scripts/kafka.sh, the bootstrapped credential for
// Octopus.
const secAdminPassword = testenv.AdminPassword

// secWait bounds each wait for an ACL or credential change to become
// visible: Kafka applies them when its broker replays the metadata log.
const secWait = 15 * time.Second

// startSecureKafka returns the address of this run's SASL_PLAINTEXT Apache
// Kafka (testenv.Kafka with KAFKA_SECURITY=sasl: StandardAuthorizer, super
// user admin), separate from startKafka's because the listener's security
// is fixed at start. Like startKafka it fails under CI and skips otherwise
// when Kafka is not installed.
func startSecureKafka(t *testing.T) string {
	t.Helper()
	return testenv.Kafka(t, "sasl")
}

// secOctopusOpts changes startSecureOctopus's defaults.
type secOctopusOpts struct {
	FailedAuthDelay time.Duration // 0 = the broker's default (100 ms)
}

// startSecureOctopus runs an in-process broker (testenv.SecureBroker) like
// the secured Kafka: one SASL_PLAINTEXT listener on 127.0.0.1, ACLs
// enforced, User:admin a super user with SCRAM-SHA-512 and -256
// credentials. Its log (debug level) goes
// to the returned sink.
func startSecureOctopus(t *testing.T, o secOctopusOpts) (addr string, logs *logSink) {
	t.Helper()
	logs = new(logSink)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("secured in-process broker: last log lines:\n%s", logs.Tail(60))
		}
	})
	b := testenv.SecureBroker(t, testenv.BrokerOptions{
		Log:               logs,
		LogLevel:          slog.LevelDebug,
		Mechanisms:        []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"},
		AdminMechanisms:   []sasl.ScramMechanism{sasl.ScramSHA512, sasl.ScramSHA256},
		FailedAuthDelay:   o.FailedAuthDelay,
		AutoCreateTopics:  true,
		DefaultPartitions: 1,
	})
	return b.Addr, logs
}

// secTarget is one secured broker of a security differential run.
type secTarget struct {
	name string // "kafka" or "octopus"
	addr string
	// tag starts every user, topic and group name of the run, so a rerun
	// (-count) on the same Kafka meets none of an earlier run's.
	tag string
	// vers caps each request at the highest version both brokers serve;
	// keys one broker lacks keep kgo's own maximum, so asking that broker
	// fails visibly instead of the key being skipped.
	vers *kversion.Versions
}

// secVersions is kgo's stable versions capped at what both a and b serve.
func secVersions(t *testing.T, a, b string) *kversion.Versions {
	t.Helper()
	vs := kversion.Stable()
	for key, v := range commonVersions(t, a, b) {
		if hi, ok := vs.LookupMaxKeyVersion(key); ok && v < hi {
			vs.SetMaxKeyVersion(key, v)
		}
	}
	return vs
}

// topic is a topic or group name of this run.
func (d *secTarget) topic(s string) string { return d.tag + "." + s }

// user is a user name of this run.
func (d *secTarget) user(s string) string { return d.tag + "-" + s }

// norm replaces the run's tag with "T", for observations.
func (d *secTarget) norm(s string) string { return strings.ReplaceAll(s, d.tag, "T") }

// cred is a SASL identity: user, password and mechanism.
type cred struct {
	user, pass, mech string
}

func (c cred) mechanism() ksasl.Mechanism {
	switch c.mech {
	case "PLAIN":
		return plain.Auth{User: c.user, Pass: c.pass}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: c.user, Pass: c.pass}.AsSha256Mechanism()
	default:
		return scram.Auth{User: c.user, Pass: c.pass}.AsSha512Mechanism()
	}
}

// admin is the super user.
var admin = cred{"admin", secAdminPassword, "SCRAM-SHA-512"}

// client returns a kgo client authenticating as c, closed at cleanup.
func (d *secTarget) client(t *testing.T, c cred, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(d.addr),
		kgo.ClientID("octopus-test-security"),
		kgo.SASL(c.mechanism()),
		kgo.MaxVersions(d.vers),
		kgo.DialTimeout(5 * time.Second),
		kgo.RetryTimeout(10 * time.Second),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// outcome names what a request's error means to a client: "NONE", a Kafka
// error, "timeout", "connection closed", or the error text with the
// broker's address masked.
func (d *secTarget) outcome(err error) string {
	var ke *kerr.Error
	switch {
	case err == nil:
		return "NONE"
	case errors.As(err, &ke):
		return errName(ke.Code)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed):
		return "connection closed"
	}
	return "error: " + strings.ReplaceAll(err.Error(), d.addr, "ADDR")
}

// request sends req straight to the one broker (no routing, no retries)
// on cl's connection and returns the response, or nil and the outcome of
// the failure.
func (d *secTarget) request(cl *kgo.Client, req kmsg.Request) (kmsg.Response, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seeds := cl.SeedBrokers()
	if len(seeds) == 0 {
		return nil, "error: no seed broker"
	}
	resp, err := seeds[0].Request(ctx, req)
	if err != nil {
		return nil, d.outcome(err)
	}
	return resp, ""
}

// authenticate connects as c and sends one Metadata request (no topics):
// the outcome is NONE when the broker accepted the credential.
func (d *secTarget) authenticate(t *testing.T, c cred) string {
	t.Helper()
	cl := d.client(t, c)
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	resp, failed := d.request(cl, req)
	if resp == nil {
		return failed
	}
	return "NONE"
}

// authenticateEventually is authenticate, repeated for up to 5 s until it
// gives want: a credential change reaches Kafka's authenticator a moment
// after DescribeUserScramCredentials shows it.
func (d *secTarget) authenticateEventually(t *testing.T, c cred, want string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := d.authenticate(t, c)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// aclSpec is one ACL binding or filter, in kmsg's terms. For a filter, an
// empty Name, Principal or Host means any (null on the wire).
type aclSpec struct {
	Type      kmsg.ACLResourceType
	Name      string
	Pattern   kmsg.ACLResourcePatternType
	Principal string
	Host      string
	Op        kmsg.ACLOperation
	Perm      kmsg.ACLPermissionType
}

func (a aclSpec) creation() kmsg.CreateACLsRequestCreation {
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = a.Type, a.Name, a.Pattern
	c.Principal, c.Host, c.Operation, c.PermissionType = a.Principal, a.Host, a.Op, a.Perm
	return c
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (a aclSpec) describe() *kmsg.DescribeACLsRequest {
	r := kmsg.NewPtrDescribeACLsRequest()
	r.ResourceType, r.ResourceName, r.ResourcePatternType = a.Type, orNull(a.Name), a.Pattern
	r.Principal, r.Host, r.Operation, r.PermissionType = orNull(a.Principal), orNull(a.Host), a.Op, a.Perm
	return r
}

func (a aclSpec) deletion() kmsg.DeleteACLsRequestFilter {
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourceName, f.ResourcePatternType = a.Type, orNull(a.Name), a.Pattern
	f.Principal, f.Host, f.Operation, f.PermissionType = orNull(a.Principal), orNull(a.Host), a.Op, a.Perm
	return f
}

// bindingString is a binding as observations show it, tag normalized:
// "TOPIC:LITERAL:T.a User:T-alice@* WRITE ALLOW".
func (d *secTarget) bindingString(rt kmsg.ACLResourceType, name string, pt kmsg.ACLResourcePatternType, principal, host string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) string {
	return d.norm(fmt.Sprintf("%s:%s:%s %s@%s %s %s", rt, pt, name, principal, host, op, perm))
}

// ours reports whether a binding belongs to this run (its principal or
// resource carries the tag); others come from earlier runs on the same
// Kafka.
func (d *secTarget) ours(name, principal string) bool {
	return strings.Contains(name, d.tag) || strings.Contains(principal, d.tag)
}

// describeACLs sends f as a DescribeAcls filter and returns the top-level
// outcome and this run's matching bindings, sorted.
func (d *secTarget) describeACLs(cl *kgo.Client, f aclSpec) (string, []string) {
	resp, failed := d.request(cl, f.describe())
	if resp == nil {
		return failed, nil
	}
	r := resp.(*kmsg.DescribeACLsResponse)
	var out []string
	for _, res := range r.Resources {
		for _, a := range res.ACLs {
			if d.ours(res.ResourceName, a.Principal) {
				out = append(out, d.bindingString(res.ResourceType, res.ResourceName, res.ResourcePatternType, a.Principal, a.Host, a.Operation, a.PermissionType))
			}
		}
	}
	slices.Sort(out)
	return errName(r.ErrorCode), out
}

// createACLs creates the bindings in one request and returns each
// creation's outcome.
func (d *secTarget) createACLs(cl *kgo.Client, specs ...aclSpec) []string {
	req := kmsg.NewPtrCreateACLsRequest()
	for _, a := range specs {
		req.Creations = append(req.Creations, a.creation())
	}
	resp, failed := d.request(cl, req)
	if resp == nil {
		return []string{failed}
	}
	var out []string
	for _, r := range resp.(*kmsg.CreateACLsResponse).Results {
		out = append(out, errName(r.ErrorCode))
	}
	return out
}

// deleteACLs sends the filters in one DeleteAcls request and returns, per
// filter, its outcome followed by the bindings it deleted, sorted.
func (d *secTarget) deleteACLs(cl *kgo.Client, filters ...aclSpec) [][]string {
	req := kmsg.NewPtrDeleteACLsRequest()
	for _, f := range filters {
		req.Filters = append(req.Filters, f.deletion())
	}
	resp, failed := d.request(cl, req)
	if resp == nil {
		return [][]string{{failed}}
	}
	var out [][]string
	for _, r := range resp.(*kmsg.DeleteACLsResponse).Results {
		var ms []string
		for _, m := range r.MatchingACLs {
			ms = append(ms, errName(m.ErrorCode)+" "+d.bindingString(m.ResourceType, m.ResourceName, m.ResourcePatternType, m.Principal, m.Host, m.Operation, m.PermissionType))
		}
		slices.Sort(ms)
		out = append(out, append([]string{errName(r.ErrorCode)}, ms...))
	}
	return out
}

// waitACL waits until DescribeAcls for exactly binding a shows it (present)
// or no longer does, as a user would after changing ACLs on Kafka, and
// returns "visible"/"gone" or what it saw instead.
func (d *secTarget) waitACL(cl *kgo.Client, a aclSpec, present bool) string {
	deadline := time.Now().Add(secWait)
	for {
		code, bs := d.describeACLs(cl, a)
		switch {
		case code != "NONE":
			return "describe: " + code
		case present && len(bs) > 0:
			return "visible"
		case !present && len(bs) == 0:
			return "gone"
		case time.Now().After(deadline):
			return fmt.Sprintf("still %v after %v", bs, secWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scramView is a DescribeUserScramCredentials result, tag normalized:
// "T-alice NONE [SCRAM-SHA-512=iterations=4096]".
func (d *secTarget) scramView(r kadm.DescribedUserSCRAM) string {
	var infos []string
	for _, c := range r.CredInfos {
		infos = append(infos, c.String())
	}
	slices.Sort(infos)
	return d.norm(fmt.Sprintf("%s %s %v", r.User, d.outcome(r.Err), infos))
}

// describeSCRAMs describes users (all users when none) and returns this
// run's results sorted, or the request's failure.
func (d *secTarget) describeSCRAMs(adm *kadm.Client, users ...string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs, err := adm.DescribeUserSCRAMs(ctx, users...)
	if err != nil {
		return []string{d.outcome(err)}
	}
	var out []string
	for _, r := range rs.Sorted() {
		if strings.Contains(r.User, d.tag) {
			out = append(out, d.scramView(r))
		}
	}
	return out
}

// alterSCRAMs deletes and upserts credentials in one request and returns
// each user's outcome, sorted, or the request's failure.
func (d *secTarget) alterSCRAMs(adm *kadm.Client, del []kadm.DeleteSCRAM, up []kadm.UpsertSCRAM) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs, err := adm.AlterUserSCRAMs(ctx, del, up)
	if err != nil {
		return []string{d.outcome(err)}
	}
	var out []string
	for _, r := range rs.Sorted() {
		out = append(out, d.norm(r.User+" "+d.outcome(r.Err)))
	}
	return out
}

// waitSCRAM waits until describing user gives want (a scramView), and
// returns "visible" or what it saw instead.
func (d *secTarget) waitSCRAM(adm *kadm.Client, user, want string) string {
	deadline := time.Now().Add(secWait)
	for {
		got := d.describeSCRAMs(adm, user)
		if len(got) == 1 && got[0] == want {
			return "visible"
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("still %v after %v", got, secWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// saslWire is a raw connection that authenticates by hand, so tests can
// send what no client would.
type saslWire struct{ *wire }

func dialSASL(t *testing.T, addr string) saslWire { return saslWire{dialWire(t, addr)} }

// handshake sends SaslHandshake v1 for mech and returns the response.
func (w saslWire) handshake(mech string) *kmsg.SASLHandshakeResponse {
	w.t.Helper()
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Version = 1
	req.Mechanism = mech
	return w.request(req).(*kmsg.SASLHandshakeResponse)
}

// authenticate sends one SaslAuthenticate v2 step and returns the response.
func (w saslWire) authenticate(b []byte) *kmsg.SASLAuthenticateResponse {
	w.t.Helper()
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.Version = 2
	req.SASLAuthBytes = b
	return w.request(req).(*kmsg.SASLAuthenticateResponse)
}

// scramClientFinal runs a SCRAM exchange as c up to the client-final
// message, which it returns unsent (the caller may tamper with it) with
// the session that made it.
func (w saslWire) scramClientFinal(c cred) (final []byte, sess ksasl.Session) {
	w.t.Helper()
	if hs := w.handshake(c.mech); hs.ErrorCode != 0 {
		w.t.Fatalf("SaslHandshake %s: %s", c.mech, errName(hs.ErrorCode))
	}
	sess, first, err := c.mechanism().Authenticate(context.Background(), "")
	if err != nil {
		w.t.Fatal(err)
	}
	r := w.authenticate(first)
	if r.ErrorCode != 0 {
		w.t.Fatalf("SCRAM client-first: %s", errName(r.ErrorCode))
	}
	_, final, err = sess.Challenge(r.SASLAuthBytes)
	if err != nil {
		w.t.Fatalf("SCRAM server-first %q: %v", r.SASLAuthBytes, err)
	}
	return final, sess
}
