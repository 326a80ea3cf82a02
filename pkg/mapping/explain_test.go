package mapping

import (
	"slices"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/directory"
)

// Each scope reason an administrator may meet, worded as the portal's
// provision-on-demand words it.
func TestExplainSaysWhyInOrOutOfScope(t *testing.T) {
	snapApp := app
	snapApp.Roles = append(slices.Clone(app.Roles), directory.AppRole{ID: "44444444-4444-4444-4444-444444444444", Value: "Staff", DisplayName: "Staff member"})
	snap := &directory.Snapshot{App: snapApp, Groups: []directory.Group{{ID: "g-sales", DisplayName: "Sales"}}}
	staff, err := NewClause("department", OpEquals, "Sales")
	if err != nil {
		t.Fatal(err)
	}
	m := mapper(t, nil)
	filtered := mapper(t, func(c *Config) { c.Scope = []Filter{{Name: "staff", Clauses: []Clause{staff}}} })
	attrs := map[string]string{"mail": "u@contoso.com", "givenName": "Ann", "surname": "Lee", "department": "Marketing"}
	direct := user("u", attrs, roleAdmin)
	member := user("u", attrs)
	member.Assignments = []directory.Assignment{{AppRoleID: roleUser, GroupID: "g-sales"}}
	nested := user("u", attrs)
	nested.NestedOnly = []string{"Support"}
	disabled := user("u", attrs, roleUser)
	disabled.AccountEnabled = false
	defaultOnly := user("u", attrs, directory.DefaultAccessRoleID)
	for _, tc := range []struct {
		name string
		m    *Mapper
		u    directory.User
		in   bool
		want string
	}{
		{"direct", m, direct, true, "assigned directly as Admin"},
		{"group", m, member, true, "member of Sales, assigned as User"},
		{"nested", m, nested, false, "not assigned to the app: only nested in Support, and entra.nested_groups is off"},
		{"unassigned", m, user("u", attrs), false, "not assigned to the app, directly or through an assigned group"},
		{"disabled", m, disabled, false, "account disabled in Entra (accountEnabled is false)"},
		{"filter", filtered, direct, false, `filtered out by scope filter staff (department EQUALS "Sales" does not hold: it is "Marketing")`},
	} {
		x := tc.m.Explain(&tc.u, snap)
		if x.InScope != tc.in || len(x.Scope) == 0 || x.Scope[0] != tc.want {
			t.Errorf("%s: in scope %v, %q; want %v, %q", tc.name, x.InScope, x.Scope, tc.in, tc.want)
		}
		if x.Account.OutOfScope != "" && x.Account.OutOfScope != x.Scope[0] {
			t.Errorf("%s: the explanation %q is not what the planner is told (%q)", tc.name, x.Scope[0], x.Account.OutOfScope)
		}
	}
	x := m.Explain(&defaultOnly, snap)
	if !x.InScope || !strings.HasPrefix(x.Skip, "assigned only Default Access") || x.Skip != x.Account.Skip {
		t.Errorf("default access: in scope %v, skip %q", x.InScope, x.Skip)
	}
	x = m.Explain(&direct, snap)
	if len(x.Fields) != 3 || x.Fields[0].Expr != "mail ?? userPrincipalName" || x.Fields[0].Value != "u@contoso.com" || x.Fields[2].Value != "Lee" {
		t.Errorf("fields: %+v", x.Fields)
	}
	if !slices.Equal(x.Licenses, []string{"L-g2m", "L-webinar"}) || !slices.Equal(x.AdminRoles, []string{"MANAGE_USERS"}) {
		t.Errorf("roles give %v %v", x.Licenses, x.AdminRoles)
	}
}
