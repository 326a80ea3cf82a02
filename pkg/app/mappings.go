package app

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/mapping"
)

// Mappings are the rules in force, as the running configuration holds
// them: the console's mappings page, beside the portal's "Attribute
// mappings" and "Scope" blades.
type Mappings struct {
	// Fields are the GoTo fields and the expression each is mapped from,
	// in GoTo's field order.
	Fields []MappingField
	// Matching are the attributes an Entra user without a GoTo account is
	// matched on, first to last, against existing accounts' addresses.
	Matching []string
	// Scope are the scoping filters: a person is in scope when any filter
	// holds, and a filter holds when all its clauses do. None: everyone
	// assigned is in scope.
	Scope []ScopeFilter
	// NestedGroups says whether members of groups nested in assigned
	// groups are in scope (Entra itself does not expand them).
	NestedGroups bool
	// Roles map each app role to the licences and admin roles its holders
	// get; a person with several roles gets the union.
	Roles []MappedRole
	Policy
	// Attributes are the Entra attributes these rules read.
	Attributes []string
}

// MappingField is one GoTo field's mapping.
type MappingField struct {
	Field, Expression string
	// CreateOnly: the value is sent when the account is created, never
	// updated after (apply: on_create).
	CreateOnly bool
	// Default is what a create sends when the expression gives nothing.
	Default string
}

// ScopeFilter is one scoping filter; its clauses read as Entra writes them
// (department NOT EQUALS "Support").
type ScopeFilter struct {
	Name    string
	Clauses []string
}

// MappedRole is what holders of one app role get in GoTo.
type MappedRole struct {
	Role                 string
	Licenses, AdminRoles []string
}

// Policy is what provisioning may do, and the safety thresholds.
type Policy struct {
	// Mode is sync, create-update or create-only; Deprovision is how an
	// account leaves (disable or delete).
	Mode, Deprovision string
	// MaxDisables and MaxDisablesPercent stage the disables of a cycle
	// that exceeds them; DisableSuperUsers lets SUPER_USER accounts be
	// deprovisioned.
	MaxDisables        int
	MaxDisablesPercent float64
	DisableSuperUsers  bool
}

// mappingFields is GoTo's field order.
var mappingFields = []string{"email", "firstName", "lastName", "locale", "timeZone"}

// Mappings returns the rules in force.
func (s *Service) Mappings() (*Mappings, error) {
	if s.rt == nil {
		return nil, errNoRuntime
	}
	c := s.rt.cfg
	m := &Mappings{Matching: c.Matching, NestedGroups: c.Entra.NestedGroups, Attributes: s.rt.mapper.Attributes(),
		Policy: Policy{Mode: c.Policy, Deprovision: c.Deprovision, MaxDisables: c.Safety.MaxDisables,
			MaxDisablesPercent: c.Safety.MaxDisablesPercent, DisableSuperUsers: c.Safety.DisableSuperUsers}}
	if len(m.Matching) == 0 {
		m.Matching = mapping.DefaultMatching()
	}
	for _, f := range mappingFields {
		if fm, ok := c.Mapping[f]; ok {
			m.Fields = append(m.Fields, MappingField{Field: f, Expression: fm.Expr, CreateOnly: fm.CreateOnly, Default: fm.Default})
		}
	}
	for _, f := range c.Scope.Filters {
		sf := ScopeFilter{Name: f.Name}
		for _, cl := range f.Clauses {
			op, _ := mapping.ParseOp(cl.Op)
			text := cl.Attribute + " " + string(op)
			if cl.Value != "" {
				text += fmt.Sprintf(" %q", cl.Value)
			}
			sf.Clauses = append(sf.Clauses, text)
		}
		m.Scope = append(m.Scope, sf)
	}
	for name, r := range c.Roles {
		m.Roles = append(m.Roles, MappedRole{Role: name, Licenses: r.Licenses, AdminRoles: r.AdminRoles})
	}
	slices.SortFunc(m.Roles, func(a, b MappedRole) int { return strings.Compare(a.Role, b.Role) })
	return m, nil
}

// WithMappingSets returns a copy of cfg whose mappings --set FIELD=EXPR
// replaced (each field keeps its apply and default), checked as loading
// checks them: an expression is parsed within pkg/mapping's limits of
// length and depth, and evaluated later within its limits of size.
func WithMappingSets(cfg *config.Config, sets []string) (*config.Config, error) {
	if len(sets) == 0 {
		return cfg, nil
	}
	out := *cfg
	m := make(map[string]config.FieldMapping, len(cfg.Mapping))
	for k, v := range cfg.Mapping {
		m[k] = v
	}
	for _, s := range sets {
		field, expr, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(field) == "" {
			return nil, fmt.Errorf("--set %q: want FIELD=EXPRESSION, e.g. --set 'firstName=Left([givenName], 1)'", s)
		}
		field = strings.TrimSpace(field)
		fm := m[field]
		fm.Expr = expr
		m[field] = fm
	}
	out.Mapping = m
	if err := out.CheckMapping(); err != nil {
		return nil, fmt.Errorf("--set: %w", err)
	}
	return &out, nil
}

// MappingTest is `g2msync mapping test [--set FIELD=EXPR] USER...` on the
// running configuration: a dry run of the people named, with the mappings
// sets replace. It changes nothing. When the expressions read attributes
// the running configuration does not fetch, the people are read again for
// them (Deps.FinderFor), or the test is refused when it cannot be.
func (s *Service) MappingTest(ctx context.Context, queries, sets []string) (*OnDemandReport, error) {
	if s.rt == nil {
		return nil, errNoRuntime
	}
	if len(sets) == 0 {
		return s.OnDemand(ctx, queries, OnDemandOptions{DryRun: true})
	}
	cfg, err := WithMappingSets(s.rt.cfg, sets)
	if err != nil {
		return nil, err
	}
	m, err := NewMapper(cfg)
	if err != nil {
		return nil, err
	}
	var finder directory.Finder = s.rt.dir
	if more := missing(m.Attributes(), s.rt.mapper.Attributes()); len(more) > 0 {
		if s.rt.finderFor == nil {
			return nil, fmt.Errorf("the expressions read %s, which the running configuration does not read from Entra; try them with `g2msync mapping test --set` on the command line", strings.Join(more, ", "))
		}
		if finder, err = s.rt.finderFor(m.Attributes()); err != nil {
			return nil, err
		}
	}
	return s.onDemand(ctx, queries, OnDemandOptions{DryRun: true}, onDemandRules{mapper: m, cfg: cfg, finder: finder})
}

// missing returns the attributes of want that have lacks.
func missing(want, have []string) []string {
	var out []string
	for _, a := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, a) }) {
			out = append(out, a)
		}
	}
	return out
}
