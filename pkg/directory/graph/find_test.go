package graph_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/directory/graph"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

// findTenant: Ann assigned directly, Ben in Sales (assigned), Cleo only in
// Tier 2, nested in Support (assigned), Dan assigned nowhere.
type findTenant struct {
	*tenant
	ann, ben, cleo, dan string
	sales, support      string
}

func newFindTenant(t *testing.T) *findTenant {
	tn := newTenant(t, graphsim.Options{})
	ft := &findTenant{tenant: tn}
	add := func(upn, mail string) string {
		return tn.must1(tn.sim.AddUser(graphsim.User{UserPrincipalName: upn, Mail: mail, GivenName: "G", Surname: "S"}))
	}
	ft.ann = add("ann@contoso.com", "ann.lee@contoso.com")
	ft.ben = add("ben@contoso.com", "ben.kim@contoso.com")
	ft.cleo = add("cleo@contoso.com", "cleo.o'hara@contoso.com")
	ft.dan = add("dan@contoso.com", "dan@contoso.com")
	tn.users("other", 30) // people nobody asked about
	ft.sales = tn.must1(tn.sim.AddGroup(graphsim.Group{DisplayName: "Sales"}))
	ft.support = tn.must1(tn.sim.AddGroup(graphsim.Group{DisplayName: "Support"}))
	tier2 := tn.must1(tn.sim.AddGroup(graphsim.Group{DisplayName: "Support Tier 2"}))
	tn.must(tn.sim.AddMembers(ft.sales, ft.ben))
	tn.must(tn.sim.AddMembers(ft.support, tier2))
	tn.must(tn.sim.AddMembers(tier2, ft.cleo))
	tn.must1(tn.sim.Assign(tn.spID, ft.ann, tn.roleA))
	tn.must1(tn.sim.Assign(tn.spID, ft.sales, tn.roleU))
	tn.must1(tn.sim.Assign(tn.spID, ft.support, tn.roleU))
	return ft
}

func (ft *findTenant) find(cfg graph.Config, queries ...string) *directory.Found {
	ft.t.Helper()
	src, err := graph.New(cfg)
	ft.must(err)
	f, err := src.Find(context.Background(), queries)
	ft.must(err)
	return f
}

func personByID(snap *directory.Snapshot, id string) *directory.User {
	for i := range snap.Users {
		if snap.Users[i].ID == id {
			return &snap.Users[i]
		}
	}
	return nil
}

// Find reads only the people asked for, by id, UPN or mail in any case,
// each with the assignments a full read gives them, says which query
// matched nobody, and notes an assigned group reached only by nesting.
func TestFindReadsOnlyTheNamedPeople(t *testing.T) {
	ft := newFindTenant(t)
	ft.sim.ResetCounters()
	f := ft.find(ft.config(), strings.ToUpper(ft.ann), "BEN@contoso.com", "cleo.O'Hara@contoso.com", "dan@contoso.com", "nobody@contoso.com")
	wantMatches := [][]string{{ft.ann}, {ft.ben}, {ft.cleo}, {ft.dan}, {}}
	for i, m := range f.Matches {
		if !slices.Equal(m.IDs, wantMatches[i]) {
			t.Errorf("query %q matched %v, want %v", m.Query, m.IDs, wantMatches[i])
		}
	}
	snap := f.Snapshot
	if len(snap.Users) != 4 || !slices.IsSortedFunc(snap.Users, func(a, b directory.User) int { return strings.Compare(a.ID, b.ID) }) {
		t.Fatalf("%d users, want the 4 found, sorted", len(snap.Users))
	}
	if u := personByID(snap, ft.ann); len(u.Assignments) != 1 || !u.Assignments[0].Direct() || u.Assignments[0].AppRoleID != ft.roleA {
		t.Errorf("ann: %+v, want assigned directly as Admin", u.Assignments)
	}
	if u := personByID(snap, ft.ben); len(u.Assignments) != 1 || u.Assignments[0].GroupID != ft.sales || u.UserPrincipalName != "ben@contoso.com" || u.Attributes["mail"] != "ben.kim@contoso.com" {
		t.Errorf("ben: %+v, want assigned through Sales", u)
	}
	if u := personByID(snap, ft.cleo); len(u.Assignments) != 0 || !slices.Equal(u.NestedOnly, []string{"Support"}) {
		t.Errorf("cleo: assignments %+v nested-only %v, want none and Support", u.Assignments, u.NestedOnly)
	}
	if u := personByID(snap, ft.dan); len(u.Assignments) != 0 || len(u.NestedOnly) != 0 {
		t.Errorf("dan: %+v, want found and not assigned", u)
	}
	// One read of the app and its assignments, one call per query, two
	// membership lists per person: never a list of the 30 others.
	if got := ft.sim.Calls("GET /users"); got != 5 {
		t.Errorf("%d user searches, want 5", got)
	}
	if got := ft.sim.Calls("GET /users/{id}/memberOf") + ft.sim.Calls("GET /users/{id}/transitiveMemberOf"); got != 8 {
		t.Errorf("%d membership calls, want 8", got)
	}
	if got := ft.sim.Calls("GET /groups/{id}/members") + ft.sim.Calls("POST /directoryObjects/getByIds"); got != 0 {
		t.Errorf("%d group or bulk user reads, want none", got)
	}

	cfg := ft.config()
	cfg.NestedGroups = true
	f = ft.find(cfg, "cleo@contoso.com")
	if u := personByID(f.Snapshot, ft.cleo); u == nil || len(u.Assignments) != 1 || u.Assignments[0].GroupID != ft.support {
		t.Errorf("cleo with nested groups: %+v, want assigned through Support", u)
	}
}

// A server that answers a search with someone else is refused: that person
// would be provisioned in place of the one asked for.
func TestHostileFindAnswersWithSomeoneElse(t *testing.T) {
	ft := newFindTenant(t)
	h := newHostile(t, ft.tenant)
	h.onReply(func(r *http.Request, body []byte) []byte {
		if r.URL.Path == "/v1.0/users" {
			return bytes.ReplaceAll(body, []byte("ben@contoso.com"), []byte("mallory@contoso.com"))
		}
		return body
	})
	src, err := graph.New(ft.viaHostile(h, false))
	ft.must(err)
	_, err = src.Find(context.Background(), []string{"ben@contoso.com"})
	if err == nil || !strings.Contains(err.Error(), "refusing the read") {
		t.Fatalf("err = %v, want the read refused", err)
	}
}

// A look-alike is someone else too: strings.EqualFold took "ben@contoſo.com"
// (a long s, U+017F) for ben@contoso.com, whom provision then acted for.
func TestHostileFindAnswersWithALookAlike(t *testing.T) {
	for _, lookAlike := range []string{"ben@conto\u017fo.com", "ben@contoſo.com", "BEN@CONTOSO.COM"} {
		ft := newFindTenant(t)
		h := newHostile(t, ft.tenant)
		h.onReply(func(r *http.Request, body []byte) []byte {
			if r.URL.Path == "/v1.0/users" {
				return bytes.ReplaceAll(body, []byte("ben@contoso.com"), []byte(lookAlike))
			}
			return body
		})
		src, err := graph.New(ft.viaHostile(h, false))
		ft.must(err)
		_, err = src.Find(context.Background(), []string{"ben@contoso.com"})
		if ascii := lookAlike == "BEN@CONTOSO.COM"; ascii != (err == nil) {
			t.Errorf("Graph answered with %q: err = %v; only the ASCII case may differ", lookAlike, err)
		}
	}
}

// Groups are read several at a time: the snapshot is the one a read of one
// group at a time gives, and a group that fails fails the whole read with
// its own error, the others stopped.
func TestGroupsReadTogetherGiveTheSameSnapshot(t *testing.T) {
	tn := newTenant(t, graphsim.Options{})
	var gids []string
	for g := range 6 {
		gid := tn.must1(tn.sim.AddGroup(graphsim.Group{DisplayName: fmt.Sprintf("Group %d", g)}))
		tn.must(tn.sim.AddMembers(gid, tn.users(fmt.Sprintf("g%d-", g), 150)...))
		if g > 0 {
			tn.must(tn.sim.AddMembers(gid, tn.users(fmt.Sprintf("shared%d-", g), 5)...))
			tn.must(tn.sim.AddMembers(gids[0], tn.users(fmt.Sprintf("also%d-", g), 3)...))
		}
		tn.must1(tn.sim.Assign(tn.spID, gid, tn.roleU))
		gids = append(gids, gid)
	}
	one := tn.config()
	one.GroupReads = 1
	many := tn.config()
	many.GroupReads = 6
	a, err := tn.read(one)
	tn.must(err)
	b, err := tn.read(many)
	tn.must(err)
	if len(a.Users) != len(b.Users) || len(a.Groups) != 6 || len(b.Groups) != 6 {
		t.Fatalf("%d and %d users, %d and %d groups", len(a.Users), len(b.Users), len(a.Groups), len(b.Groups))
	}
	for i := range a.Users {
		if a.Users[i].ID != b.Users[i].ID || !slices.Equal(a.Users[i].Assignments, b.Users[i].Assignments) {
			t.Fatalf("user %d differs: %+v vs %+v", i, a.Users[i], b.Users[i])
		}
	}
	tn.must(tn.sim.InjectFault(graphsim.Fault{PathContains: gids[3], Status: 404}))
	_, err = tn.read(many)
	if err == nil || !strings.Contains(err.Error(), `"Group 3"`) {
		t.Errorf("a failing group: %v, want the read failed naming Group 3", err)
	}
}
