package graph_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/directory/graph"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

// tenant is a simulator with a client app and an enterprise app.
type tenant struct {
	t      testing.TB
	sim    *graphsim.Server
	client string
	secret string
	spID   string
	roleU  string // "User"
	roleA  string // "Admin"
}

var readPerms = []string{"Application.Read.All", "GroupMember.Read.All", "User.Read.All"}

func newTenant(t testing.TB, opts graphsim.Options, perms ...string) *tenant {
	t.Helper()
	if opts.Seed == 0 {
		opts.Seed = 7
	}
	sim, err := graphsim.New(opts)
	if err != nil {
		t.Fatalf("start graphsim: %v", err)
	}
	t.Cleanup(sim.Close)
	if perms == nil {
		perms = readPerms
	}
	tn := &tenant{t: t, sim: sim, secret: "correct horse"}
	tn.client = tn.must1(sim.AddApp(graphsim.App{DisplayName: "g2msync", Secrets: []string{tn.secret}, Permissions: perms}))
	tn.spID = tn.must1(sim.AddServicePrincipal(graphsim.ServicePrincipal{
		DisplayName: "GoToMeeting",
		AppRoles:    []graphsim.AppRole{{Value: "User", DisplayName: "User"}, {Value: "Admin", DisplayName: "Admin"}},
	}))
	roles, err := sim.AppRoles(tn.spID)
	tn.must(err)
	tn.roleU, tn.roleA = roles[0].ID, roles[1].ID
	return tn
}

func (tn *tenant) must(err error) {
	tn.t.Helper()
	if err != nil {
		tn.t.Fatal(err)
	}
}

func (tn *tenant) must1(s string, err error) string {
	tn.t.Helper()
	tn.must(err)
	return s
}

// config returns a graph.Config for the simulator, trusting its CA through
// the transport as a caller would.
func (tn *tenant) config() graph.Config {
	return graph.Config{
		TenantID:           tn.sim.TenantID(),
		ClientID:           tn.client,
		ClientSecret:       tn.secret,
		Cloud:              graph.Cloud{AuthorityHost: tn.sim.AuthorityHost(), GraphBaseURL: tn.sim.GraphBaseURL()},
		ServicePrincipalID: tn.spID,
		Attributes:         []string{"mail", "givenName", "department"},
		Transport:          &http.Transport{TLSClientConfig: tn.sim.CA().ClientConfig()},
	}
}

func (tn *tenant) read(cfg graph.Config) (*directory.Snapshot, error) {
	tn.t.Helper()
	src, err := graph.New(cfg)
	if err != nil {
		tn.t.Fatalf("graph.New: %v", err)
	}
	return src.Read(context.Background())
}

func (tn *tenant) users(prefix string, n int) []string {
	tn.t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = tn.must1(tn.sim.AddUser(graphsim.User{
			UserPrincipalName: fmt.Sprintf("%s%04d@contoso.com", prefix, i),
			Mail:              fmt.Sprintf("%s.%04d@contoso.com", prefix, i),
			GivenName:         prefix,
			Surname:           fmt.Sprint(i),
			Department:        "Dept " + prefix,
		}))
	}
	return ids
}

// scenario is the fixed tenant of the acceptance tests:
//
//	Sales    (role User):    U[0:1200]               2 pages
//	Support  (role Admin):   U[1000:2000], U[1500] soft-deleted → 999, 1 page
//	Everyone (default):      U[2000:2300] + group Nested (N[0:50], U[0:10])
//	direct User:             U[2100:2500]; U[2450] soft-deleted; U[2400] disabled
//	direct Admin:            U[0:5]; U[5] disabled
//	a service principal with role User (not a person)
type scenario struct {
	*tenant
	U, N                  []string
	sales, support, every string
	nested, otherSP       string
}

func newScenario(t testing.TB, opts graphsim.Options, perms ...string) *scenario {
	tn := newTenant(t, opts, perms...)
	sc := &scenario{tenant: tn, U: tn.users("u", 2500), N: tn.users("n", 50)}
	group := func(name string) string { return tn.must1(tn.sim.AddGroup(graphsim.Group{DisplayName: name})) }
	sc.sales, sc.support, sc.every, sc.nested = group("Sales"), group("Support"), group("Everyone"), group("Nested")
	tn.must(tn.sim.AddMembers(sc.sales, sc.U[0:1200]...))
	tn.must(tn.sim.AddMembers(sc.support, sc.U[1000:2000]...))
	tn.must(tn.sim.AddMembers(sc.every, sc.U[2000:2300]...))
	tn.must(tn.sim.AddMembers(sc.every, sc.nested))
	tn.must(tn.sim.AddMembers(sc.nested, sc.N...))
	tn.must(tn.sim.AddMembers(sc.nested, sc.U[0:10]...))
	assign := func(principal, role string) { tn.must1(tn.sim.Assign(tn.spID, principal, role)) }
	assign(sc.sales, tn.roleU)
	assign(sc.support, tn.roleA)
	assign(sc.every, graphsim.DefaultAccessRoleID)
	for _, id := range sc.U[2100:2500] {
		assign(id, tn.roleU)
	}
	for _, id := range sc.U[0:5] {
		assign(id, tn.roleA)
	}
	sc.otherSP = tn.must1(tn.sim.AddServicePrincipal(graphsim.ServicePrincipal{DisplayName: "Some daemon"}))
	assign(sc.otherSP, tn.roleU)
	tn.must(tn.sim.SoftDeleteUser(sc.U[1500]))
	tn.must(tn.sim.SoftDeleteUser(sc.U[2450]))
	tn.must(tn.sim.DisableUser(sc.U[2400]))
	tn.must(tn.sim.DisableUser(sc.U[5]))
	tn.sim.ResetCounters()
	return sc
}

func byID(snap *directory.Snapshot) map[string]directory.User {
	out := make(map[string]directory.User, len(snap.Users))
	for _, u := range snap.Users {
		out[u.ID] = u
	}
	return out
}

func roles(u directory.User) []string {
	var out []string
	for _, a := range u.Assignments {
		out = append(out, a.AppRoleID+"@"+a.GroupID)
	}
	return out
}

func TestReadFixedScenario(t *testing.T) {
	sc := newScenario(t, graphsim.Options{})
	snap, err := sc.read(sc.config())
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	users := byID(snap)
	if len(snap.Users) != len(users) || len(users) != 2498 {
		t.Fatalf("users = %d (%d distinct), want 2498", len(snap.Users), len(users))
	}
	if !slices.IsSortedFunc(snap.Users, func(a, b directory.User) int { return strings.Compare(a.ID, b.ID) }) {
		t.Error("users are not sorted by id")
	}
	for _, id := range []string{sc.U[1500], sc.U[2450]} {
		if _, ok := users[id]; ok {
			t.Errorf("soft-deleted user %s is in the snapshot", id)
		}
	}
	for _, id := range sc.N {
		if _, ok := users[id]; ok {
			t.Fatalf("nested member %s read without NestedGroups", id)
		}
	}
	for _, id := range []string{sc.U[5], sc.U[2400]} {
		if u, ok := users[id]; !ok || u.AccountEnabled {
			t.Errorf("disabled user %s: present %v, enabled %v", id, ok, u.AccountEnabled)
		}
	}
	if !users[sc.U[6]].AccountEnabled {
		t.Error("enabled user reads as disabled")
	}
	def := directory.DefaultAccessRoleID
	checks := []struct {
		id   string
		want []string
	}{
		{sc.U[0], []string{sc.roleA + "@", sc.roleU + "@" + sc.sales}},
		{sc.U[1100], []string{sc.roleU + "@" + sc.sales, sc.roleA + "@" + sc.support}},
		{sc.U[2200], []string{sc.roleU + "@", def + "@" + sc.every}},
		{sc.U[2050], []string{def + "@" + sc.every}},
		{sc.U[2499], []string{sc.roleU + "@"}},
	}
	for _, c := range checks {
		got := roles(users[c.id])
		slices.Sort(got)
		slices.Sort(c.want)
		if !slices.Equal(got, c.want) {
			t.Errorf("user %s assignments = %v, want %v", c.id, got, c.want)
		}
	}
	u := users[sc.U[42]]
	if u.UserPrincipalName != "u0042@contoso.com" || u.Attr("mail") != "u.0042@contoso.com" || u.Attr("department") != "Dept u" || u.Attr("givenName") != "u" {
		t.Errorf("attributes of U[42]: %+v", u)
	}
	if _, ok := u.Attributes["accountEnabled"]; ok {
		t.Error("accountEnabled leaked into Attributes")
	}
	wantGroups := map[string]int{sc.sales: 1200, sc.support: 999, sc.every: 300}
	if len(snap.Groups) != 3 {
		t.Fatalf("groups = %+v", snap.Groups)
	}
	for _, g := range snap.Groups {
		if wantGroups[g.ID] != g.Members {
			t.Errorf("group %s (%s): %d members, want %d", g.DisplayName, g.ID, g.Members, wantGroups[g.ID])
		}
	}
	if snap.App.ID != sc.spID || snap.App.RoleValue(sc.roleA) != "Admin" || len(snap.App.Roles) != 2 {
		t.Errorf("app = %+v", snap.App)
	}

	// Exact calls: 1 service principal + ceil(408/999) assignments +
	// 2 + 1 + 1 member pages + ceil(199/1000) getByIds, plus discovery and
	// one token.
	want := map[string]int{
		"GET /openid-configuration":                     1,
		"POST /token":                                   1,
		"GET /servicePrincipals/{id}":                   1,
		"GET /servicePrincipals/{id}/appRoleAssignedTo": 1,
		"GET /groups/{id}/members":                      4,
		"POST /directoryObjects/getByIds":               1,
	}
	if got := sc.sim.Counters(); !mapsEqual(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	if sc.sim.GraphCalls() != 7 || snap.Calls != sc.sim.TotalCalls() {
		t.Errorf("graph calls %d (want 7), snapshot counts %d of %d", sc.sim.GraphCalls(), snap.Calls, sc.sim.TotalCalls())
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestReadNestedGroups(t *testing.T) {
	sc := newScenario(t, graphsim.Options{})
	cfg := sc.config()
	cfg.NestedGroups = true
	cfg.ServicePrincipalID = ""
	appID := ""
	{
		// Resolve by app id instead of object id.
		src, err := graph.New(sc.config())
		sc.must(err)
		snap, err := src.Read(context.Background())
		sc.must(err)
		appID = snap.App.AppID
		sc.sim.ResetCounters()
	}
	cfg.AppID = appID
	snap, err := sc.read(cfg)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	users := byID(snap)
	if len(users) != 2548 {
		t.Fatalf("users = %d, want 2548 with nested members", len(users))
	}
	if got := roles(users[sc.N[3]]); len(got) != 1 || got[0] != directory.DefaultAccessRoleID+"@"+sc.every {
		t.Errorf("nested member assignments = %v", got)
	}
	if got := roles(users[sc.U[3]]); len(got) != 3 {
		t.Errorf("U[3] (direct Admin, Sales, Everyone via Nested) = %v", got)
	}
	for _, g := range snap.Groups {
		if g.ID == sc.every && g.Members != 360 {
			t.Errorf("Everyone transitive members = %d, want 360", g.Members)
		}
	}
	c := sc.sim.Counters()
	if c["GET /servicePrincipals(appId='{appId}')"] != 1 || c["GET /groups/{id}/transitiveMembers"] != 4 || c["GET /groups/{id}/members"] != 0 {
		t.Errorf("calls = %v", c)
	}
}

func TestReadSurvives429Storm(t *testing.T) {
	sc := newScenario(t, graphsim.Options{})
	base, err := sc.read(sc.config())
	sc.must(err)
	sc.sim.ResetCounters()
	sc.sim.ThrottleNext(3) // Retry-After: 1 each, within kiota's 3 retries
	snap, err := sc.read(sc.config())
	if err != nil {
		t.Fatalf("Read under a 429 storm: %v", err)
	}
	if len(snap.Users) != len(base.Users) || !slices.EqualFunc(snap.Users, base.Users, func(a, b directory.User) bool {
		return a.ID == b.ID && slices.Equal(a.Assignments, b.Assignments)
	}) {
		t.Error("the snapshot differs from the unthrottled one")
	}
	if got := sc.sim.GraphCalls(); got != 7+3 {
		t.Errorf("graph calls = %d, want 10 (7 + 3 retried)", got)
	}

	// A retried POST resends its gzipped body intact (middleware order).
	sc.sim.ResetCounters()
	sc.must(sc.sim.InjectFault(graphsim.Fault{Route: "POST /directoryObjects/getByIds", Status: http.StatusServiceUnavailable, RetryAfter: 1}))
	snap, err = sc.read(sc.config())
	if err != nil || len(snap.Users) != len(base.Users) {
		t.Fatalf("Read with a retried getByIds: %v", err)
	}
	if got := sc.sim.Calls("POST /directoryObjects/getByIds"); got != 2 {
		t.Errorf("getByIds calls = %d, want 2", got)
	}
}

func TestReadAbortsOnFailedPage(t *testing.T) {
	tn := newTenant(t, graphsim.Options{})
	gid := tn.must1(tn.sim.AddGroup(graphsim.Group{DisplayName: "Sales"}))
	tn.must(tn.sim.AddMembers(gid, tn.users("u", 2100)...))
	tn.must1(tn.sim.Assign(tn.spID, gid, tn.roleU))
	tn.must(tn.sim.InjectFault(graphsim.Fault{Route: "GET /groups/{id}/members", Nth: 3, Status: http.StatusInternalServerError}))
	_, err := tn.read(tn.config())
	want := fmt.Sprintf(`list members of group "Sales" (id %s), page 3: 500 UnknownError`, gid)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error = %v, want prefix %q", err, want)
	}
	t.Logf("500 on page 3: %v", err)
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Status != 500 || !errors.Is(err, graph.ErrUnavailable) {
		t.Errorf("error is not classified: %#v", err)
	}
	if got := tn.sim.Calls("GET /groups/{id}/members"); got != 3 {
		t.Errorf("member calls = %d, want 3 (500 is not retried)", got)
	}
	tn.sim.ClearFaults()

	tn.must(tn.sim.InjectFault(graphsim.Fault{Route: "GET /groups/{id}/members", Times: -1, Status: http.StatusServiceUnavailable, RetryAfter: 1}))
	_, err = tn.read(tn.config())
	want = fmt.Sprintf(`list members of group "Sales" (id %s), page 1: 503 after 4 attempts`, gid)
	t.Logf("persistent 503: %v", err)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error = %v, want prefix %q", err, want)
	}
	tn.sim.ClearFaults()

	tn.must(tn.sim.InjectFault(graphsim.Fault{Route: "GET /groups/{id}/members", Nth: 2, Truncate: true}))
	if _, err = tn.read(tn.config()); !errors.Is(err, graph.ErrUnavailable) || !strings.Contains(err.Error(), "page 2") {
		t.Fatalf("truncated page: %v", err)
	}
}

func TestReadCredentialAndPermissionErrors(t *testing.T) {
	tn := newTenant(t, graphsim.Options{})
	uid := tn.users("u", 1)[0]
	gid := tn.must1(tn.sim.AddGroup(graphsim.Group{DisplayName: "Sales"}))
	tn.must(tn.sim.AddMember(gid, uid))
	tn.must1(tn.sim.Assign(tn.spID, gid, tn.roleU))
	tn.must1(tn.sim.Assign(tn.spID, tn.users("d", 1)[0], tn.roleU))

	cfg := tn.config()
	cfg.ClientSecret = "wrong"
	_, err := tn.read(cfg)
	want := "Entra rejected the client credentials for tenant " + tn.sim.TenantID() + ": AADSTS7000215: Invalid client secret provided"
	t.Logf("wrong secret: %v", err)
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, graph.ErrCredentials) {
		t.Fatalf("wrong secret: %v\nwant it to contain %q", err, want)
	}

	for _, c := range []struct {
		perms []string
		want  string
	}{
		{[]string{"GroupMember.Read.All", "User.Read.All"}, "grant the Microsoft Graph application permission Application.Read.All to app"},
		{[]string{"Application.Read.All", "User.Read.All"}, "grant the Microsoft Graph application permission GroupMember.Read.All to app"},
		{[]string{"Application.Read.All", "GroupMember.Read.All"}, "grant the Microsoft Graph application permission User.Read.All to app"},
	} {
		id := tn.must1(tn.sim.AddApp(graphsim.App{Secrets: []string{"s"}, Permissions: c.perms}))
		cfg := tn.config()
		cfg.ClientID, cfg.ClientSecret = id, "s"
		_, err := tn.read(cfg)
		t.Logf("permissions %v: %v", c.perms, err)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "admin consent") {
			t.Errorf("permissions %v: %v\nwant it to contain %q", c.perms, err, c.want)
		}
	}
	// Without User.Read.All the members come with only id and type: the
	// read fails before getByIds gets its 403.
	id := tn.must1(tn.sim.AddApp(graphsim.App{Secrets: []string{"s"}, Permissions: []string{"Application.Read.All", "GroupMember.Read.All"}}))
	cfg = tn.config()
	cfg.ClientID, cfg.ClientSecret = id, "s"
	if _, err := tn.read(cfg); err == nil || !strings.Contains(err.Error(), "list members of group") || !strings.Contains(err.Error(), "User.Read.All") {
		t.Errorf("limited member information: %v", err)
	}

	cfg = tn.config()
	cfg.ServicePrincipalID = "11111111-2222-3333-4444-555555555555"
	if _, err := tn.read(cfg); !errors.Is(err, graph.ErrNotFound) || !strings.Contains(err.Error(), "object id") {
		t.Errorf("unknown service principal: %v", err)
	}
}

func TestReadWithCertificateAndWorkloadIdentity(t *testing.T) {
	tn := newTenant(t, graphsim.Options{})
	ids := tn.users("u", 3)
	for _, id := range ids {
		tn.must1(tn.sim.Assign(tn.spID, id, tn.roleU))
	}
	cert, err := graphsim.NewClientCertificate("g2msync")
	tn.must(err)
	certApp := tn.must1(tn.sim.AddApp(graphsim.App{Certificates: []*x509.Certificate{cert.Certificate}, Permissions: readPerms}))
	cfg := tn.config()
	cfg.ClientID, cfg.ClientSecret = certApp, ""
	cfg.Certificates, cfg.PrivateKey = []*x509.Certificate{cert.Certificate}, cert.Key
	snap, err := tn.read(cfg)
	if err != nil || len(snap.Users) != 3 {
		t.Fatalf("certificate credential: %v", err)
	}

	dir := t.TempDir()
	fedApp := tn.must1(tn.sim.AddApp(graphsim.App{FederatedTokens: []string{"projected-sa-token"}, Permissions: readPerms}))
	tokenFile := filepath.Join(dir, "token")
	tn.must(os.WriteFile(tokenFile, []byte("projected-sa-token"), 0o600))
	cfg = tn.config()
	cfg.ClientID, cfg.ClientSecret = fedApp, ""
	cfg.WorkloadIdentity, cfg.WorkloadIdentityTokenFile = true, tokenFile
	if snap, err := tn.read(cfg); err != nil || len(snap.Users) != 3 {
		t.Fatalf("workload identity: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	_, err := graph.New(graph.Config{ClientSecret: "x", ManagedIdentity: true, Cloud: graph.Cloud{AuthorityHost: "http://login", GraphBaseURL: graph.GraphPublic}})
	for _, want := range []string{"tenant id is empty", "several credentials set", "service principal", "must be an https URL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	for _, name := range []string{"public", "usgov", "usgov-dod", "china"} {
		if _, err := graph.CloudByName(name); err != nil {
			t.Errorf("CloudByName(%q): %v", name, err)
		}
	}
}
