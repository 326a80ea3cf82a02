package graphsim_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

// One person is found by id, userPrincipalName or mail, case-insensitively,
// with Graph's default $filter (eq, or); anything else is refused.
func TestUsersFilterFindsOnePerson(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	ids := f.addUsers("u", 3)
	must(t, f.sim.UpdateUser(ids[1], map[string]any{"mail": "O'Brien@Contoso.com"}))
	for _, tc := range []struct{ filter, want string }{
		{"userPrincipalName eq 'U0@CONTOSO.COM'", ids[0]},
		{"userPrincipalName eq 'o''brien@contoso.com' or mail eq 'o''brien@contoso.com'", ids[1]},
		{"id eq '" + ids[2] + "'", ids[2]},
	} {
		r := f.get("/users?$filter=" + url.QueryEscape(tc.filter) + "&$select=id,mail")
		if r.status != http.StatusOK || len(r.value()) != 1 || r.value()[0]["id"] != tc.want {
			t.Errorf("%s: %d %v, want %s", tc.filter, r.status, r.value(), tc.want)
		}
	}
	if r := f.get("/users?$filter=" + url.QueryEscape("mail eq 'nobody@contoso.com'")); r.status != http.StatusOK || len(r.value()) != 0 {
		t.Errorf("no match: %d %v", r.status, r.value())
	}
	for _, bad := range []string{"startswith(mail,'u')", "department eq 'Sales'", "mail eq 'x' and id eq 'y'", "mail eq 'unclosed"} {
		if r := f.get("/users?$filter=" + url.QueryEscape(bad)); r.status != http.StatusBadRequest || r.errorCode() != "Request_UnsupportedQuery" {
			t.Errorf("%s: %d %s, want 400 Request_UnsupportedQuery", bad, r.status, r.errorCode())
		}
	}
}

// memberOf lists direct groups; transitiveMemberOf the nesting ones too.
func TestMemberOfAndTransitiveMemberOf(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	u := f.addUsers("u", 1)[0]
	outer, err := f.sim.AddGroup(graphsim.Group{DisplayName: "Support"})
	must(t, err)
	inner, err := f.sim.AddGroup(graphsim.Group{DisplayName: "Support Tier 2"})
	must(t, err)
	must(t, f.sim.AddMember(outer, inner))
	must(t, f.sim.AddMember(inner, u))
	names := func(path string) []string {
		items, _ := f.all(path)
		var out []string
		for _, it := range items {
			if it["@odata.type"] != "#microsoft.graph.group" {
				t.Errorf("%s: item %v has no group type", path, it)
			}
			out = append(out, it["displayName"].(string))
		}
		slices.Sort(out)
		return out
	}
	if got := names("/users/" + u + "/memberOf?$select=id,displayName"); !slices.Equal(got, []string{"Support Tier 2"}) {
		t.Errorf("memberOf = %v", got)
	}
	if got := names("/users/" + u + "/transitiveMemberOf?$select=id,displayName"); !slices.Equal(got, []string{"Support", "Support Tier 2"}) {
		t.Errorf("transitiveMemberOf = %v", got)
	}
	if r := f.get("/users/00000000-0000-0000-0000-00000000beef/memberOf"); r.status != http.StatusNotFound {
		t.Errorf("unknown user: %d", r.status)
	}
}
