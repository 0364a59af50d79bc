package store

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// storeTests is the suite every backend runs (TestStore/BACKEND/NAME).
var storeTests = []struct {
	name string
	run  func(t *testing.T, db testDB)
}{
	{"IdentityCreateGet", testIdentityCreateGet},
	{"IdentityConflicts", testIdentityConflicts},
	{"IdentityListPagedCount", testIdentityListPagedCount},
	{"TokenLookup", testTokenLookup},
	{"TokenRevoke", testTokenRevoke},
	{"TokenConstraints", testTokenConstraints},
	{"KeyCreateGetList", testKeyCreateGetList},
	{"KeyRevokeIdempotent", testKeyRevokeIdempotent},
	{"KeyConstraints", testKeyConstraints},
	{"KeyListExpired", testKeyListExpired},
	{"TopicCreateGet", testTopicCreateGet},
	{"TopicConstraints", testTopicConstraints},
	{"TopicListByNamespace", testTopicListByNamespace},
	{"TopicListVisibleTo", testTopicListVisibleTo},
	{"TopicUpdate", testTopicUpdate},
	{"TopicDeleteCascadesGrants", testTopicDeleteCascadesGrants},
	{"GrantPutGetListDelete", testGrantPutGetListDelete},
	{"GrantConstraints", testGrantConstraints},
	{"TriggerCreateGetList", testTriggerCreateGetList},
	{"TriggerConstraints", testTriggerConstraints},
	{"TriggerUpdateOptimistic", testTriggerUpdateOptimistic},
	{"TriggerListAllPagedDelete", testTriggerListAllPagedDelete},
	{"IdempotencyPutIfAbsent", testIdempotencyPutIfAbsent},
	{"IdempotencyPurge", testIdempotencyPurge},
	{"TxCommit", testTxCommit},
	{"TxRollback", testTxRollback},
	{"TimesUTCMicroseconds", testTimesUTCMicroseconds},
	{"Schema", testSchema},
	{"ConcurrentWritersAndReaders", testConcurrentWritersAndReaders},
	{"TwoStoresOneDatabase", testTwoStoresOneDatabase},
}

func TestStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, tc := range storeTests {
			t.Run(tc.name, func(t *testing.T) {
				tc.run(t, openTest(t, b))
			})
		}
	})
}

// t0 is the suite's fixed "now": a time with sub-microsecond digits in a
// zone other than UTC, so tests see the store normalise it.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

// at returns t0 (in UTC, at microsecond precision) plus d.
func at(d time.Duration) time.Time { return utc(t0.Add(d)) }

// ptr returns a pointer to t.
func ptr(t time.Time) *time.Time { return &t }

// mkIdentity creates the identity "local:NAME" with namespace NAME.
func mkIdentity(t testing.TB, s *Store, name string) Identity {
	t.Helper()
	id, err := s.CreateIdentity(ctxT(t), Identity{ID: "local:" + name, Name: name, Namespace: name})
	must(t, err, "CreateIdentity "+name)
	return id
}

// mkTopic creates topic NS.NAME owned by owner.
func mkTopic(t testing.TB, s *Store, owner Identity, name string) Topic {
	t.Helper()
	tp, err := s.CreateTopic(ctxT(t), Topic{
		Name: owner.Namespace + "." + name, Namespace: owner.Namespace, OwnerID: owner.ID, Partitions: 1,
	})
	must(t, err, "CreateTopic "+name)
	return tp
}

// hash returns the SHA-256 of secret.
func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func testIdentityCreateGet(t *testing.T, db testDB) {
	ctx := ctxT(t)
	want := Identity{ID: "https://issuer.example|sub-1", Name: "Alice", Namespace: "alice", Admin: true, CreatedAt: t0}
	got, err := db.CreateIdentity(ctx, want)
	must(t, err, "CreateIdentity")
	want.CreatedAt = utc(t0)
	if got != want {
		t.Fatalf("CreateIdentity = %+v, want %+v", got, want)
	}
	if got, err := db.GetIdentity(ctx, want.ID); err != nil || got != want {
		t.Fatalf("GetIdentity = %+v, %v; want %+v", got, err, want)
	}
	if got, err := db.GetIdentityByNamespace(ctx, "alice"); err != nil || got != want {
		t.Fatalf("GetIdentityByNamespace = %+v, %v; want %+v", got, err, want)
	}
	_, err = db.GetIdentity(ctx, "local:nobody")
	wantErr(t, err, ErrNotFound, "GetIdentity unknown")
	_, err = db.GetIdentityByNamespace(ctx, "nobody")
	wantErr(t, err, ErrNotFound, "GetIdentityByNamespace unknown")

	// CreatedAt defaults to now.
	db.ops.now = func() time.Time { return t0.Add(time.Hour) }
	bob, err := db.CreateIdentity(ctx, Identity{ID: "local:bob", Namespace: "bob"})
	must(t, err, "CreateIdentity bob")
	if bob.CreatedAt != at(time.Hour) || bob.Admin {
		t.Fatalf("bob = %+v, want CreatedAt %v and not admin", bob, at(time.Hour))
	}
}

func testIdentityConflicts(t *testing.T, db testDB) {
	ctx := ctxT(t)
	mkIdentity(t, db.Store, "alice")
	_, err := db.CreateIdentity(ctx, Identity{ID: "local:alice", Namespace: "alice2"})
	wantErr(t, err, ErrConflict, "duplicate ID")
	_, err = db.CreateIdentity(ctx, Identity{ID: "local:alice2", Namespace: "alice"})
	wantErr(t, err, ErrConflict, "duplicate namespace")
	_, err = db.CreateIdentity(ctx, Identity{ID: "", Namespace: "x"})
	wantErr(t, err, ErrInvalid, "empty ID")
	_, err = db.CreateIdentity(ctx, Identity{ID: "local:x", Namespace: " "})
	wantErr(t, err, ErrInvalid, "empty namespace")
	if n, err := db.CountIdentities(ctx); err != nil || n != 1 {
		t.Fatalf("CountIdentities = %d, %v; want 1 (failed creates left nothing)", n, err)
	}
}

func testIdentityListPagedCount(t *testing.T, db testDB) {
	ctx := ctxT(t)
	if got, err := db.ListIdentities(ctx, Page{}); err != nil || len(got) != 0 || got == nil {
		t.Fatalf("ListIdentities on empty = %#v, %v; want an empty slice", got, err)
	}
	var want []string
	for i := range 25 {
		id := mkIdentity(t, db.Store, fmt.Sprintf("u%02d", 24-i))
		want = append([]string{id.ID}, want...)
	}
	if n, err := db.CountIdentities(ctx); err != nil || n != 25 {
		t.Fatalf("CountIdentities = %d, %v; want 25", n, err)
	}
	var got []string
	p := Page{Limit: 10}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages of 10 for 25 identities")
		}
		ids, err := db.ListIdentities(ctx, p)
		must(t, err, "ListIdentities")
		for _, id := range ids {
			got = append(got, id.ID)
		}
		if len(ids) < p.Limit {
			break
		}
		p.After = ids[len(ids)-1].ID
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paged ListIdentities = %v, want %v", got, want)
	}
	all, err := db.ListIdentities(ctx, Page{})
	must(t, err, "ListIdentities all")
	if len(all) != 25 {
		t.Fatalf("ListIdentities(Page{}) gave %d, want 25", len(all))
	}
}

func testTokenLookup(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	forever, err := db.CreateToken(ctx, Token{IdentityID: alice.ID, Hash: hash("forever"), CreatedAt: t0})
	must(t, err, "CreateToken forever")
	if forever.ID == "" || len(forever.ID) != 26 {
		t.Fatalf("generated token ID %q, want 26 base32 characters", forever.ID)
	}
	hour, err := db.CreateToken(ctx, Token{IdentityID: alice.ID, Hash: hash("hour"), CreatedAt: t0, ExpiresAt: ptr(t0.Add(time.Hour))})
	must(t, err, "CreateToken hour")

	got, err := db.LookupToken(ctx, hash("forever"), t0.Add(100*365*24*time.Hour))
	must(t, err, "LookupToken forever")
	if !reflect.DeepEqual(got, forever) {
		t.Fatalf("LookupToken = %+v, want %+v", got, forever)
	}
	if got, err := db.LookupToken(ctx, hash("hour"), t0.Add(time.Hour-time.Microsecond)); err != nil || got.ID != hour.ID {
		t.Fatalf("LookupToken before expiry = %+v, %v", got, err)
	}
	if !got.CreatedAt.Equal(at(0)) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt %v, want %v in UTC", got.CreatedAt, at(0))
	}
	_, err = db.LookupToken(ctx, hash("hour"), t0.Add(time.Hour))
	wantErr(t, err, ErrNotFound, "LookupToken at expiry")
	_, err = db.LookupToken(ctx, hash("unknown"), t0)
	wantErr(t, err, ErrNotFound, "LookupToken unknown")
	if got, err := db.GetToken(ctx, hour.ID); err != nil || !reflect.DeepEqual(got, hour) {
		t.Fatalf("GetToken = %+v, %v; want %+v", got, err, hour)
	}
}

func testTokenRevoke(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	tok, err := db.CreateToken(ctx, Token{IdentityID: alice.ID, Hash: hash("s")})
	must(t, err, "CreateToken")
	must(t, db.RevokeToken(ctx, tok.ID, t0), "RevokeToken")
	_, err = db.LookupToken(ctx, hash("s"), t0.Add(-time.Hour))
	wantErr(t, err, ErrNotFound, "LookupToken revoked")
	must(t, db.RevokeToken(ctx, tok.ID, t0.Add(time.Hour)), "RevokeToken again")
	got, err := db.GetToken(ctx, tok.ID)
	must(t, err, "GetToken")
	if got.RevokedAt == nil || !got.RevokedAt.Equal(at(0)) {
		t.Fatalf("RevokedAt = %v, want the first revocation %v", got.RevokedAt, at(0))
	}
	wantErr(t, db.RevokeToken(ctx, "nope", t0), ErrNotFound, "RevokeToken unknown")
}

func testTokenConstraints(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	_, err := db.CreateToken(ctx, Token{IdentityID: "local:ghost", Hash: hash("g")})
	wantErr(t, err, ErrNotFound, "token of unknown identity")
	_, err = db.CreateToken(ctx, Token{IdentityID: alice.ID, Hash: []byte("short")})
	wantErr(t, err, ErrInvalid, "token hash of 5 bytes")
	_, err = db.CreateToken(ctx, Token{IdentityID: alice.ID, Hash: hash("x")})
	must(t, err, "CreateToken")
	_, err = db.CreateToken(ctx, Token{IdentityID: alice.ID, Hash: hash("x")})
	wantErr(t, err, ErrConflict, "duplicate token hash")
	_, err = db.CreateToken(ctx, Token{ID: "t1", IdentityID: alice.ID, Hash: hash("y")})
	must(t, err, "CreateToken t1")
	_, err = db.CreateToken(ctx, Token{ID: "t1", IdentityID: alice.ID, Hash: hash("z")})
	wantErr(t, err, ErrConflict, "duplicate token ID")
}

func testKeyCreateGetList(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	bob := mkIdentity(t, db.Store, "bob")
	laptop, err := db.CreateKey(ctx, Key{IdentityID: alice.ID, Username: "alice-laptop", Mechanism: "SCRAM-SHA-512",
		Description: "laptop", CreatedAt: t0, ExpiresAt: ptr(t0.Add(24 * time.Hour))})
	must(t, err, "CreateKey laptop")
	if laptop.ID == "" || laptop.CreatedAt != at(0) || !laptop.ExpiresAt.Equal(at(24*time.Hour)) {
		t.Fatalf("CreateKey = %+v", laptop)
	}
	edge, err := db.CreateKey(ctx, Key{ID: "k-edge", IdentityID: alice.ID, Username: "alice-edge", Mechanism: "SCRAM-SHA-256",
		CreatedAt: t0.Add(time.Minute)})
	must(t, err, "CreateKey edge")
	_, err = db.CreateKey(ctx, Key{IdentityID: bob.ID, Username: "bob-1", Mechanism: "SCRAM-SHA-512"})
	must(t, err, "CreateKey bob")

	if got, err := db.GetKey(ctx, laptop.ID); err != nil || !reflect.DeepEqual(got, laptop) {
		t.Fatalf("GetKey = %+v, %v; want %+v", got, err, laptop)
	}
	_, err = db.GetKey(ctx, "nope")
	wantErr(t, err, ErrNotFound, "GetKey unknown")

	keys, err := db.ListKeys(ctx, alice.ID, false)
	must(t, err, "ListKeys")
	if !reflect.DeepEqual(keys, []Key{laptop, edge}) {
		t.Fatalf("ListKeys = %+v, want laptop then edge", keys)
	}
	must(t, db.RevokeKey(ctx, laptop.ID, t0.Add(time.Hour)), "RevokeKey")
	keys, err = db.ListKeys(ctx, alice.ID, false)
	must(t, err, "ListKeys after revoke")
	if len(keys) != 1 || keys[0].ID != edge.ID {
		t.Fatalf("ListKeys without revoked = %+v, want only edge", keys)
	}
	keys, err = db.ListKeys(ctx, alice.ID, true)
	must(t, err, "ListKeys with revoked")
	if len(keys) != 2 || keys[0].RevokedAt == nil || !keys[0].RevokedAt.Equal(at(time.Hour)) {
		t.Fatalf("ListKeys with revoked = %+v, want laptop (revoked) and edge", keys)
	}
	if keys, err := db.ListKeys(ctx, "local:nobody", true); err != nil || len(keys) != 0 {
		t.Fatalf("ListKeys of unknown identity = %+v, %v; want none", keys, err)
	}
}

func testKeyRevokeIdempotent(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	k, err := db.CreateKey(ctx, Key{IdentityID: alice.ID, Username: "a1", Mechanism: "SCRAM-SHA-512"})
	must(t, err, "CreateKey")
	for i := range 3 {
		must(t, db.RevokeKey(ctx, k.ID, t0.Add(time.Duration(i)*time.Hour)), "RevokeKey")
	}
	got, err := db.GetKey(ctx, k.ID)
	must(t, err, "GetKey")
	if got.RevokedAt == nil || !got.RevokedAt.Equal(at(0)) {
		t.Fatalf("RevokedAt = %v, want the first revocation %v", got.RevokedAt, at(0))
	}
	wantErr(t, db.RevokeKey(ctx, "nope", t0), ErrNotFound, "RevokeKey unknown")
	// Zero time means now.
	db.ops.now = func() time.Time { return t0.Add(7 * time.Hour) }
	k2, err := db.CreateKey(ctx, Key{IdentityID: alice.ID, Username: "a2", Mechanism: "SCRAM-SHA-512"})
	must(t, err, "CreateKey a2")
	must(t, db.RevokeKey(ctx, k2.ID, time.Time{}), "RevokeKey a2")
	got, err = db.GetKey(ctx, k2.ID)
	must(t, err, "GetKey a2")
	if got.RevokedAt == nil || !got.RevokedAt.Equal(at(7*time.Hour)) {
		t.Fatalf("RevokedAt = %v, want now %v", got.RevokedAt, at(7*time.Hour))
	}
}

func testKeyConstraints(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	bob := mkIdentity(t, db.Store, "bob")
	_, err := db.CreateKey(ctx, Key{IdentityID: alice.ID, Username: "shared", Mechanism: "SCRAM-SHA-512"})
	must(t, err, "CreateKey")
	_, err = db.CreateKey(ctx, Key{IdentityID: bob.ID, Username: "shared", Mechanism: "SCRAM-SHA-512"})
	wantErr(t, err, ErrConflict, "duplicate key username")
	_, err = db.CreateKey(ctx, Key{IdentityID: "local:ghost", Username: "ghost", Mechanism: "SCRAM-SHA-512"})
	wantErr(t, err, ErrNotFound, "key of unknown identity")
	_, err = db.CreateKey(ctx, Key{IdentityID: alice.ID, Username: "", Mechanism: "SCRAM-SHA-512"})
	wantErr(t, err, ErrInvalid, "empty username")
	_, err = db.CreateKey(ctx, Key{IdentityID: alice.ID, Username: "m", Mechanism: ""})
	wantErr(t, err, ErrInvalid, "empty mechanism")
}

func testKeyListExpired(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	mk := func(user string, expires *time.Time) Key {
		k, err := db.CreateKey(ctx, Key{IdentityID: alice.ID, Username: user, Mechanism: "SCRAM-SHA-512", ExpiresAt: expires})
		must(t, err, "CreateKey "+user)
		return k
	}
	mk("never", nil)
	late := mk("late", ptr(t0.Add(2*time.Hour)))
	early := mk("early", ptr(t0.Add(time.Hour)))
	revoked := mk("revoked", ptr(t0))
	must(t, db.RevokeKey(ctx, revoked.ID, t0), "RevokeKey")

	ids := func(now time.Time) []string {
		keys, err := db.ListExpiredKeys(ctx, now)
		must(t, err, "ListExpiredKeys")
		out := []string{}
		for _, k := range keys {
			out = append(out, k.Username)
		}
		return out
	}
	for _, c := range []struct {
		now  time.Time
		want []string
	}{
		{t0, []string{}},
		{t0.Add(time.Hour - time.Microsecond), []string{}},
		{t0.Add(time.Hour), []string{"early"}},
		{t0.Add(3 * time.Hour), []string{"early", "late"}},
	} {
		if got := ids(c.now); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ListExpiredKeys(t0+%v) = %v, want %v", c.now.Sub(t0), got, c.want)
		}
	}
	must(t, db.RevokeKey(ctx, early.ID, t0.Add(3*time.Hour)), "RevokeKey early")
	if got := ids(t0.Add(3 * time.Hour)); !reflect.DeepEqual(got, []string{late.Username}) {
		t.Errorf("after reaping early: %v, want [late]", got)
	}
}

func testTopicCreateGet(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	want := Topic{Name: "alice.metrics", Namespace: "alice", OwnerID: alice.ID, Partitions: 6,
		Configs: map[string]string{"retention.ms": "86400000", "cleanup.policy": "delete"}, CreatedAt: t0}
	got, err := db.CreateTopic(ctx, want)
	must(t, err, "CreateTopic")
	want.CreatedAt, want.UpdatedAt = at(0), at(0)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("CreateTopic = %+v, want %+v", got, want)
	}
	if got, err := db.GetTopic(ctx, "alice.metrics"); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("GetTopic = %+v, %v; want %+v", got, err, want)
	}
	_, err = db.GetTopic(ctx, "alice.nope")
	wantErr(t, err, ErrNotFound, "GetTopic unknown")
	// No configs: an empty map, not nil.
	plain := mkTopic(t, db.Store, alice, "plain")
	if got, err := db.GetTopic(ctx, plain.Name); err != nil || got.Configs == nil || len(got.Configs) != 0 {
		t.Fatalf("GetTopic plain = %+v, %v; want empty configs", got, err)
	}
}

func testTopicConstraints(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	mkTopic(t, db.Store, alice, "t")
	for _, c := range []struct {
		what  string
		topic Topic
		want  error
	}{
		{"duplicate name", Topic{Name: "alice.t", Namespace: "alice", OwnerID: alice.ID, Partitions: 1}, ErrConflict},
		{"unknown owner", Topic{Name: "ghost.t", Namespace: "ghost", OwnerID: "local:ghost", Partitions: 1}, ErrNotFound},
		{"name outside namespace", Topic{Name: "bob.t", Namespace: "alice", OwnerID: alice.ID, Partitions: 1}, ErrInvalid},
		{"namespace prefix without dot", Topic{Name: "alicet", Namespace: "alice", OwnerID: alice.ID, Partitions: 1}, ErrInvalid},
		{"empty short name", Topic{Name: "alice.", Namespace: "alice", OwnerID: alice.ID, Partitions: 1}, ErrInvalid},
		{"zero partitions", Topic{Name: "alice.z", Namespace: "alice", OwnerID: alice.ID, Partitions: 0}, ErrInvalid},
		{"empty owner", Topic{Name: "alice.o", Namespace: "alice", Partitions: 1}, ErrInvalid},
	} {
		_, err := db.CreateTopic(ctx, c.topic)
		wantErr(t, err, c.want, c.what)
	}
	topics, err := db.ListTopicsByNamespace(ctx, "alice", Page{})
	must(t, err, "ListTopicsByNamespace")
	if len(topics) != 1 {
		t.Fatalf("after failed creates: %d topics, want 1", len(topics))
	}
}

func testTopicListByNamespace(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	bob := mkIdentity(t, db.Store, "bob")
	for _, n := range []string{"c", "a", "b", "d"} {
		mkTopic(t, db.Store, alice, n)
	}
	mkTopic(t, db.Store, bob, "a")
	names := func(ns string, p Page) []string {
		topics, err := db.ListTopicsByNamespace(ctx, ns, p)
		must(t, err, "ListTopicsByNamespace")
		out := []string{}
		for _, tp := range topics {
			out = append(out, tp.Name)
		}
		return out
	}
	for _, c := range []struct {
		ns   string
		p    Page
		want []string
	}{
		{"alice", Page{}, []string{"alice.a", "alice.b", "alice.c", "alice.d"}},
		{"alice", Page{Limit: 2}, []string{"alice.a", "alice.b"}},
		{"alice", Page{After: "alice.b", Limit: 2}, []string{"alice.c", "alice.d"}},
		{"alice", Page{After: "alice.d"}, []string{}},
		{"bob", Page{}, []string{"bob.a"}},
		{"carol", Page{}, []string{}},
	} {
		if got := names(c.ns, c.p); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ListTopicsByNamespace(%q, %+v) = %v, want %v", c.ns, c.p, got, c.want)
		}
	}
}

func testTopicListVisibleTo(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	bob := mkIdentity(t, db.Store, "bob")
	carol := mkIdentity(t, db.Store, "carol")
	mkTopic(t, db.Store, alice, "a1")
	mkTopic(t, db.Store, alice, "a2")
	mkTopic(t, db.Store, alice, "a3")
	mkTopic(t, db.Store, bob, "b1")
	mkTopic(t, db.Store, carol, "c1")
	grants := []Grant{
		{Topic: "alice.a1", IdentityID: bob.ID, Read: true},
		{Topic: "alice.a2", IdentityID: bob.ID, Write: true},
		{Topic: "alice.a3", IdentityID: bob.ID},                        // neither read nor write: not visible
		{Topic: "bob.b1", IdentityID: bob.ID, Read: true, Write: true}, // the owner's own grant: listed once
		{Topic: "carol.c1", IdentityID: alice.ID, Read: true},
		{Topic: "alice.a3", IdentityID: carol.ID, Write: true},
		{Topic: "bob.b1", IdentityID: carol.ID, Read: true},
		{Topic: "alice.a1", IdentityID: carol.ID, Read: true},
		{Topic: "alice.a2", IdentityID: carol.ID, Read: true},
	}
	for _, g := range grants {
		_, err := db.PutGrant(ctx, g)
		must(t, err, "PutGrant")
	}
	names := func(id string, p Page) []string {
		topics, err := db.ListTopicsVisibleTo(ctx, id, p)
		must(t, err, "ListTopicsVisibleTo")
		out := []string{}
		for _, tp := range topics {
			out = append(out, tp.Name)
		}
		return out
	}
	for _, c := range []struct {
		id   string
		p    Page
		want []string
	}{
		{bob.ID, Page{}, []string{"alice.a1", "alice.a2", "bob.b1"}},
		{bob.ID, Page{Limit: 2}, []string{"alice.a1", "alice.a2"}},
		{bob.ID, Page{After: "alice.a2", Limit: 2}, []string{"bob.b1"}},
		{bob.ID, Page{After: "alice.a1", Limit: 1}, []string{"alice.a2"}},
		{alice.ID, Page{}, []string{"alice.a1", "alice.a2", "alice.a3", "carol.c1"}},
		{carol.ID, Page{}, []string{"alice.a1", "alice.a2", "alice.a3", "bob.b1", "carol.c1"}},
		{"local:nobody", Page{}, []string{}},
	} {
		if got := names(c.id, c.p); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ListTopicsVisibleTo(%q, %+v) = %v, want %v", c.id, c.p, got, c.want)
		}
	}
}

func testTopicUpdate(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	db.ops.now = func() time.Time { return t0 }
	tp, err := db.CreateTopic(ctx, Topic{Name: "alice.t", Namespace: "alice", OwnerID: alice.ID, Partitions: 1,
		Configs: map[string]string{"retention.ms": "1000"}})
	must(t, err, "CreateTopic")

	steps := []struct {
		u    TopicUpdate
		want Topic
	}{
		{TopicUpdate{Partitions: 3}, Topic{Partitions: 3, Configs: map[string]string{"retention.ms": "1000"}}},
		{TopicUpdate{Configs: map[string]string{"cleanup.policy": "compact"}}, Topic{Partitions: 3, Configs: map[string]string{"cleanup.policy": "compact"}}},
		{TopicUpdate{Partitions: 8, Configs: map[string]string{}}, Topic{Partitions: 8, Configs: map[string]string{}}},
		{TopicUpdate{}, Topic{Partitions: 8, Configs: map[string]string{}}},
	}
	for i, st := range steps {
		now := t0.Add(time.Duration(i+1) * time.Minute)
		db.ops.now = func() time.Time { return now }
		got, err := db.UpdateTopic(ctx, tp.Name, st.u)
		must(t, err, fmt.Sprintf("UpdateTopic step %d", i))
		want := tp
		want.Partitions, want.Configs, want.UpdatedAt = st.want.Partitions, st.want.Configs, utc(now)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: UpdateTopic = %+v, want %+v", i, got, want)
		}
		if stored, err := db.GetTopic(ctx, tp.Name); err != nil || !reflect.DeepEqual(stored, want) {
			t.Fatalf("step %d: GetTopic = %+v, %v; want %+v", i, stored, err, want)
		}
	}
	_, err = db.UpdateTopic(ctx, "alice.nope", TopicUpdate{Partitions: 2})
	wantErr(t, err, ErrNotFound, "UpdateTopic unknown")
	_, err = db.UpdateTopic(ctx, tp.Name, TopicUpdate{Partitions: -1})
	wantErr(t, err, ErrInvalid, "UpdateTopic negative partitions")
}

func testTopicDeleteCascadesGrants(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	bob := mkIdentity(t, db.Store, "bob")
	tp := mkTopic(t, db.Store, alice, "t")
	keep := mkTopic(t, db.Store, alice, "keep")
	for _, name := range []string{tp.Name, keep.Name} {
		_, err := db.PutGrant(ctx, Grant{Topic: name, IdentityID: bob.ID, Read: true})
		must(t, err, "PutGrant")
	}
	must(t, db.DeleteTopic(ctx, tp.Name), "DeleteTopic")
	_, err := db.GetTopic(ctx, tp.Name)
	wantErr(t, err, ErrNotFound, "GetTopic deleted")
	if gs, err := db.ListGrants(ctx, tp.Name); err != nil || len(gs) != 0 {
		t.Fatalf("grants of deleted topic = %+v, %v; want none", gs, err)
	}
	_, err = db.GetGrant(ctx, tp.Name, bob.ID)
	wantErr(t, err, ErrNotFound, "GetGrant of deleted topic")
	if gs, err := db.ListGrants(ctx, keep.Name); err != nil || len(gs) != 1 {
		t.Fatalf("grants of the other topic = %+v, %v; want 1", gs, err)
	}
	wantErr(t, db.DeleteTopic(ctx, tp.Name), ErrNotFound, "DeleteTopic again")
	// The name is free again, without the old grants.
	mkTopic(t, db.Store, alice, "t")
	if gs, err := db.ListGrants(ctx, tp.Name); err != nil || len(gs) != 0 {
		t.Fatalf("grants of recreated topic = %+v, %v; want none", gs, err)
	}
}

func testGrantPutGetListDelete(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	bob := mkIdentity(t, db.Store, "bob")
	carol := mkIdentity(t, db.Store, "carol")
	tp := mkTopic(t, db.Store, alice, "t")

	db.ops.now = func() time.Time { return t0 }
	g, err := db.PutGrant(ctx, Grant{Topic: tp.Name, IdentityID: bob.ID, Read: true})
	must(t, err, "PutGrant")
	want := Grant{Topic: tp.Name, IdentityID: bob.ID, Read: true, CreatedAt: at(0), UpdatedAt: at(0)}
	if g != want {
		t.Fatalf("PutGrant = %+v, want %+v", g, want)
	}
	db.ops.now = func() time.Time { return t0.Add(time.Hour) }
	g, err = db.PutGrant(ctx, Grant{Topic: tp.Name, IdentityID: bob.ID, Read: true, Write: true})
	must(t, err, "PutGrant update")
	want = Grant{Topic: tp.Name, IdentityID: bob.ID, Read: true, Write: true, CreatedAt: at(0), UpdatedAt: at(time.Hour)}
	if g != want {
		t.Fatalf("PutGrant update = %+v, want %+v (CreatedAt kept)", g, want)
	}
	if got, err := db.GetGrant(ctx, tp.Name, bob.ID); err != nil || got != want {
		t.Fatalf("GetGrant = %+v, %v; want %+v", got, err, want)
	}
	_, err = db.GetGrant(ctx, tp.Name, carol.ID)
	wantErr(t, err, ErrNotFound, "GetGrant absent")
	cg, err := db.PutGrant(ctx, Grant{Topic: tp.Name, IdentityID: carol.ID, Write: true})
	must(t, err, "PutGrant carol")
	gs, err := db.ListGrants(ctx, tp.Name)
	must(t, err, "ListGrants")
	if !reflect.DeepEqual(gs, []Grant{want, cg}) {
		t.Fatalf("ListGrants = %+v, want bob then carol", gs)
	}
	must(t, db.DeleteGrant(ctx, tp.Name, bob.ID), "DeleteGrant")
	wantErr(t, db.DeleteGrant(ctx, tp.Name, bob.ID), ErrNotFound, "DeleteGrant again")
	gs, err = db.ListGrants(ctx, tp.Name)
	must(t, err, "ListGrants after delete")
	if !reflect.DeepEqual(gs, []Grant{cg}) {
		t.Fatalf("ListGrants after delete = %+v, want carol only", gs)
	}
	if gs, err := db.ListGrants(ctx, "alice.nope"); err != nil || len(gs) != 0 {
		t.Fatalf("ListGrants of unknown topic = %+v, %v; want none", gs, err)
	}
}

func testGrantConstraints(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	tp := mkTopic(t, db.Store, alice, "t")
	_, err := db.PutGrant(ctx, Grant{Topic: "alice.nope", IdentityID: alice.ID, Read: true})
	wantErr(t, err, ErrNotFound, "grant on unknown topic")
	_, err = db.PutGrant(ctx, Grant{Topic: tp.Name, IdentityID: "local:ghost", Read: true})
	wantErr(t, err, ErrNotFound, "grant to unknown identity")
	_, err = db.PutGrant(ctx, Grant{Topic: "", IdentityID: alice.ID})
	wantErr(t, err, ErrInvalid, "grant without topic")
	if gs, err := db.ListGrants(ctx, tp.Name); err != nil || len(gs) != 0 {
		t.Fatalf("after failed grants: %+v, %v; want none", gs, err)
	}
}

func testIdempotencyPutIfAbsent(t *testing.T, db testDB) {
	ctx := ctxT(t)
	first := Idempotency{Scope: "local:alice POST /api/v1/topics", Key: "k1", RequestHash: hash("req"),
		Response: []byte(`{"name":"alice.t"}`), Status: 201, CreatedAt: t0}
	got, created, err := db.PutIdempotency(ctx, first)
	must(t, err, "PutIdempotency")
	first.CreatedAt = at(0)
	if !created || !reflect.DeepEqual(got, first) {
		t.Fatalf("PutIdempotency = %+v, %v; want %+v, true", got, created, first)
	}
	// The same key again, same or different request: the first record.
	for _, h := range [][]byte{hash("req"), hash("other")} {
		again := Idempotency{Scope: first.Scope, Key: "k1", RequestHash: h, Response: []byte("x"), Status: 500, CreatedAt: t0.Add(time.Hour)}
		got, created, err := db.PutIdempotency(ctx, again)
		must(t, err, "PutIdempotency again")
		if created || !reflect.DeepEqual(got, first) {
			t.Fatalf("PutIdempotency again = %+v, %v; want the first record, false", got, created)
		}
	}
	// Another scope, same key: a record of its own.
	other := Idempotency{Scope: "local:bob POST /api/v1/topics", Key: "k1", RequestHash: hash("req"), Status: 201}
	got, created, err = db.PutIdempotency(ctx, other)
	must(t, err, "PutIdempotency other scope")
	if !created || got.Scope != other.Scope || got.Response == nil {
		t.Fatalf("PutIdempotency other scope = %+v, %v; want created", got, created)
	}
	_, _, err = db.PutIdempotency(ctx, Idempotency{Scope: "s"})
	wantErr(t, err, ErrInvalid, "PutIdempotency without key")
}

func testIdempotencyPurge(t *testing.T, db testDB) {
	ctx := ctxT(t)
	for i := range 5 {
		_, _, err := db.PutIdempotency(ctx, Idempotency{Scope: "s", Key: fmt.Sprint(i), RequestHash: hash("r"),
			Status: 200, CreatedAt: t0.Add(time.Duration(i) * time.Hour)})
		must(t, err, "PutIdempotency")
	}
	n, err := db.PurgeIdempotency(ctx, t0.Add(2*time.Hour))
	must(t, err, "PurgeIdempotency")
	if n != 2 {
		t.Fatalf("PurgeIdempotency purged %d, want 2 (keys 0 and 1)", n)
	}
	for i, wantCreated := range []bool{true, true, false, false, false} {
		_, created, err := db.PutIdempotency(ctx, Idempotency{Scope: "s", Key: fmt.Sprint(i), Status: 200, CreatedAt: t0.Add(10 * time.Hour)})
		must(t, err, "PutIdempotency after purge")
		if created != wantCreated {
			t.Errorf("key %d after purge: created %v, want %v", i, created, wantCreated)
		}
	}
	if n, err := db.PurgeIdempotency(ctx, t0); err != nil || n != 0 {
		t.Fatalf("PurgeIdempotency(t0) = %d, %v; want 0", n, err)
	}
}

func testTxCommit(t *testing.T, db testDB) {
	ctx := ctxT(t)
	err := db.WithTx(ctx, func(tx *Tx) error {
		alice, err := tx.CreateIdentity(ctx, Identity{ID: "local:alice", Namespace: "alice"})
		if err != nil {
			return err
		}
		// The transaction sees its own writes.
		if _, err := tx.GetIdentity(ctx, alice.ID); err != nil {
			return err
		}
		tp, err := tx.CreateTopic(ctx, Topic{Name: "alice.t", Namespace: "alice", OwnerID: alice.ID, Partitions: 2})
		if err != nil {
			return err
		}
		_, _, err = tx.PutIdempotency(ctx, Idempotency{Scope: "alice", Key: "k", Response: []byte(tp.Name), Status: 201})
		return err
	})
	must(t, err, "WithTx")
	if _, err := db.GetTopic(ctx, "alice.t"); err != nil {
		t.Fatalf("after commit: GetTopic: %v", err)
	}
}

func testTxRollback(t *testing.T, db testDB) {
	ctx := ctxT(t)
	mkIdentity(t, db.Store, "bob")
	boom := errors.New("boom")
	err := db.WithTx(ctx, func(tx *Tx) error {
		if _, err := tx.CreateIdentity(ctx, Identity{ID: "local:alice", Namespace: "alice"}); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, err, boom, "WithTx returning an error")
	_, err = db.GetIdentity(ctx, "local:alice")
	wantErr(t, err, ErrNotFound, "identity of a rolled-back transaction")

	// A constraint error inside: returned as is, and everything undone.
	err = db.WithTx(ctx, func(tx *Tx) error {
		if _, err := tx.CreateIdentity(ctx, Identity{ID: "local:carol", Namespace: "carol"}); err != nil {
			return err
		}
		_, err := tx.CreateIdentity(ctx, Identity{ID: "local:bob2", Namespace: "bob"})
		return err
	})
	wantErr(t, err, ErrConflict, "WithTx with a conflict")
	_, err = db.GetIdentity(ctx, "local:carol")
	wantErr(t, err, ErrNotFound, "identity created before the conflict")

	// A panic: rolled back and passed on.
	func() {
		defer func() {
			if r := recover(); r != "panic in tx" {
				t.Fatalf("recovered %v, want the panic", r)
			}
		}()
		db.WithTx(ctx, func(tx *Tx) error {
			if _, err := tx.CreateIdentity(ctx, Identity{ID: "local:dave", Namespace: "dave"}); err != nil {
				return err
			}
			panic("panic in tx")
		})
	}()
	_, err = db.GetIdentity(ctx, "local:dave")
	wantErr(t, err, ErrNotFound, "identity of a panicked transaction")
	// The store still works (on SQLite: the one write connection is back).
	mkIdentity(t, db.Store, "erin")
}

func testTimesUTCMicroseconds(t *testing.T, db testDB) {
	ctx := ctxT(t)
	local := time.Date(2026, 7, 1, 23, 59, 59, 999999999, time.FixedZone("X", -7*3600))
	id, err := db.CreateIdentity(ctx, Identity{ID: "local:t", Namespace: "t", CreatedAt: local})
	must(t, err, "CreateIdentity")
	got, err := db.GetIdentity(ctx, id.ID)
	must(t, err, "GetIdentity")
	want := local.UTC().Truncate(time.Microsecond)
	if got.CreatedAt != want || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt = %v (%v), want %v in UTC", got.CreatedAt, got.CreatedAt.Location(), want)
	}
	if got.CreatedAt != id.CreatedAt {
		t.Fatalf("returned %v, stored %v", id.CreatedAt, got.CreatedAt)
	}
	// Before the epoch and far ahead.
	for _, ts := range []time.Time{time.Date(1900, 1, 1, 0, 0, 0, 1000, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)} {
		tok, err := db.CreateToken(ctx, Token{IdentityID: id.ID, Hash: hash(ts.String()), CreatedAt: ts, ExpiresAt: ptr(ts)})
		must(t, err, "CreateToken")
		got, err := db.GetToken(ctx, tok.ID)
		must(t, err, "GetToken")
		if !got.CreatedAt.Equal(ts) || !got.ExpiresAt.Equal(ts) {
			t.Fatalf("token times %v, %v; want %v", got.CreatedAt, got.ExpiresAt, ts)
		}
	}
}

// wantSchema is every table's columns, in order, after the last migration:
// both databases must agree with it (and so with each other).
var wantSchema = map[string][]string{
	"schema_migrations": {"version", "name", "applied_at"},
	"identities":        {"id", "name", "namespace", "admin", "created_at"},
	"tokens":            {"id", "identity_id", "hash", "created_at", "expires_at", "revoked_at"},
	"keys":              {"id", "identity_id", "username", "mechanism", "description", "created_at", "expires_at", "revoked_at"},
	"topics":            {"name", "namespace", "owner_id", "partitions", "configs", "created_at", "updated_at"},
	"grants":            {"topic", "identity_id", "can_read", "can_write", "created_at", "updated_at"},
	"idempotency":       {"scope", "idem_key", "request_hash", "response", "status", "created_at"},
	"triggers":          {"id", "owner_id", "name", "enabled", "version", "spec", "secret", "created_at", "updated_at"},
}

func testSchema(t *testing.T, db testDB) {
	ctx := ctxT(t)
	var q string
	switch db.Driver() {
	case kindSQLite:
		q = `SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p
			WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid`
	case kindPostgres:
		q = `SELECT table_name, column_name FROM information_schema.columns
			WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`
	}
	rows, err := db.ro.QueryContext(ctx, q)
	must(t, err, "schema query")
	defer rows.Close()
	got := map[string][]string{}
	for rows.Next() {
		var table, column string
		must(t, rows.Scan(&table, &column), "scan")
		got[table] = append(got[table], column)
	}
	must(t, rows.Err(), "rows")
	if !reflect.DeepEqual(got, wantSchema) {
		t.Fatalf("schema (%s):\n got %v\nwant %v", db.Driver(), got, wantSchema)
	}
	if v, err := db.Version(ctx); err != nil || v != SchemaVersion() {
		t.Fatalf("Version = %d, %v; want %d", v, err, SchemaVersion())
	}
}

// testConcurrentWritersAndReaders runs transactions and single writes from
// several goroutines while others read: on SQLite they queue for the one
// write connection, on PostgreSQL the database orders them.
func testConcurrentWritersAndReaders(t *testing.T, db testDB) {
	ctx := ctxT(t)
	owner := mkIdentity(t, db.Store, "owner")
	const writers, each = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each+64)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("w%dn%02d", w, i)
				err := db.WithTx(ctx, func(tx *Tx) error {
					id, err := tx.CreateIdentity(ctx, Identity{ID: "local:" + name, Namespace: name})
					if err != nil {
						return err
					}
					tp, err := tx.CreateTopic(ctx, Topic{Name: name + ".t", Namespace: name, OwnerID: id.ID, Partitions: 1})
					if err != nil {
						return err
					}
					_, err = tx.PutGrant(ctx, Grant{Topic: tp.Name, IdentityID: owner.ID, Read: true})
					return err
				})
				if err == nil {
					_, err = db.CreateKey(ctx, Key{IdentityID: "local:" + name, Username: name, Mechanism: "SCRAM-SHA-512"})
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d, %s: %w", w, name, err)
					return
				}
			}
		})
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := db.ListTopicsVisibleTo(ctx, owner.ID, Page{}); err != nil {
					errs <- fmt.Errorf("reader: %w", err)
					return
				}
				if _, err := db.CountIdentities(ctx); err != nil {
					errs <- fmt.Errorf("reader: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	topics, err := db.ListTopicsVisibleTo(ctx, owner.ID, Page{})
	must(t, err, "ListTopicsVisibleTo")
	if len(topics) != writers*each {
		t.Fatalf("owner sees %d topics, want %d", len(topics), writers*each)
	}
}

// testTwoStoresOneDatabase writes through two stores on one database at
// once, as two Octopus processes would (on SQLite: two write connections to
// one file, kept apart by SQLite's lock and the busy timeout).
func testTwoStoresOneDatabase(t *testing.T, db testDB) {
	ctx := ctxT(t)
	other := mustOpen(t, db.url)
	alice := mkIdentity(t, db.Store, "alice")
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i, s := range []*Store{db.Store, other} {
		wg.Go(func() {
			for j := range 20 {
				err := s.WithTx(ctx, func(tx *Tx) error {
					_, err := tx.CreateKey(ctx, Key{IdentityID: alice.ID, Username: fmt.Sprintf("s%d-%d", i, j), Mechanism: "SCRAM-SHA-256"})
					if err != nil {
						return err
					}
					_, _, err = tx.PutIdempotency(ctx, Idempotency{Scope: "alice", Key: fmt.Sprintf("s%d-%d", i, j), Status: 201})
					return err
				})
				if err != nil {
					errs <- fmt.Errorf("store %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, s := range []*Store{db.Store, other} {
		keys, err := s.ListKeys(ctx, alice.ID, false)
		must(t, err, "ListKeys")
		if len(keys) != 40 {
			t.Fatalf("%d keys, want 40", len(keys))
		}
	}
}
