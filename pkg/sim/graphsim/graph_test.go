package graphsim_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

func TestAssignmentsPageAt999(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	users := f.addUsers("u", 2000)
	for _, id := range users {
		if _, err := f.sim.Assign(f.spID, id, f.roleA); err != nil {
			t.Fatal(err)
		}
	}
	f.sim.ResetCounters()
	items, pages := f.all("/servicePrincipals/" + f.spID + "/appRoleAssignedTo?%24top=999&%24select=id,principalId,principalType,appRoleId")
	if len(items) != 2000 || pages != 3 {
		t.Fatalf("got %d items in %d pages, want 2000 in 3", len(items), pages)
	}
	seen := map[string]bool{}
	for _, it := range items {
		if len(it) != 4 || it["principalType"] != "User" || it["appRoleId"] != f.roleA {
			t.Fatalf("item %v: want exactly the 4 selected properties", it)
		}
		seen[it["principalId"].(string)] = true
	}
	if len(seen) != 2000 {
		t.Fatalf("%d distinct principals, want 2000", len(seen))
	}
	if got := f.sim.Calls("GET /servicePrincipals/{id}/appRoleAssignedTo"); got != 3 {
		t.Errorf("calls = %d, want 3", got)
	}

	first := f.get("/servicePrincipals/" + f.spID + "/appRoleAssignedTo?$top=999")
	next, _ := first.body["@odata.nextLink"].(string)
	if !strings.HasPrefix(next, f.sim.GraphBaseURL()+"/servicePrincipals/") || !strings.Contains(next, "$skiptoken=") || !strings.Contains(next, "$top=999") {
		t.Errorf("nextLink %q: want an absolute URL with $top and $skiptoken", next)
	}
	if ctx, _ := first.body["@odata.context"].(string); !strings.Contains(ctx, "$metadata#servicePrincipals('"+f.spID+"')/appRoleAssignedTo") {
		t.Errorf("@odata.context = %q", ctx)
	}
	if r := f.get("/servicePrincipals/" + f.spID + "/appRoleAssignedTo"); len(r.value()) != 100 {
		t.Errorf("default page = %d items, want 100", len(r.value()))
	}
	for _, top := range []string{"1000", "0", "x"} {
		if r := f.get("/servicePrincipals/" + f.spID + "/appRoleAssignedTo?$top=" + top); r.status != http.StatusBadRequest {
			t.Errorf("$top=%s: %d, want 400", top, r.status)
		}
	}
}

func TestMembersCastsSelectAndTransitive(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	gid, err := f.sim.AddGroup(graphsim.Group{DisplayName: "Sales"})
	must(t, err)
	nested, err := f.sim.AddGroup(graphsim.Group{DisplayName: "Sales EMEA"})
	must(t, err)
	direct := f.addUsers("d", 1000)
	inner := f.addUsers("n", 5)
	must(t, f.sim.AddMembers(gid, direct...))
	must(t, f.sim.AddMembers(gid, nested))
	must(t, f.sim.AddMembers(nested, inner...))
	must(t, f.sim.AddMember(nested, direct[0])) // reached twice, counted once

	for _, cast := range []string{"/microsoft.graph.user", "/graph.user"} {
		items, pages := f.all("/groups/" + gid + "/members" + cast + "?%24top=999&%24select=id,userPrincipalName,accountEnabled,department")
		if len(items) != 1000 || pages != 2 {
			t.Fatalf("%s: %d items in %d pages, want 1000 in 2", cast, len(items), pages)
		}
		for _, it := range items {
			if len(it) != 4 || it["accountEnabled"] != true || it["department"] != "Sales" {
				t.Fatalf("%s: item %v: want exactly id, userPrincipalName, accountEnabled, department", cast, it)
			}
		}
	}
	uncast, _ := f.all("/groups/" + gid + "/members?$top=999")
	if len(uncast) != 1001 {
		t.Fatalf("uncast members = %d, want 1001", len(uncast))
	}
	types := map[string]int{}
	for _, it := range uncast {
		types[it["@odata.type"].(string)]++
		if it["@odata.type"] == "#microsoft.graph.user" {
			if _, ok := it["accountEnabled"]; ok {
				t.Fatalf("default user properties include accountEnabled: %v", it)
			}
			if _, ok := it["mail"]; !ok {
				t.Fatalf("default user properties lack mail: %v", it)
			}
		}
	}
	if types["#microsoft.graph.user"] != 1000 || types["#microsoft.graph.group"] != 1 {
		t.Errorf("types = %v", types)
	}
	trans, _ := f.all("/groups/" + gid + "/transitiveMembers/microsoft.graph.user?$top=999&$select=id")
	if len(trans) != 1005 {
		t.Errorf("transitive users = %d, want 1005", len(trans))
	}
	if r := f.get("/groups/" + gid + "/members/microsoft.graph.user?$select=nosuch"); r.status != http.StatusBadRequest {
		t.Errorf("unknown $select property: %d, want 400", r.status)
	}
	if r := f.get("/groups/" + gid + "/members/microsoft.graph.device"); r.status != http.StatusBadRequest {
		t.Errorf("unknown cast: %d, want 400", r.status)
	}
	c := f.sim.Counters()
	if c["GET /groups/{id}/members"] != 7 || c["GET /groups/{id}/transitiveMembers"] != 2 {
		t.Errorf("counters = %v", c)
	}
}

func TestGetByIds(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	ids := f.addUsers("u", 3)
	gid, err := f.sim.AddGroup(graphsim.Group{DisplayName: "G"})
	must(t, err)
	must(t, f.sim.DisableUser(ids[1]))
	must(t, f.sim.SoftDeleteUser(ids[2]))
	body := map[string]any{"ids": append(slices.Clone(ids), gid, "00000000-0000-0000-0000-00000000dead"), "types": []string{"user"}}

	r := f.do(http.MethodPost, "/directoryObjects/getByIds", body)
	if r.status != http.StatusOK || len(r.value()) != 2 {
		t.Fatalf("getByIds: %d %v", r.status, r.body)
	}
	for _, u := range r.value() {
		if _, ok := u["accountEnabled"]; ok || u["@odata.type"] != "#microsoft.graph.user" {
			t.Fatalf("without $select: %v, want the default subset", u)
		}
	}
	r = f.do(http.MethodPost, "/directoryObjects/getByIds?$select=id,accountEnabled,mail", body)
	got := map[string]any{}
	for _, u := range r.value() {
		got[u["id"].(string)] = u["accountEnabled"]
		if len(u) != 4 { // three selected plus @odata.type
			t.Fatalf("with $select: %v", u)
		}
	}
	if got[ids[0]] != true || got[ids[1]] != false || len(got) != 2 {
		t.Errorf("accountEnabled by id = %v", got)
	}

	// kiota gzips request bodies.
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	must(t, json.NewEncoder(zw).Encode(body))
	must(t, zw.Close())
	req, _ := http.NewRequest(http.MethodPost, f.sim.GraphBaseURL()+"/directoryObjects/getByIds", &zb)
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Content-Encoding", "gzip")
	res, err := f.http.Do(req)
	must(t, err)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("gzip body: %d", res.StatusCode)
	}

	many := make([]string, 1001)
	for i := range many {
		many[i] = ids[0]
	}
	if r := f.do(http.MethodPost, "/directoryObjects/getByIds", map[string]any{"ids": many}); r.status != http.StatusBadRequest {
		t.Errorf("1001 ids: %d, want 400", r.status)
	}
	if got := f.sim.Calls("POST /directoryObjects/getByIds"); got != 4 {
		t.Errorf("calls = %d, want 4", got)
	}
}

func TestDeletedAndDisabledUsers(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	ids := f.addUsers("u", 3)
	gid, err := f.sim.AddGroup(graphsim.Group{DisplayName: "G"})
	must(t, err)
	must(t, f.sim.AddMembers(gid, ids...))
	for _, id := range ids {
		_, err := f.sim.Assign(f.spID, id, f.roleA)
		must(t, err)
	}
	must(t, f.sim.DisableUser(ids[0]))
	must(t, f.sim.SoftDeleteUser(ids[1]))
	count := func() (int, int) {
		a, _ := f.all("/servicePrincipals/" + f.spID + "/appRoleAssignedTo")
		m, _ := f.all("/groups/" + gid + "/members/graph.user?$select=id,accountEnabled")
		return len(a), len(m)
	}
	if a, m := count(); a != 2 || m != 2 {
		t.Fatalf("after soft delete: %d assignments, %d members; want 2, 2", a, m)
	}
	if r := f.get("/users/" + ids[1]); r.status != http.StatusNotFound || r.errorCode() != "Request_ResourceNotFound" {
		t.Errorf("soft-deleted user: %d %v", r.status, r.body)
	}
	if r := f.get("/users/" + ids[0] + "?$select=accountEnabled"); r.body["accountEnabled"] != false {
		t.Errorf("disabled user: %v", r.body)
	}
	must(t, f.sim.RestoreUser(ids[1]))
	if a, m := count(); a != 3 || m != 3 {
		t.Fatalf("after restore: %d assignments, %d members; want 3, 3", a, m)
	}
	must(t, f.sim.HardDeleteUser(ids[2]))
	if a, m := count(); a != 2 || m != 2 {
		t.Fatalf("after hard delete: %d assignments, %d members; want 2, 2", a, m)
	}
	must(t, f.sim.RenameUser(ids[0], "renamed@contoso.com", "renamed@contoso.com"))
	if r := f.get("/users/renamed@contoso.com"); r.status != http.StatusOK || r.body["id"] != ids[0] {
		t.Errorf("lookup by new UPN: %d %v", r.status, r.body)
	}
}

func TestServicePrincipalLookups(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	sp := f.get("/servicePrincipals/" + f.spID + "?$select=id,appId,displayName,appRoles")
	appID, _ := sp.body["appId"].(string)
	roles, _ := sp.body["appRoles"].([]any)
	if sp.status != http.StatusOK || appID == "" || len(roles) != 2 || len(sp.body) != 5 {
		t.Fatalf("by id: %d %v", sp.status, sp.body)
	}
	if r := f.get("/servicePrincipals(appId='" + appID + "')?$select=id"); r.body["id"] != f.spID {
		t.Errorf("by appId key: %d %v", r.status, r.body)
	}
	if r := f.get("/servicePrincipals(appId=%27" + appID + "%27)"); r.body["id"] != f.spID {
		t.Errorf("by appId key, quotes encoded: %d %v", r.status, r.body)
	}
	if r := f.get("/servicePrincipals?$filter=appId%20eq%20'" + appID + "'"); len(r.value()) != 1 || r.value()[0]["id"] != f.spID {
		t.Errorf("by appId filter: %d %v", r.status, r.body)
	}
	if r := f.get("/servicePrincipals/11111111-1111-1111-1111-111111111111"); r.status != http.StatusNotFound {
		t.Errorf("unknown id: %d", r.status)
	}
}

func TestPermissions(t *testing.T) {
	f := newFixture(t, graphsim.Options{}, "GroupMember.Read.All")
	f.login()
	ids := f.addUsers("u", 2)
	gid, err := f.sim.AddGroup(graphsim.Group{DisplayName: "G"})
	must(t, err)
	must(t, f.sim.AddMembers(gid, ids...))

	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/servicePrincipals/" + f.spID + "/appRoleAssignedTo"},
		{http.MethodGet, "/users/" + ids[0]},
		{http.MethodPost, "/directoryObjects/getByIds"},
	} {
		var body any
		if c.method == http.MethodPost {
			body = map[string]any{"ids": ids}
		}
		r := f.do(c.method, c.path, body)
		msg, _ := r.body["error"].(map[string]any)["message"].(string)
		if r.status != http.StatusForbidden || r.errorCode() != "Authorization_RequestDenied" || msg != "Insufficient privileges to complete the operation." {
			t.Errorf("%s %s: %d %v", c.method, c.path, r.status, r.body)
		}
	}
	// Members are readable, but users only with limited information.
	r := f.get("/groups/" + gid + "/members/microsoft.graph.user?$select=id,userPrincipalName")
	for _, u := range r.value() {
		if _, ok := u["userPrincipalName"]; ok || len(u) != 2 {
			t.Errorf("member without User.Read.All: %v, want only @odata.type and id", u)
		}
	}
	// Grants and revocations bite on the next token, as in Entra.
	must(t, f.sim.GrantPermission(f.client, "User.Read.All"))
	if r := f.get("/users/" + ids[0]); r.status != http.StatusForbidden {
		t.Errorf("old token after grant: %d", r.status)
	}
	f.login()
	if r := f.get("/users/" + ids[0]); r.status != http.StatusOK {
		t.Errorf("new token after grant: %d", r.status)
	}
	must(t, f.sim.RevokePermission(f.client, "User.Read.All"))
	f.login()
	if r := f.get("/users/" + ids[0]); r.status != http.StatusForbidden {
		t.Errorf("new token after revoke: %d", r.status)
	}
}

// TestChangesWhileServing changes the tenant while reads are in flight; run
// it with -race.
func TestChangesWhileServing(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	gid, err := f.sim.AddGroup(graphsim.Group{DisplayName: "G"})
	must(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 200 {
			id, err := f.sim.AddUser(graphsim.User{UserPrincipalName: "c" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + "@contoso.com"})
			if err != nil {
				t.Error(err)
				return
			}
			if err := f.sim.AddMember(gid, id); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 20 {
		if r := f.get("/groups/" + gid + "/members?$top=50"); r.status != http.StatusOK {
			t.Fatalf("read during changes: %d", r.status)
		}
	}
	wg.Wait()
	if items, _ := f.all("/groups/" + gid + "/members?$top=999"); len(items) != 200 {
		t.Errorf("members = %d, want 200", len(items))
	}
}

// TestLagUserLeavesIdsOutOfGetByIds: a lagging user is left out of the
// next replies that ask for it, then comes back; other ids are unaffected.
func TestLagUserLeavesIdsOutOfGetByIds(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	ids := f.addUsers("u", 2)
	body := map[string]any{"ids": ids, "types": []string{"user"}}
	f.sim.LagUser(ids[0], 2)
	for i, want := range []int{1, 1, 2} {
		r := f.do(http.MethodPost, "/directoryObjects/getByIds", body)
		if r.status != http.StatusOK || len(r.value()) != want {
			t.Errorf("reply %d: %d with %d users, want 200 with %d", i+1, r.status, len(r.value()), want)
		}
	}
	f.sim.LagUser(ids[1], 5)
	f.sim.LagUser(ids[1], 0) // cleared
	if r := f.do(http.MethodPost, "/directoryObjects/getByIds", body); len(r.value()) != 2 {
		t.Errorf("after clearing: %d users", len(r.value()))
	}
}
