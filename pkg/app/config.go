package app

// This file turns the validated configuration into the inputs of the
// mapper, the planner and the state file: pkg/config imports none of them.

import (
	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/mapping"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// mappingConfig returns the validated mapping configuration.
func mappingConfig(c *config.Config) mapping.Config {
	mc := mapping.Config{Fields: map[plan.Field]mapping.Expr{}, Defaults: map[plan.Field]string{}, Matching: c.Matching, Roles: map[string]mapping.Role{}}
	for name, m := range c.Mapping {
		f, ok := plan.ParseField(name)
		if !ok {
			continue // validate reported it
		}
		if e, err := mapping.Parse(m.Expr); err == nil {
			mc.Fields[f] = e
		}
		if m.Default != "" {
			mc.Defaults[f] = m.Default
		}
	}
	for name, r := range c.Roles {
		mc.Roles[name] = mapping.Role{Licenses: r.Licenses, AdminRoles: r.AdminRoles}
	}
	for _, f := range c.Scope.Filters {
		mf := mapping.Filter{Name: f.Name}
		for _, cl := range f.Clauses {
			if mcl, err := mapping.NewClause(cl.Attribute, mapping.Op(cl.Op), cl.Value); err == nil {
				mf.Clauses = append(mf.Clauses, mcl)
			}
		}
		mc.Scope = append(mc.Scope, mf)
	}
	return mc
}

// planPolicy returns the planner's policy. The managed licence and role lists
// come from the mapper, which knows every role.
func policy(c *config.Config, m *mapping.Mapper) plan.Policy {
	pol := plan.Policy{
		Mode:               plan.Mode(c.Policy),
		Deprovision:        plan.Deprovision(c.Deprovision),
		DisableSuperUsers:  c.Safety.DisableSuperUsers,
		MaxDisables:        c.Safety.MaxDisables,
		MaxDisablesPercent: c.Safety.MaxDisablesPercent,
		ManagedLicenses:    m.ManagedLicenses(),
		ManagedAdminRoles:  m.ManagedAdminRoles(),
		Retry:              retryPolicy(c),
		Drift:              plan.DriftPolicy(c.GoTo.Drift),
	}
	for name, fm := range c.Mapping {
		if f, ok := plan.ParseField(name); ok && fm.CreateOnly {
			pol.CreateOnly = append(pol.CreateOnly, f)
		}
	}
	return pol
}

// retryPolicy returns the planner's back-off and quarantine of failed changes.
func retryPolicy(c *config.Config) plan.RetryPolicy {
	q := c.Safety.QuarantineAfter
	if q == 0 {
		q = -1 // 0 in the configuration means never
	}
	return plan.RetryPolicy{Base: c.Safety.RetryBackoff.D(), QuarantineAfter: q}
}

// Binding is the setup a state file belongs to: a file of another tenant,
// app or GoTo account is refused rather than provisioned from.
func Binding(cfg *config.Config) *state.Binding {
	app := cfg.Entra.ServicePrincipalID
	if app == "" {
		app = "appId:" + cfg.Entra.AppID
	}
	return &state.Binding{TenantID: cfg.Entra.TenantID, App: app, GoToAccount: cfg.GoTo.AccountKey}
}
