package engine

import (
	"context"
	"testing"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/mapping"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// The accounts of a snapshot whose users are the last one's (a delta read
// that found nothing changed) are not mapped again; other users, another
// app, another mapper, or a mapping that reads the clock, are.
func TestMappedAccountsAreKeptForTheSameUsers(t *testing.T) {
	h := newHarness(t, 3)
	snap := h.src.snap
	m, err := mapping.New(mapping.Config{Fields: mapping.DefaultFields(), Roles: map[string]mapping.Role{"User": {Licenses: []string{"1001"}}}})
	if err != nil {
		t.Fatal(err)
	}
	mc := &MapCache{}
	first := mc.mapped(m, &snap)
	same := snap // another snapshot (time, calls), the same users
	if got := mc.mapped(m, &same); &got[0] != &first[0] || len(got) != 3 {
		t.Error("the same users were mapped again")
	}
	copied := snap
	copied.Users = append([]directory.User(nil), snap.Users...)
	if got := mc.mapped(m, &copied); &got[0] == &first[0] {
		t.Error("other users (a copy) were given the kept accounts")
	}
	renamed := copied
	renamed.App.Roles = append([]directory.AppRole(nil), copied.App.Roles...)
	renamed.App.Roles[0].Value = "Admin"
	kept := mc.mapped(m, &copied)
	if got := mc.mapped(m, &renamed); &got[0] == &kept[0] {
		t.Error("another app's roles were given the kept accounts")
	}
	m2, _ := mapping.New(mapping.Config{Fields: mapping.DefaultFields(), Roles: map[string]mapping.Role{"User": {Licenses: []string{"1001"}}}})
	if got := mc.mapped(m2, &renamed); &got[0] == &kept[0] {
		t.Error("another mapper was given the kept accounts")
	}
	fields := mapping.DefaultFields()
	fields[plan.FieldLastName] = mapping.MustParse(`Join(" ", [surname], Now())`)
	clock, err := mapping.New(mapping.Config{Fields: fields, Roles: map[string]mapping.Role{"User": {Licenses: []string{"1001"}}}})
	if err != nil {
		t.Fatal(err)
	}
	a := mc.mapped(clock, &renamed)
	if b := mc.mapped(clock, &renamed); &a[0] == &b[0] {
		t.Error("a mapping that reads the clock was not mapped again")
	}
}

// An on-demand provision maps the few people it found without taking the
// place of everyone's kept accounts: the next regular cycle that finds
// nothing changed still maps no one.
func TestOnDemandDoesNotEvictTheKeptAccounts(t *testing.T) {
	h := newHarness(t, 3)
	mc := &MapCache{}
	st, err := state.Open(h.path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := h.engine(st, false)
	e.Mapped = mc
	e.Finder = foundSource{h.src}
	if _, err := e.Run(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	kept := &mc.accounts[0]
	if _, err := e.Run(context.Background(), Options{OnDemand: []string{"u0001"}}); err != nil {
		t.Fatal(err)
	}
	if &mc.accounts[0] != kept || len(mc.accounts) != 3 {
		t.Errorf("after an on-demand provision the cache holds %d accounts, not everyone's kept ones", len(mc.accounts))
	}
}

// foundSource finds people of a fakeSource by Entra id.
type foundSource struct{ src *fakeSource }

func (f foundSource) Find(ctx context.Context, queries []string) (*directory.Found, error) {
	snap, err := f.src.Read(ctx)
	if err != nil {
		return nil, err
	}
	found := &directory.Found{Snapshot: snap}
	var users []directory.User
	for _, q := range queries {
		m := directory.Match{Query: q}
		for _, u := range snap.Users {
			if u.ID == q {
				users, m.IDs = append(users, u), append(m.IDs, u.ID)
			}
		}
		found.Matches = append(found.Matches, m)
	}
	snap.Users = users
	return found, nil
}
