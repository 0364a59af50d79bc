package broker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/octofabric/octopus/internal/auth/sasl"
)

// TestACLAdminRoundTrip creates, describes and deletes ACLs with kadm, as
// an administrator would, and checks they survive a restart and are
// enforced on the next start.
func TestACLAdminRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	b, addr := startAuthzBroker(t, dir, nil)
	adm := kadm.NewClient(saslClient(t, addr, "admin", adminPass))
	addUser(t, ctx, adm, "alice", "alice-pw")
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "orders-eu"); err != nil {
		t.Fatal(err)
	}

	created, err := adm.CreateACLs(ctx, kadm.NewACLs().Topics("orders-").ResourcePatternType(kadm.ACLPatternPrefixed).
		Allow("User:alice").Operations(kadm.OpWrite, kadm.OpRead))
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 2 {
		t.Fatalf("created %d ACLs, want 2", len(created))
	}
	for _, c := range created {
		if c.Err != nil {
			t.Fatalf("create %v: %v", c, c.Err)
		}
	}
	if _, err := adm.CreateACLs(ctx, kadm.NewACLs().Groups("billing").Allow("User:alice").Operations(kadm.OpRead)); err != nil {
		t.Fatal(err)
	}

	// Match finds the prefixed bindings for a concrete topic name.
	described, err := adm.DescribeACLs(ctx, kadm.NewACLs().Topics("orders-eu").ResourcePatternType(kadm.ACLPatternMatch).
		Allow().AllowHosts().Operations(kadm.OpAny))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(described[0].Described); described[0].Err != nil || n != 2 {
		t.Fatalf("describe match orders-eu: %v, %d ACLs", described[0].Err, n)
	}

	// Restart: the bindings and alice's credential are durable.
	b.Close()
	b, addr = startAuthzBroker(t, dir, nil)
	if n := len(b.authz.Bindings()); n != 3 {
		t.Fatalf("after restart: %d bindings, want 3", n)
	}
	alice := saslClient(t, addr, "alice", "alice-pw", kgo.DefaultProduceTopic("orders-eu"))
	if err := alice.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("alice producing after restart: %v", err)
	}

	adm = kadm.NewClient(saslClient(t, addr, "admin", adminPass))
	deleted, err := adm.DeleteACLs(ctx, kadm.NewACLs().Topics("orders-").ResourcePatternType(kadm.ACLPatternPrefixed).
		Allow("User:alice").AllowHosts().Operations(kadm.OpWrite))
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 1 || deleted[0].Err != nil || len(deleted[0].Deleted) != 1 || deleted[0].Deleted[0].Operation != kadm.OpWrite {
		t.Fatalf("delete WRITE: %+v", deleted)
	}
	if err := alice.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("alice producing after her WRITE was deleted: %v", err)
	}
	if n := len(b.authz.Bindings()); n != 2 {
		t.Errorf("after delete: %d bindings, want 2", n)
	}
}

// TestACLRequestErrors checks the per-entry errors of CreateAcls and
// DeleteAcls and the whole-request ones of DescribeAcls.
func TestACLRequestErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, addr := startAuthzBroker(t, t.TempDir(), nil)
	admin := saslClient(t, addr, "admin", adminPass)

	creation := func(mod func(*kmsg.CreateACLsRequestCreation)) kmsg.CreateACLsRequestCreation {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, "t", kmsg.ACLResourcePatternTypeLiteral
		c.Principal, c.Host = "User:alice", "*"
		c.Operation, c.PermissionType = kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
		if mod != nil {
			mod(&c)
		}
		return c
	}
	cases := []struct {
		mod  func(*kmsg.CreateACLsRequestCreation)
		code int16
		msg  string
	}{
		{nil, 0, ""},
		{func(c *kmsg.CreateACLsRequestCreation) {
			c.ResourceType, c.ResourceName = kmsg.ACLResourceTypeCluster, "other"
		}, kerr.InvalidRequest.Code, "The only valid name for the CLUSTER resource is kafka-cluster"},
		{func(c *kmsg.CreateACLsRequestCreation) { c.ResourceName = "" }, kerr.InvalidRequest.Code, "Invalid empty resource name"},
		{func(c *kmsg.CreateACLsRequestCreation) { c.PermissionType = 9 }, kerr.InvalidRequest.Code, "Invalid permissionType UNKNOWN"},
		{func(c *kmsg.CreateACLsRequestCreation) { c.Principal = "alice" }, kerr.InvalidRequest.Code,
			"Could not parse principal from `alice` (no colon is present separating the principal type from the principal name)"},
		{func(c *kmsg.CreateACLsRequestCreation) { c.Host = "" }, kerr.InvalidRequest.Code, "Host pattern cannot be null or empty"},
		{func(c *kmsg.CreateACLsRequestCreation) { c.Host = "10.0.0.0/8" }, kerr.UnsupportedVersion.Code,
			"CIDR-based ACL host patterns require metadata version 4.4-IV1 or higher."},
		{func(c *kmsg.CreateACLsRequestCreation) { c.ResourcePatternType = kmsg.ACLResourcePatternTypePrefixed }, 0, ""},
	}
	req := kmsg.NewPtrCreateACLsRequest()
	for _, c := range cases {
		req.Creations = append(req.Creations, creation(c.mod))
	}
	resp := send[*kmsg.CreateACLsResponse](t, ctx, admin, req)
	if len(resp.Results) != len(cases) {
		t.Fatalf("%d results for %d creations", len(resp.Results), len(cases))
	}
	for i, c := range cases {
		r := resp.Results[i]
		msg := ""
		if r.ErrorMessage != nil {
			msg = *r.ErrorMessage
		}
		if r.ErrorCode != c.code || msg != c.msg {
			t.Errorf("creation %d: code %d %q, want %d %q", i, r.ErrorCode, msg, c.code, c.msg)
		}
	}
	if n := len(b.authz.Bindings()); n != 2 {
		t.Errorf("%d bindings stored, want the 2 valid ones", n)
	}

	// ANY or MATCH where a concrete value belongs fails the whole request,
	// as Kafka's broker cannot build the binding.
	for _, mod := range []func(*kmsg.CreateACLsRequestCreation){
		func(c *kmsg.CreateACLsRequestCreation) { c.ResourceType = kmsg.ACLResourceTypeAny },
		func(c *kmsg.CreateACLsRequestCreation) { c.ResourcePatternType = kmsg.ACLResourcePatternTypeMatch },
		func(c *kmsg.CreateACLsRequestCreation) { c.ResourcePatternType = kmsg.ACLResourcePatternTypeAny },
		func(c *kmsg.CreateACLsRequestCreation) { c.Operation = kmsg.ACLOperationAny },
		func(c *kmsg.CreateACLsRequestCreation) { c.PermissionType = kmsg.ACLPermissionTypeAny },
	} {
		req := kmsg.NewPtrCreateACLsRequest()
		req.Creations = []kmsg.CreateACLsRequestCreation{creation(func(c *kmsg.CreateACLsRequestCreation) { c.ResourceName = "other" }), creation(mod)}
		for i, r := range send[*kmsg.CreateACLsResponse](t, ctx, admin, req).Results {
			if r.ErrorCode != kerr.UnknownServerError.Code || r.ErrorMessage != nil {
				t.Errorf("creation %d next to an ANY: code %d %v", i, r.ErrorCode, r.ErrorMessage)
			}
		}
	}
	if n := len(b.authz.Bindings()); n != 2 {
		t.Errorf("%d bindings stored after the refused requests, want 2", n)
	}

	// DeleteAcls: an invalid filter fails alone; the others apply, each
	// reporting what it matched before the call.
	filter := func(pattern kmsg.ACLResourcePatternType, op kmsg.ACLOperation) kmsg.DeleteACLsRequestFilter {
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourceName, f.ResourcePatternType = kmsg.ACLResourceTypeTopic, kmsg.StringPtr("t"), pattern
		f.Operation, f.PermissionType = op, kmsg.ACLPermissionTypeAny
		return f
	}
	del := kmsg.NewPtrDeleteACLsRequest()
	del.Filters = []kmsg.DeleteACLsRequestFilter{
		filter(kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLOperationRead),
		filter(kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny),
		filter(kmsg.ACLResourcePatternTypeLiteral, 99), // unknown operation
	}
	dr := send[*kmsg.DeleteACLsResponse](t, ctx, admin, del)
	if got := []int{len(dr.Results[0].MatchingACLs), len(dr.Results[1].MatchingACLs)}; got[0] != 1 || got[1] != 2 {
		t.Errorf("matched %v, want [1 2]", got)
	}
	if dr.Results[2].ErrorCode != kerr.InvalidRequest.Code || dr.Results[2].ErrorMessage == nil || *dr.Results[2].ErrorMessage != "Unknown entryFilter." {
		t.Errorf("unknown filter: code %d %v", dr.Results[2].ErrorCode, dr.Results[2].ErrorMessage)
	}
	if n := len(b.authz.Bindings()); n != 0 {
		t.Errorf("%d bindings left", n)
	}

	// UNKNOWN (0) elements make a request malformed: like Kafka, the
	// broker closes the connection rather than answer.
	unknownDesc := kmsg.NewPtrDescribeACLsRequest()
	unknownDel := kmsg.NewPtrDeleteACLsRequest()
	unknownDel.Filters = []kmsg.DeleteACLsRequestFilter{filter(kmsg.ACLResourcePatternTypeLiteral, 0)}
	unknownCreate := kmsg.NewPtrCreateACLsRequest()
	unknownCreate.Creations = []kmsg.CreateACLsRequestCreation{creation(func(c *kmsg.CreateACLsRequestCreation) { c.Operation = 0 })}
	for _, req := range []kmsg.Request{unknownDesc, unknownDel, unknownCreate} {
		if _, err := admin.SeedBrokers()[0].Request(ctx, req); err == nil {
			t.Errorf("%s with an UNKNOWN element was answered", kmsg.NameForKey(req.Key()))
		}
	}
}

// TestSecurityAPIsWithoutAuthorizer: as Kafka without an authorizer, the
// ACL APIs answer SECURITY_DISABLED while the SCRAM APIs work.
func TestSecurityAPIsWithoutAuthorizer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, addr := startBroker(t, t.TempDir(), nil)
	cl := newClient(t, addr)
	adm := kadm.NewClient(cl)

	desc := kmsg.NewPtrDescribeACLsRequest()
	desc.ResourceType, desc.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	desc.Operation, desc.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	if r := send[*kmsg.DescribeACLsResponse](t, ctx, cl, desc); r.ErrorCode != kerr.SecurityDisabled.Code {
		t.Errorf("DescribeAcls: code %d", r.ErrorCode)
	}
	res, err := adm.CreateACLs(ctx, kadm.NewACLs().Topics("t").Allow("User:alice").Operations(kadm.OpRead))
	if err != nil || len(res) != 1 || !errors.Is(res[0].Err, kerr.SecurityDisabled) {
		t.Errorf("CreateAcls: %v %+v", err, res)
	}
	dres, err := adm.DeleteACLs(ctx, kadm.NewACLs().Topics().Allow().AllowHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
	if err != nil || len(dres) != 1 || !errors.Is(dres[0].Err, kerr.SecurityDisabled) {
		t.Errorf("DeleteAcls: %v %+v", err, dres)
	}

	addUser(t, ctx, adm, "carol", "carol-pw")
	if _, ok := b.Credentials().Lookup("carol", sasl.ScramSHA512); !ok {
		t.Error("AlterUserScramCredentials stored nothing")
	}
	d, err := adm.DescribeUserSCRAMs(ctx, "carol")
	if err != nil || d["carol"].Err != nil || len(d["carol"].CredInfos) != 1 {
		t.Errorf("DescribeUserScramCredentials: %v %+v", err, d)
	}
}

// authenticates reports whether user can authenticate with pass.
func authenticates(t *testing.T, addr, user, pass string) bool {
	t.Helper()
	cl := saslClient(t, addr, user, pass, kgo.RequestRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := cl.SeedBrokers()[0].Request(ctx, kmsg.NewPtrMetadataRequest())
	return err == nil
}

// TestSCRAMCredentialAPIs changes passwords through the Kafka API and
// checks what clients can then do, and the per-user errors.
func TestSCRAMCredentialAPIs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startAuthzBroker(t, t.TempDir(), nil)
	admin := saslClient(t, addr, "admin", adminPass)
	adm := kadm.NewClient(admin)

	addUser(t, ctx, adm, "carol", "pw1")
	if !authenticates(t, addr, "carol", "pw1") {
		t.Fatal("carol cannot authenticate with her new password")
	}
	addUser(t, ctx, adm, "carol", "pw2")
	if authenticates(t, addr, "carol", "pw1") {
		t.Error("carol's old password still works")
	}
	if !authenticates(t, addr, "carol", "pw2") {
		t.Error("carol's new password does not work")
	}

	d, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 2 || len(d["carol"].CredInfos) != 1 || d["carol"].CredInfos[0].Iterations != 4096 || d["admin"].Err != nil {
		t.Errorf("describe all: %+v", d)
	}
	dreq := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, u := range []string{"carol", "nobody", "admin", "admin"} {
		ru := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		ru.Name = u
		dreq.Users = append(dreq.Users, ru)
	}
	wantDescribe := map[string]int16{"carol": 0, "nobody": kerr.ResourceNotFound.Code, "admin": kerr.DuplicateResource.Code}
	dresp := send[*kmsg.DescribeUserSCRAMCredentialsResponse](t, ctx, admin, dreq)
	if len(dresp.Results) != 3 {
		t.Errorf("%d results for 3 distinct users", len(dresp.Results))
	}
	for _, r := range dresp.Results {
		if r.ErrorCode != wantDescribe[r.User] {
			t.Errorf("describe %s: code %d, want %d", r.User, r.ErrorCode, wantDescribe[r.User])
		}
	}

	salt := []byte("0123456789abcdef")
	salted := func(mech sasl.ScramMechanism, pw string, iter int) []byte {
		sp, err := sasl.SaltedPassword(mech, pw, salt, iter)
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}
	upsert := func(name string, mech int8, iter int32, salt []byte) kmsg.AlterUserSCRAMCredentialsRequestUpsertion {
		u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		u.Name, u.Mechanism, u.Iterations, u.Salt = name, mech, iter, salt
		u.SaltedPassword = salted(sasl.ScramSHA256, "pw", 4096)
		return u
	}
	deletion := func(name string, mech int8) kmsg.AlterUserSCRAMCredentialsRequestDeletion {
		d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
		d.Name, d.Mechanism = name, mech
		return d
	}
	areq := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	areq.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
		upsert("few", 1, 1000, salt),
		upsert("many", 1, 20000, salt),
		upsert("mech", 3, 4096, salt),
		upsert("", 1, 4096, salt),
		upsert("nosalt", 1, 4096, nil),
		upsert("twice", 1, 4096, salt),
		upsert("twice", 1, 4096, salt),
		upsert("both", 1, 4096, salt),
		upsert("dave", 1, 4096, salt),
	}
	areq.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{
		deletion("missing", 1),
		deletion("both", 2),
	}
	wantAlter := map[string]struct {
		code int16
		msg  string
	}{
		"few":     {kerr.UnacceptableCredential.Code, "Too few iterations"},
		"many":    {kerr.UnacceptableCredential.Code, "Too many iterations"},
		"mech":    {kerr.UnsupportedSaslMechanism.Code, "Unknown SCRAM mechanism"},
		"":        {kerr.UnacceptableCredential.Code, "Username must not be empty"},
		"nosalt":  {kerr.UnacceptableCredential.Code, "Salt must not be empty"},
		"twice":   {kerr.DuplicateResource.Code, "A user credential cannot be altered twice in the same request"},
		"both":    {kerr.ResourceNotFound.Code, "Attempt to delete a user credential that does not exist"},
		"missing": {kerr.ResourceNotFound.Code, "Attempt to delete a user credential that does not exist"},
		"dave":    {0, ""},
	}
	aresp := send[*kmsg.AlterUserSCRAMCredentialsResponse](t, ctx, admin, areq)
	if len(aresp.Results) != len(wantAlter) {
		t.Errorf("%d results, want %d", len(aresp.Results), len(wantAlter))
	}
	for _, r := range aresp.Results {
		w := wantAlter[r.User]
		msg := ""
		if r.ErrorMessage != nil {
			msg = *r.ErrorMessage
		}
		if r.ErrorCode != w.code || msg != w.msg {
			t.Errorf("alter %q: code %d %q, want %d %q", r.User, r.ErrorCode, msg, w.code, w.msg)
		}
	}
	// dave's salted password (SCRAM-SHA-256 of "pw") works with a client.
	dave, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0),
		kgo.SASL(scram.Auth{User: "dave", Pass: "pw"}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer dave.Close()
	if _, err := dave.SeedBrokers()[0].Request(ctx, kmsg.NewPtrMetadataRequest()); err != nil {
		t.Errorf("dave cannot authenticate: %v", err)
	}

	// A deleted credential can no longer authenticate.
	res, err := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "carol", Mechanism: kadm.ScramSha512}}, nil)
	if err != nil || res.Error() != nil {
		t.Fatalf("delete carol: %v %v", err, res.Error())
	}
	if authenticates(t, addr, "carol", "pw2") {
		t.Error("carol authenticates after her credential was deleted")
	}
	// A user named in a deletion and an upsertion is a duplicate.
	both := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	both.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{deletion("dave", 1)}
	both.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{upsert("dave", 1, 4096, salt)}
	if r := send[*kmsg.AlterUserSCRAMCredentialsResponse](t, ctx, admin, both); len(r.Results) != 1 || r.Results[0].ErrorCode != kerr.DuplicateResource.Code {
		t.Errorf("delete and upsert dave: %+v", r.Results)
	}

	// Without ALTER on the cluster every named user is refused.
	addUser(t, ctx, adm, "alice", "alice-pw")
	alice := saslClient(t, addr, "alice", "alice-pw")
	refused := send[*kmsg.AlterUserSCRAMCredentialsResponse](t, ctx, alice, areq)
	if len(refused.Results) != 9 { // distinct names, "" included
		t.Errorf("refused: %d results", len(refused.Results))
	}
	for _, r := range refused.Results {
		if r.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
			t.Errorf("refused %q: code %d", r.User, r.ErrorCode)
		}
	}
}
