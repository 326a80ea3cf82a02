package config

import (
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/mapping"
	"github.com/g2msync/g2msync/pkg/plan"
)

// MappingConfig returns the validated mapping configuration.
func (c *Config) MappingConfig() mapping.Config {
	mc := mapping.Config{Fields: map[plan.Field]mapping.Expr{}, Matching: c.Matching, Roles: map[string]mapping.Role{}}
	for name, m := range c.Mapping {
		f, ok := plan.ParseField(name)
		if !ok {
			continue // validate reported it
		}
		if e, err := mapping.Parse(m.Expr); err == nil {
			mc.Fields[f] = e
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

// PlanPolicy returns the planner's policy. The managed licence and role lists
// come from the mapper, which knows every role.
func (c *Config) PlanPolicy(m *mapping.Mapper) plan.Policy {
	pol := plan.Policy{
		Mode:               plan.Mode(c.Policy),
		Deprovision:        plan.Deprovision(c.Deprovision),
		DisableSuperUsers:  c.Safety.DisableSuperUsers,
		MaxDisables:        c.Safety.MaxDisables,
		MaxDisablesPercent: c.Safety.MaxDisablesPercent,
		ManagedLicenses:    m.ManagedLicenses(),
		ManagedAdminRoles:  m.ManagedAdminRoles(),
	}
	for name, fm := range c.Mapping {
		if f, ok := plan.ParseField(name); ok && fm.CreateOnly {
			pol.CreateOnly = append(pol.CreateOnly, f)
		}
	}
	return pol
}

// RetryPolicy returns the engine's back-off and quarantine of failed changes.
func (c *Config) RetryPolicy() engine.RetryPolicy {
	q := c.Safety.QuarantineAfter
	if q == 0 {
		q = -1 // 0 in the configuration means never
	}
	return engine.RetryPolicy{Base: c.Safety.RetryBackoff.D(), QuarantineAfter: q}
}
