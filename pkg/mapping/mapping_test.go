package mapping

import (
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/google/go-cmp/cmp"
)

const (
	roleUser  = "11111111-1111-1111-1111-111111111111"
	roleAdmin = "22222222-2222-2222-2222-222222222222"
	roleGuest = "33333333-3333-3333-3333-333333333333"
)

var app = directory.App{ID: "sp", Roles: []directory.AppRole{
	{ID: roleUser, Value: "User"}, {ID: roleAdmin, Value: "Admin"}, {ID: roleGuest, Value: "Guest"},
}}

func user(id string, attrs map[string]string, roles ...string) directory.User {
	u := directory.User{ID: id, UserPrincipalName: id + "@contoso.com", AccountEnabled: true, Attributes: attrs}
	for _, r := range roles {
		u.Assignments = append(u.Assignments, directory.Assignment{AppRoleID: r})
	}
	return u
}

func mapper(t *testing.T, mod func(*Config)) *Mapper {
	t.Helper()
	cfg := Config{Fields: DefaultFields(), Roles: map[string]Role{
		"User":    {Licenses: []string{"L-g2m"}},
		roleAdmin: {Licenses: []string{"L-g2m", "L-webinar"}, AdminRoles: []string{"MANAGE_USERS"}},
	}}
	if mod != nil {
		mod(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExpressions(t *testing.T) {
	u := user("u", map[string]string{"mail": "", "givenName": "Ann", "department": " Sales "})
	tests := []struct {
		src, want string
	}{
		{"givenName", "Ann"},
		{`"en_US"`, "en_US"},
		{"mail ?? userPrincipalName", "u@contoso.com"},
		{`jobTitle ?? "Staff"`, "Staff"},
		{"department", "Sales"},
		{`mail ?? jobTitle ?? ""`, ""},
	}
	for _, tt := range tests {
		e, err := Parse(tt.src)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.src, err)
		}
		if got, err := e.Eval(&u); got != tt.want || err != nil {
			t.Errorf("%s = %q, %v; want %q", tt.src, got, err, tt.want)
		}
	}
}

func TestExpressionErrors(t *testing.T) {
	for src, want := range map[string]string{
		"":                   "empty expression",
		"mail ??":            "at column 8",
		"emial":              `unknown directory attribute "emial"`,
		`"open`:              "not closed",
		`"a"b"`:              "not closed",
		"mail ?? ?? surname": "at column 9",
	} {
		_, err := Parse(src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want error containing %q", src, err, want)
		}
	}
	for _, ok := range []string{"extension_0123456789abcdef0123456789abcdef_costCenter", "onPremisesExtensionAttributes.extensionAttribute15"} {
		if _, err := Parse(ok); err != nil {
			t.Errorf("Parse(%q): %v", ok, err)
		}
	}
}

func TestRolesAreUnionedAndShared(t *testing.T) {
	m := mapper(t, nil)
	snap := &directory.Snapshot{App: app, Users: []directory.User{
		user("a", map[string]string{"mail": "a@x.com", "givenName": "A", "surname": "Z"}, roleUser, roleAdmin),
		user("b", map[string]string{"mail": "b@x.com", "givenName": "B", "surname": "Z"}, roleAdmin, roleUser),
	}}
	got := m.Map(snap)
	for _, a := range got {
		if a.Skip != "" {
			t.Fatalf("%s skipped: %s", a.EntraID, a.Skip)
		}
		if d := cmp.Diff([]string{"L-g2m", "L-webinar"}, a.Licenses); d != "" {
			t.Errorf("%s licences (-want +got):\n%s", a.EntraID, d)
		}
		if d := cmp.Diff([]string{"MANAGE_USERS"}, a.AdminRoles); d != "" {
			t.Errorf("%s admin roles (-want +got):\n%s", a.EntraID, d)
		}
	}
	if &got[0].Licenses[0] != &got[1].Licenses[0] {
		t.Errorf("people with one role set got separate licence slices; the planner shares work by slice")
	}
}

func TestRoleMatchedByIDOrValue(t *testing.T) {
	m := mapper(t, nil) // "User" by value, roleAdmin by id
	snap := &directory.Snapshot{App: app, Users: []directory.User{
		user("byvalue", map[string]string{"mail": "v@x.com", "givenName": "V", "surname": "Z"}, roleUser),
		user("byid", map[string]string{"mail": "i@x.com", "givenName": "I", "surname": "Z"}, roleAdmin),
	}}
	for _, a := range m.Map(snap) {
		if a.Skip != "" || len(a.Licenses) == 0 {
			t.Errorf("%s: skip %q licences %v", a.EntraID, a.Skip, a.Licenses)
		}
	}
}

func TestDefaultAccessIsSkippedUnlessMapped(t *testing.T) {
	u := user("d", map[string]string{"mail": "d@x.com", "givenName": "D", "surname": "Z"}, directory.DefaultAccessRoleID)
	snap := &directory.Snapshot{App: app, Users: []directory.User{u}}
	a := mapper(t, nil).Map(snap)[0]
	if !strings.Contains(a.Skip, "Default Access (00000000-0000-0000-0000-000000000000)") {
		t.Errorf("skip = %q, want it to name Default Access", a.Skip)
	}
	a = mapper(t, func(c *Config) { c.Roles[directory.DefaultAccessRoleID] = Role{Licenses: []string{"L-basic"}} }).Map(snap)[0]
	if a.Skip != "" || !cmp.Equal(a.Licenses, []string{"L-basic"}) {
		t.Errorf("mapped default access: skip %q licences %v", a.Skip, a.Licenses)
	}
}

func TestUnmappedRoleIsNamed(t *testing.T) {
	u := user("g", map[string]string{"mail": "g@x.com"}, roleGuest)
	a := mapper(t, nil).Map(&directory.Snapshot{App: app, Users: []directory.User{u}})[0]
	if !strings.Contains(a.Skip, "Guest ("+roleGuest+")") {
		t.Errorf("skip = %q, want it to name the Guest role", a.Skip)
	}
}

func TestDisabledUserIsOutOfScope(t *testing.T) {
	u := user("x", map[string]string{"mail": "x@x.com"}, roleUser)
	u.AccountEnabled = false
	a := mapper(t, nil).Map(&directory.Snapshot{App: app, Users: []directory.User{u}})[0]
	if !strings.Contains(a.OutOfScope, "accountEnabled") {
		t.Errorf("out of scope = %q", a.OutOfScope)
	}
}

func TestScopingFilters(t *testing.T) {
	sales, err := NewClause("department", OpEquals, "Sales")
	if err != nil {
		t.Fatal(err)
	}
	notContractor, _ := NewClause("employeeType", OpNotEquals, "Contractor")
	it, _ := NewClause("jobTitle", OpRegex, "^IT ")
	m := mapper(t, func(c *Config) {
		c.Scope = []Filter{{Name: "sales staff", Clauses: []Clause{sales, notContractor}}, {Name: "it", Clauses: []Clause{it}}}
	})
	base := map[string]string{"mail": "p@x.com", "givenName": "P", "surname": "Z"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		attrs map[string]string
		in    bool
	}{
		{with("department", "Sales", "employeeType", "Employee"), true},
		{with("department", "Sales"), false}, // NOT EQUALS on a null value is false, as in Entra
		{with("department", "sales", "employeeType", "Employee"), false},
		{with("department", "Sales", "employeeType", "Contractor"), false},
		{with("department", "Marketing"), false},
		{with("department", "Marketing", "jobTitle", "IT Support"), true},
	}
	for _, tt := range tests {
		a := m.Map(&directory.Snapshot{App: app, Users: []directory.User{user("p", tt.attrs, roleUser)}})[0]
		if (a.OutOfScope == "") != tt.in {
			t.Errorf("%v: out of scope %q, want in scope %v", tt.attrs, a.OutOfScope, tt.in)
		}
	}
	if got, want := m.Attributes(), []string{"department", "employeeType", "givenName", "jobTitle", "mail", "surname", "userPrincipalName"}; !cmp.Equal(got, want) {
		t.Errorf("attributes = %v, want %v", got, want)
	}
}

func TestProfileProblemsSkip(t *testing.T) {
	m := mapper(t, nil)
	tests := []struct {
		attrs map[string]string
		want  string
	}{
		{map[string]string{"mail": "not an address", "givenName": "A", "surname": "B"}, "not a valid address"},
		{map[string]string{"mail": "a@x.com", "surname": "B"}, "no firstName: mapping.firstName (givenName) is empty"},
	}
	for _, tt := range tests {
		a := m.Map(&directory.Snapshot{App: app, Users: []directory.User{user("p", tt.attrs, roleUser)}})[0]
		if !strings.Contains(a.Skip, tt.want) {
			t.Errorf("%v: skip %q, want %q", tt.attrs, a.Skip, tt.want)
		}
	}
}

func TestMatchEmailsFollowConfiguredOrder(t *testing.T) {
	m := mapper(t, func(c *Config) { c.Matching = []string{"userPrincipalName", "mail"} })
	u := user("p", map[string]string{"mail": "mail@x.com", "givenName": "P", "surname": "Z"}, roleUser)
	a := m.Map(&directory.Snapshot{App: app, Users: []directory.User{u}})[0]
	if want := []string{"p@contoso.com", "mail@x.com"}; !cmp.Equal(a.MatchEmails, want) {
		t.Errorf("match emails = %v, want %v", a.MatchEmails, want)
	}
	if a.Profile != (plan.Profile{Email: "mail@x.com", FirstName: "P", LastName: "Z"}) {
		t.Errorf("profile = %+v", a.Profile)
	}
}
