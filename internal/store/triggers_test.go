package store

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// mkTrigger creates a trigger NAME of owner with a spec naming it.
func mkTrigger(t testing.TB, s *Store, owner Identity, name string) Trigger {
	t.Helper()
	tr, err := s.CreateTrigger(ctxT(t), Trigger{OwnerID: owner.ID, Name: name, Enabled: true,
		Spec: `{"name":"` + name + `"}`, Secret: []byte("sealed-" + name)})
	must(t, err, "CreateTrigger "+name)
	return tr
}

func testTriggerCreateGetList(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	bob := mkIdentity(t, db.Store, "bob")
	want := Trigger{ID: "trg_fixed", OwnerID: alice.ID, Name: "failed-tasks", Enabled: true,
		Spec: `{"name":"failed-tasks","topics":["alice.tasks"]}`, Secret: []byte{0, 1, 2, 0xff}, CreatedAt: t0}
	got, err := db.CreateTrigger(ctx, want)
	must(t, err, "CreateTrigger")
	want.Version, want.CreatedAt, want.UpdatedAt = 1, at(0), at(0)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("CreateTrigger = %+v, want %+v", got, want)
	}
	if got, err := db.GetTrigger(ctx, want.ID); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("GetTrigger = %+v, %v; want %+v", got, err, want)
	}
	if got, err := db.GetTriggerByName(ctx, alice.ID, "failed-tasks"); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("GetTriggerByName = %+v, %v; want %+v", got, err, want)
	}
	_, err = db.GetTrigger(ctx, "trg_nothing")
	wantErr(t, err, ErrNotFound, "GetTrigger unknown")
	_, err = db.GetTriggerByName(ctx, bob.ID, "failed-tasks")
	wantErr(t, err, ErrNotFound, "GetTriggerByName of another owner")

	// A generated ID; the same name for another owner; disabled is kept.
	other, err := db.CreateTrigger(ctx, Trigger{OwnerID: bob.ID, Name: "failed-tasks", Spec: "{}", Secret: []byte("s")})
	must(t, err, "CreateTrigger bob")
	if !strings.HasPrefix(other.ID, TriggerIDPrefix) || len(other.ID) != len(TriggerIDPrefix)+26 || other.Enabled {
		t.Fatalf("bob's trigger %+v: want a generated trg_ ID, disabled", other)
	}
	if got, err := db.GetTrigger(ctx, other.ID); err != nil || got.Enabled || got.Version != 1 {
		t.Fatalf("GetTrigger bob = %+v, %v", got, err)
	}

	// ListTriggers: the owner's only, in name order, paged by name.
	for _, n := range []string{"c", "a", "b"} {
		mkTrigger(t, db.Store, alice, n)
	}
	list, err := db.ListTriggers(ctx, alice.ID, Page{})
	must(t, err, "ListTriggers")
	var names []string
	for _, tr := range list {
		names = append(names, tr.Name)
	}
	if !reflect.DeepEqual(names, []string{"a", "b", "c", "failed-tasks"}) {
		t.Fatalf("ListTriggers names %v", names)
	}
	page, err := db.ListTriggers(ctx, alice.ID, Page{After: "a", Limit: 2})
	must(t, err, "ListTriggers page")
	if len(page) != 2 || page[0].Name != "b" || page[1].Name != "c" {
		t.Fatalf("ListTriggers after a, limit 2 = %+v", page)
	}
	if got, err := db.ListTriggers(ctx, "local:nobody", Page{}); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("ListTriggers of nobody = %#v, %v; want an empty slice", got, err)
	}
}

func testTriggerConstraints(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	first := mkTrigger(t, db.Store, alice, "t1")
	for _, c := range []struct {
		what string
		tr   Trigger
		want error
	}{
		{"same name, same owner", Trigger{OwnerID: alice.ID, Name: "t1", Spec: "{}", Secret: []byte("s")}, ErrConflict},
		{"same ID", Trigger{ID: first.ID, OwnerID: alice.ID, Name: "t2", Spec: "{}", Secret: []byte("s")}, ErrConflict},
		{"unknown owner", Trigger{OwnerID: "local:nobody", Name: "t3", Spec: "{}", Secret: []byte("s")}, ErrNotFound},
		{"no owner", Trigger{Name: "t4", Spec: "{}", Secret: []byte("s")}, ErrInvalid},
		{"no name", Trigger{OwnerID: alice.ID, Spec: "{}", Secret: []byte("s")}, ErrInvalid},
		{"no spec", Trigger{OwnerID: alice.ID, Name: "t5", Secret: []byte("s")}, ErrInvalid},
		{"no secret", Trigger{OwnerID: alice.ID, Name: "t6", Spec: "{}"}, ErrInvalid},
	} {
		_, err := db.CreateTrigger(ctx, c.tr)
		wantErr(t, err, c.want, c.what)
	}
	if list, err := db.ListTriggers(ctx, alice.ID, Page{}); err != nil || len(list) != 1 {
		t.Fatalf("after failed creates: %+v, %v; want only t1", list, err)
	}

	// An identity's triggers go with it.
	mkTrigger(t, db.Store, alice, "t7")
	_, err := db.rw.ExecContext(ctx, "DELETE FROM identities WHERE id = $1", alice.ID)
	must(t, err, "delete identity")
	_, err = db.GetTrigger(ctx, first.ID)
	wantErr(t, err, ErrNotFound, "trigger of a deleted identity")
	if all, err := db.ListAllTriggers(ctx, Page{}); err != nil || len(all) != 0 {
		t.Fatalf("ListAllTriggers after the owner's deletion: %+v, %v", all, err)
	}
}

func testTriggerUpdateOptimistic(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	tr := mkTrigger(t, db.Store, alice, "t1")
	mkTrigger(t, db.Store, alice, "taken")

	db.ops.now = func() time.Time { return t0.Add(time.Minute) }
	u := tr
	u.Name, u.Enabled, u.Spec, u.Secret = "renamed", false, `{"v":2}`, []byte("new secret")
	got, err := db.UpdateTrigger(ctx, u)
	must(t, err, "UpdateTrigger")
	want := u
	want.Version, want.UpdatedAt = 2, at(time.Minute)
	want.OwnerID, want.CreatedAt = tr.OwnerID, tr.CreatedAt
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("UpdateTrigger = %+v, want %+v", got, want)
	}
	if again, err := db.GetTrigger(ctx, tr.ID); err != nil || !reflect.DeepEqual(again, want) {
		t.Fatalf("GetTrigger after update = %+v, %v; want %+v", again, err, want)
	}

	// A writer that read version 1 loses: nothing it wrote is kept.
	stale := tr
	stale.Spec = `{"stale":true}`
	_, err = db.UpdateTrigger(ctx, stale)
	wantErr(t, err, ErrConflict, "update at a stale version")
	if !strings.Contains(err.Error(), "at version 2") {
		t.Fatalf("stale update error %q does not say the current version", err)
	}
	// The name of another trigger of the owner is taken.
	clash := got
	clash.Name = "taken"
	_, err = db.UpdateTrigger(ctx, clash)
	wantErr(t, err, ErrConflict, "rename to a taken name")
	if now, _ := db.GetTrigger(ctx, tr.ID); !reflect.DeepEqual(now, want) {
		t.Fatalf("after refused updates: %+v, want %+v", now, want)
	}
	_, err = db.UpdateTrigger(ctx, Trigger{ID: "trg_nothing", Version: 1, Name: "x", Spec: "{}", Secret: []byte("s")})
	wantErr(t, err, ErrNotFound, "update of an unknown trigger")
	_, err = db.UpdateTrigger(ctx, Trigger{ID: tr.ID, Version: 2, Name: "x", Spec: "{}"})
	wantErr(t, err, ErrInvalid, "update without a secret")

	// Each update bumps the version by one, inside transactions too.
	cur := got
	for i := range 3 {
		err := db.WithTx(ctx, func(tx *Tx) error {
			var err error
			cur.Spec = fmt.Sprintf(`{"v":%d}`, i+3)
			cur, err = tx.UpdateTrigger(ctx, cur)
			return err
		})
		must(t, err, "UpdateTrigger in a Tx")
		if cur.Version != int64(i+3) {
			t.Fatalf("version %d after %d updates, want %d", cur.Version, i+2, i+3)
		}
	}
}

func testTriggerListAllPagedDelete(t *testing.T, db testDB) {
	ctx := ctxT(t)
	alice := mkIdentity(t, db.Store, "alice")
	bob := mkIdentity(t, db.Store, "bob")
	var ids []string
	for i := range 7 {
		owner := alice
		if i%2 == 1 {
			owner = bob
		}
		ids = append(ids, mkTrigger(t, db.Store, owner, fmt.Sprintf("t%d", i)).ID)
	}
	var got []string
	p := Page{Limit: 3}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("more than 3 pages of 3 for 7 triggers")
		}
		list, err := db.ListAllTriggers(ctx, p)
		must(t, err, "ListAllTriggers")
		for _, tr := range list {
			got = append(got, tr.ID)
			if !bytes.HasPrefix(tr.Secret, []byte("sealed-")) {
				t.Fatalf("listed trigger %+v lost its secret", tr)
			}
		}
		if len(list) < p.Limit {
			break
		}
		p.After = list[len(list)-1].ID
	}
	want := append([]string(nil), ids...)
	slices.Sort(want) // byte-wise, as both databases order IDs
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paged ListAllTriggers = %v, want %v", got, want)
	}

	must(t, db.DeleteTrigger(ctx, ids[0]), "DeleteTrigger")
	wantErr(t, db.DeleteTrigger(ctx, ids[0]), ErrNotFound, "DeleteTrigger twice")
	_, err := db.GetTrigger(ctx, ids[0])
	wantErr(t, err, ErrNotFound, "GetTrigger after delete")
	// The name is free again.
	mkTrigger(t, db.Store, alice, "t0")
	all, err := db.ListAllTriggers(ctx, Page{})
	must(t, err, "ListAllTriggers")
	if len(all) != 7 {
		t.Fatalf("%d triggers after delete and re-create, want 7", len(all))
	}
}
