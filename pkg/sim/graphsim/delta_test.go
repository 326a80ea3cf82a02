package graphsim_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

// round follows a delta round to its deltaLink and returns the items.
func (f *fixture) round(start string, hdr ...string) (items []map[string]any, deltaLink string, pages int) {
	f.t.Helper()
	for next := start; next != ""; {
		r := f.get(next, hdr...)
		if r.status != http.StatusOK {
			f.t.Fatalf("GET %s: %d %v", next, r.status, r.body)
		}
		pages++
		items = append(items, r.value()...)
		next, _ = r.body["@odata.nextLink"].(string)
		if next == "" {
			deltaLink, _ = r.body["@odata.deltaLink"].(string)
		}
	}
	if deltaLink == "" {
		f.t.Fatalf("round from %s ended without a deltaLink", start)
	}
	return items, deltaLink, pages
}

func byID(items []map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, it := range items {
		out[it["id"].(string)] = it
	}
	return out
}

func TestUsersDelta(t *testing.T) {
	clk := newClock()
	f := newFixture(t, graphsim.Options{Now: clk.Now})
	f.login()
	ids := f.addUsers("u", 250)

	items, link, pages := f.round("/users/delta()?$select=id,userPrincipalName,accountEnabled", "Prefer", "odata.maxpagesize=100")
	if len(items) != 250 || pages != 3 {
		t.Fatalf("initial round: %d items in %d pages, want 250 in 3", len(items), pages)
	}
	if len(items[0]) != 3 { // id is always there
		t.Errorf("selected properties only: %v", items[0])
	}
	if !strings.HasPrefix(link, f.sim.GraphBaseURL()+"/users/delta()?$deltatoken=") {
		t.Errorf("deltaLink = %q", link)
	}
	if r := f.get(link); r.body["value"] == nil || len(r.value()) != 0 {
		t.Fatalf("no changes: want an empty value collection, got %v", r.body)
	}

	must(t, f.sim.RenameUser(ids[0], "renamed@contoso.com", ""))
	must(t, f.sim.DisableUser(ids[1]))
	must(t, f.sim.SoftDeleteUser(ids[2]))
	must(t, f.sim.HardDeleteUser(ids[3]))
	added := f.addUsers("new", 1)[0]
	changes, link2, _ := f.round(link)
	got := byID(changes)
	if len(got) != 5 {
		t.Fatalf("changes = %v", changes)
	}
	if got[ids[0]]["userPrincipalName"] != "renamed@contoso.com" || got[ids[1]]["accountEnabled"] != false || got[added] == nil {
		t.Errorf("updates: %v", changes)
	}
	if rm, _ := got[ids[2]]["@removed"].(map[string]any); rm["reason"] != "changed" {
		t.Errorf("soft delete: %v", got[ids[2]])
	}
	if rm, _ := got[ids[3]]["@removed"].(map[string]any); rm["reason"] != "deleted" {
		t.Errorf("hard delete: %v", got[ids[3]])
	}
	must(t, f.sim.RestoreUser(ids[2]))
	if changes, _, _ := f.round(link2); len(changes) != 1 || changes[0]["id"] != ids[2] || changes[0]["@removed"] != nil {
		t.Errorf("restore: %v", changes)
	}

	// Seven days later the link is dead.
	clk.Advance(7*24*time.Hour + time.Minute)
	f.login()
	r := f.get(link2)
	if r.status != http.StatusBadRequest || r.errorCode() != "syncStateNotFound" {
		t.Errorf("expired token: %d %v", r.status, r.body)
	}
}

func TestGroupsDeltaMembers(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	ids := f.addUsers("u", 3)
	g1, err := f.sim.AddGroup(graphsim.Group{DisplayName: "G1"})
	must(t, err)
	g2, err := f.sim.AddGroup(graphsim.Group{DisplayName: "G2"})
	must(t, err)
	must(t, f.sim.AddMembers(g1, ids[0], ids[1]))
	must(t, f.sim.AddMembers(g2, ids[2]))

	items, link, _ := f.round("/groups/delta?$select=displayName,members&$filter=id%20eq%20'" + g1 + "'")
	if len(items) != 1 || items[0]["id"] != g1 {
		t.Fatalf("filtered initial round: %v", items)
	}
	md, _ := items[0]["members@delta"].([]any)
	if len(md) != 2 {
		t.Fatalf("initial members@delta: %v", items[0])
	}
	must(t, f.sim.RemoveMember(g1, ids[0]))
	must(t, f.sim.AddMember(g1, ids[2]))
	must(t, f.sim.AddMember(g2, ids[0])) // outside the filter
	changes, _, _ := f.round(link)
	if len(changes) != 1 {
		t.Fatalf("changes: %v", changes)
	}
	got := map[string]bool{}
	for _, m := range changes[0]["members@delta"].([]any) {
		m := m.(map[string]any)
		got[m["id"].(string)] = m["@removed"] == nil
	}
	if len(got) != 2 || got[ids[0]] != false || got[ids[2]] != true {
		t.Errorf("members@delta = %v", changes[0]["members@delta"])
	}

	var filter []string
	for i := range 51 {
		filter = append(filter, fmt.Sprintf("id eq '%d'", i))
	}
	if r := f.get("/groups/delta?$filter=" + strings.ReplaceAll(strings.Join(filter, " or "), " ", "%20")); r.status != http.StatusBadRequest {
		t.Errorf("51 ids in $filter: %d, want 400", r.status)
	}
}

func TestDeltaReset(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	f.addUsers("u", 2)
	_, link, _ := f.round("/users/delta?$select=id")
	f.sim.ForceDeltaReset()
	r := f.get(link)
	loc := r.header.Get("Location")
	if r.status != http.StatusGone || loc != f.sim.GraphBaseURL()+"/users/delta?$select=id" {
		t.Fatalf("reset: %d Location=%q %v", r.status, loc, r.body)
	}
	if items, _, _ := f.round(loc); len(items) != 2 {
		t.Errorf("restart from Location: %d items", len(items))
	}
	_, link, _ = f.round("/users/delta?$select=id")
	f.sim.ExpireDeltaTokens()
	if r := f.get(link); r.errorCode() != "syncStateNotFound" {
		t.Errorf("expired: %d %v", r.status, r.body)
	}
}

// TestDeltaLatestAndPartialUpdates: $deltatoken=latest lists nothing and
// starts from now; a later round sends an updated user's id and changed
// properties only, a new or restored user whole.
func TestDeltaLatestAndPartialUpdates(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	ids := f.addUsers("u", 3)
	items, link, pages := f.round("/users/delta()?$select=id,userPrincipalName,accountEnabled,department&$deltatoken=latest")
	if len(items) != 0 || pages != 1 {
		t.Fatalf("latest: %d items in %d pages, want none in one", len(items), pages)
	}
	if strings.Contains(link, "latest") {
		t.Errorf("deltaLink repeats latest: %s", link)
	}
	must(t, f.sim.UpdateUser(ids[0], map[string]any{"department": "Sales"}))
	must(t, f.sim.UpdateUser(ids[1], map[string]any{"jobTitle": "CEO"})) // not selected
	must(t, f.sim.SoftDeleteUser(ids[2]))
	must(t, f.sim.RestoreUser(ids[2]))
	added := f.addUsers("new", 1)[0]
	got := byID(mustRound(f, link))
	if len(got) != 3 {
		t.Fatalf("changes: %v", got)
	}
	if u := got[ids[0]]; len(u) != 2 || u["department"] != "Sales" {
		t.Errorf("update sends id and department only: %v", u)
	}
	for _, id := range []string{ids[2], added} {
		if u := got[id]; len(u) != 4 || u["userPrincipalName"] == nil {
			t.Errorf("restored or new user comes whole: %v", u)
		}
	}

	g, err := f.sim.AddGroup(graphsim.Group{DisplayName: "G"})
	must(t, err)
	must(t, f.sim.AddMembers(g, ids[0]))
	items, glink, _ := f.round("/groups/delta?$select=members&$filter=id%20eq%20'" + g + "'&$deltatoken=latest")
	if len(items) != 0 {
		t.Fatalf("groups latest: %v", items)
	}
	must(t, f.sim.AddMember(g, ids[1]))
	changes := mustRound(f, glink)
	if len(changes) != 1 || len(changes[0]["members@delta"].([]any)) != 1 {
		t.Errorf("member added after latest: %v", changes)
	}
	f.sim.ForceDeltaReset()
	r := f.get(glink)
	if loc := r.header.Get("Location"); r.status != http.StatusGone || strings.Contains(loc, "deltatoken") {
		t.Errorf("reset of a latest link: %d Location=%q", r.status, loc)
	}
}

func mustRound(f *fixture, link string) []map[string]any {
	items, _, _ := f.round(link)
	return items
}
