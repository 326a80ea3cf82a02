package mapping

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/plan"
)

// Role is what one app role gives a GoTo account.
type Role struct {
	Licenses   []string
	AdminRoles []string
}

// Config is a validated mapping configuration.
type Config struct {
	// Fields maps each target field to its expression; email is required.
	Fields map[plan.Field]Expr
	// Defaults are the values a create sends for fields whose expression
	// gives nothing (never used on updates).
	Defaults map[plan.Field]string
	// Matching lists the directory attributes whose values are tried, in
	// order, as the email of an existing GoTo account to adopt.
	Matching []string
	// Roles maps an app role, by id or by value, to what it gives.
	Roles map[string]Role
	// Scope holds the scoping filters: a user is in scope if any filter
	// matches, or if there are none.
	Scope []Filter
}

// DefaultFields returns the default attribute mappings.
func DefaultFields() map[plan.Field]Expr {
	return map[plan.Field]Expr{
		plan.FieldEmail:     MustParse("mail ?? userPrincipalName"),
		plan.FieldFirstName: MustParse("givenName"),
		plan.FieldLastName:  MustParse("surname"),
	}
}

// DefaultMatching returns the default matching attributes.
func DefaultMatching() []string { return []string{"mail", "userPrincipalName"} }

// Mapper maps directory snapshots to desired accounts.
type Mapper struct {
	cfg Config
	// defaults is cfg.Defaults as the Profile every account shares; nil
	// when there are none.
	defaults *plan.Profile
}

// New returns a Mapper for cfg. The configuration package has validated it;
// New checks only what would make mapping impossible.
func New(cfg Config) (*Mapper, error) {
	if cfg.Fields[plan.FieldEmail].IsZero() {
		return nil, fmt.Errorf("mapping: no expression for email")
	}
	if len(cfg.Roles) == 0 {
		return nil, fmt.Errorf("mapping: no app role is mapped")
	}
	if len(cfg.Matching) == 0 {
		cfg.Matching = DefaultMatching()
	}
	m := &Mapper{cfg: cfg}
	for f, d := range cfg.Defaults {
		if d == "" {
			continue
		}
		if m.defaults == nil {
			m.defaults = &plan.Profile{}
		}
		m.defaults.Set(f, d)
	}
	return m, nil
}

// Volatile reports whether a mapping gives a new value at every
// evaluation (Now, Guid): mapping the same snapshot twice may then give
// other accounts. Scoping filters and roles read no clock.
func (m *Mapper) Volatile() bool {
	for _, e := range m.cfg.Fields {
		if e.Volatile() {
			return true
		}
	}
	return false
}

// Attributes returns the directory attributes mappings, matching and scoping
// read, sorted, so the reader can select exactly those.
func (m *Mapper) Attributes() []string {
	var out []string
	for _, e := range m.cfg.Fields {
		out = append(out, e.Attributes()...)
	}
	out = append(out, m.cfg.Matching...)
	for _, f := range m.cfg.Scope {
		for _, c := range f.Clauses {
			out = append(out, c.Attribute)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ManagedLicenses returns every licence some role gives.
func (m *Mapper) ManagedLicenses() []string {
	var out []string
	for _, r := range m.cfg.Roles {
		out = append(out, r.Licenses...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ManagedAdminRoles returns every admin role some role gives.
func (m *Mapper) ManagedAdminRoles() []string {
	var out []string
	for _, r := range m.cfg.Roles {
		out = append(out, r.AdminRoles...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Map returns one account per user of the snapshot, in the snapshot's order.
func (m *Mapper) Map(snap *directory.Snapshot) []plan.Account {
	out := make([]plan.Account, len(snap.Users))
	sets := map[string][2][]string{} // one slice per role set, shared by its holders
	for i := range snap.Users {
		out[i] = m.account(&snap.Users[i], &snap.App, sets)
	}
	return out
}

func (m *Mapper) account(u *directory.User, app *directory.App, sets map[string][2][]string) plan.Account {
	a := plan.Account{EntraID: u.ID, UPN: u.UserPrincipalName}
	if a.OutOfScope = m.outOfScope(u); a.OutOfScope != "" {
		return a
	}
	env := &Env{User: u, App: app}
	var failed string // why a mapping cannot be evaluated for u, the first in field order
	for _, f := range plan.AllFields() {
		e, ok := m.cfg.Fields[f]
		if !ok {
			continue
		}
		v, err := e.EvalEnv(env)
		if err == nil && f == plan.FieldEmail && e.Unique() {
			a.EmailCandidates, err = e.Candidates(env)
		}
		if err != nil {
			if failed == "" {
				failed = evalFailure(f, err)
			}
			continue
		}
		a.Profile.Set(f, v)
	}
	a.Defaults = m.defaults
	for _, attr := range m.cfg.Matching {
		if v := strings.TrimSpace(u.Attr(attr)); v != "" && !slices.Contains(a.MatchEmails, v) {
			a.MatchEmails = append(a.MatchEmails, v)
		}
	}
	lic, roles, skip := m.roles(u, app, sets)
	if skip != "" {
		a.Skip = skip
		return a
	}
	a.Licenses, a.AdminRoles = lic, roles
	if failed != "" {
		a.Skip = failed
		return a
	}
	a.Skip = m.checkProfile(&a.Profile)
	return a
}

// evalFailure is the skip reason for a mapping that cannot be evaluated
// for a person: a value over a limit, or an argument refused.
func evalFailure(f plan.Field, err error) string {
	return fmt.Sprintf("mapping.%s cannot be evaluated for this user: %v", f, err)
}

// outOfScope says why u is out of scope, or "", in the order Entra's
// provisioning decides: not assigned (a full read never returns such a
// user; an on-demand read does), disabled, then the scoping filters.
func (m *Mapper) outOfScope(u *directory.User) string {
	if len(u.Assignments) == 0 {
		if len(u.NestedOnly) > 0 {
			return fmt.Sprintf("not assigned to the app: only nested in %s, and entra.nested_groups is off", strings.Join(u.NestedOnly, ", "))
		}
		return "not assigned to the app, directly or through an assigned group"
	}
	if !u.AccountEnabled {
		return "account disabled in Entra (accountEnabled is false)"
	}
	if len(m.cfg.Scope) == 0 {
		return ""
	}
	var why []string
	for _, f := range m.cfg.Scope {
		failed, ok := f.Failing(u)
		if ok {
			return ""
		}
		why = append(why, fmt.Sprintf("scope filter %s (%s)", f.Name, failed))
	}
	return "filtered out by " + strings.Join(why, "; and by ")
}

// roles returns the union of what the user's mapped app roles give, or why
// none applies.
func (m *Mapper) roles(u *directory.User, app *directory.App, sets map[string][2][]string) (lic, admin []string, skip string) {
	var names, unmapped []string
	for _, as := range u.Assignments {
		name, ok := m.lookupRole(as.AppRoleID, app)
		if ok {
			names = append(names, name)
			continue
		}
		label := as.AppRoleID
		if as.AppRoleID == directory.DefaultAccessRoleID {
			label = "Default Access (" + as.AppRoleID + ")"
		} else if v := app.RoleValue(as.AppRoleID); v != "" {
			label = fmt.Sprintf("%s (%s)", v, as.AppRoleID)
		}
		if !slices.Contains(unmapped, label) {
			unmapped = append(unmapped, label)
		}
	}
	if len(names) == 0 {
		if len(unmapped) == 0 {
			return nil, nil, "no app role assignment was read"
		}
		if len(unmapped) == 1 && strings.HasPrefix(unmapped[0], "Default Access") {
			return nil, nil, fmt.Sprintf("assigned only Default Access (%s), which the configuration does not map; assign the User or Admin role in Entra, or map it under roles",
				directory.DefaultAccessRoleID)
		}
		return nil, nil, fmt.Sprintf("assigned only with app roles the configuration does not map: %s; add them under roles, or assign a mapped role",
			strings.Join(unmapped, ", "))
	}
	slices.Sort(names)
	names = slices.Compact(names)
	key := strings.Join(names, "\x00")
	if s, ok := sets[key]; ok {
		return s[0], s[1], ""
	}
	for _, n := range names {
		lic = append(lic, m.cfg.Roles[n].Licenses...)
		admin = append(admin, m.cfg.Roles[n].AdminRoles...)
	}
	slices.Sort(lic)
	slices.Sort(admin)
	lic, admin = slices.Compact(lic), slices.Compact(admin)
	if len(admin) == 0 {
		admin = nil
	}
	sets[key] = [2][]string{lic, admin}
	return lic, admin, ""
}

// lookupRole finds the configured role for an assignment's role id: by id
// first, then by the role's value.
// UnknownRoles returns the configured roles that name no app role of app,
// by value or id (Default Access aside), sorted: people assigned the role
// meant would be skipped, all of them, without an error.
func (m *Mapper) UnknownRoles(app directory.App) []string {
	var out []string
	for name := range m.cfg.Roles {
		if name == directory.DefaultAccessRoleID || slices.ContainsFunc(app.Roles, func(r directory.AppRole) bool { return r.ID == name || r.Value == name }) {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (m *Mapper) lookupRole(id string, app *directory.App) (string, bool) {
	if _, ok := m.cfg.Roles[id]; ok {
		return id, true
	}
	if v := app.RoleValue(id); v != "" {
		if _, ok := m.cfg.Roles[v]; ok {
			return v, true
		}
	}
	return "", false
}

// checkProfile says why a mapped profile cannot be sent to GoTo, or "".
func (m *Mapper) checkProfile(p *plan.Profile) string {
	if p.Email == "" {
		return fmt.Sprintf("no email: mapping.email (%s) is empty for this user", m.cfg.Fields[plan.FieldEmail])
	}
	if addr, err := mail.ParseAddress(p.Email); err != nil || addr.Address != p.Email {
		return fmt.Sprintf("email %q is not a valid address", p.Email)
	}
	for _, f := range []plan.Field{plan.FieldFirstName, plan.FieldLastName} {
		if e, ok := m.cfg.Fields[f]; ok && p.Get(f) == "" && m.cfg.Defaults[f] == "" {
			return fmt.Sprintf("no %s: mapping.%s (%s) is empty for this user; add a fallback such as %s ?? \"-\"", f, f, e, e)
		}
	}
	return ""
}
