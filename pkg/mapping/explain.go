package mapping

import (
	"fmt"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/plan"
)

// Explanation is how the mapping sees one user, step by step, as the
// portal's provision-on-demand shows it: scope, then each GoTo field with
// its expression and value. It describes what Map decides; it decides
// nothing itself.
type Explanation struct {
	// InScope says whether the user is in scope; Scope says why: each way
	// they are assigned ("assigned directly as Admin", "member of Sales,
	// assigned as User"), or why they are out of scope.
	InScope bool
	Scope   []string
	// Fields are the mapped GoTo fields in field order, with the expression
	// and the value it gave (empty: the field is not sent).
	Fields []FieldValue
	// Licenses and AdminRoles are what the user's app roles give.
	Licenses, AdminRoles []string
	// Skip is why a person in scope gets no change, or "".
	Skip string
	// Account is what Map gives the planner for this user.
	Account plan.Account
}

// FieldValue is one mapped field.
type FieldValue struct {
	Field plan.Field
	Expr  string
	Value string
	// Default is what a create sends when Value is empty, or "".
	Default string
	// Error is why the expression cannot be evaluated for this user (a
	// value over a limit), or ""; the person is then skipped with it.
	Error string
}

// Explain explains the mapping of u, a user of snap.
func (m *Mapper) Explain(u *directory.User, snap *directory.Snapshot) Explanation {
	a := m.account(u, &snap.App, map[string][2][]string{})
	x := Explanation{Account: a, InScope: a.OutOfScope == "", Skip: a.Skip, Licenses: a.Licenses, AdminRoles: a.AdminRoles}
	if !x.InScope {
		x.Scope = []string{a.OutOfScope}
	} else {
		groups := map[string]string{}
		for _, g := range snap.Groups {
			groups[g.ID] = g.DisplayName
		}
		for _, as := range u.Assignments {
			role := roleLabel(&snap.App, as.AppRoleID)
			if as.Direct() {
				x.Scope = append(x.Scope, "assigned directly as "+role)
			} else {
				x.Scope = append(x.Scope, fmt.Sprintf("member of %s, assigned as %s", groups[as.GroupID], role))
			}
		}
		if len(m.cfg.Scope) > 0 {
			for _, f := range m.cfg.Scope {
				if f.Match(u) {
					x.Scope = append(x.Scope, "passes scope filter "+f.Name)
					break
				}
			}
		}
	}
	for _, f := range plan.AllFields() {
		e, ok := m.cfg.Fields[f]
		if !ok || e.IsZero() {
			continue
		}
		fv := FieldValue{Field: f, Expr: e.String(), Default: m.cfg.Defaults[f]}
		v, err := e.EvalEnv(&Env{User: u, App: &snap.App})
		if err != nil {
			fv.Error = evalFailure(f, err)
		}
		fv.Value = v
		x.Fields = append(x.Fields, fv)
	}
	return x
}

// roleLabel names an app role as the portal does: its display name (or
// value), and Default Access for the role-less assignment.
func roleLabel(app *directory.App, id string) string {
	if id == directory.DefaultAccessRoleID {
		return "Default Access"
	}
	for _, r := range app.Roles {
		if r.ID == id {
			if r.DisplayName != "" {
				return r.DisplayName
			}
			if r.Value != "" {
				return r.Value
			}
		}
	}
	return "role " + id
}
