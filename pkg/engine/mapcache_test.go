package engine

import (
	"testing"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/mapping"
	"github.com/g2msync/g2msync/pkg/plan"
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
