package app

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/directory"
)

// noDirectory is a directory no test reads: Mappings reads only the
// configuration.
type noDirectory struct{ Directory }

func mappingsService(t *testing.T, yaml string) *Service {
	t.Helper()
	cfg, err := config.Parse([]byte(`
entra:
  tenant_id: 8f0e6b1a-1c1d-4d1e-9f00-000000000001
  client_id: 8f0e6b1a-1c1d-4d1e-9f00-000000000002
  service_principal_id: 8f0e6b1a-1c1d-4d1e-9f00-000000000003
goto:
  account_key: "4200000000000000001"
  client_id: goto-client
`+yaml), []string{"G2MSYNC_ENTRA_CLIENT_SECRET=entra-s3cret", "G2MSYNC_GOTO_CLIENT_SECRET=goto-s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMapper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, Deps{Directory: noDirectory{}, Mapper: m})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMappingsInForce(t *testing.T) {
	s := mappingsService(t, `
roles:
  User: { licenses: ["5100000000000000000001"] }
  Admin: { licenses: ["5100000000000000000001", "5100000000000000000002"], admin_roles: [MANAGE_USERS] }
mapping:
  email: mail ?? userPrincipalName
  firstName: { expr: givenName, apply: on_create, default: "-" }
  lastName: surname
matching: [userPrincipalName]
scope:
  filters:
    - name: staff
      clauses: [{ attribute: department, op: not_equals, value: Support }, { attribute: employeeId, op: is_not_empty }]
safety: { max_disables: 10, max_disables_percent: 5 }
`)
	m, err := s.Mappings()
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, f := range m.Fields {
		fields = append(fields, f.Field+"="+f.Expression)
	}
	if !slices.Equal(fields, []string{"email=mail ?? userPrincipalName", "firstName=givenName", "lastName=surname"}) || !m.Fields[1].CreateOnly || m.Fields[1].Default != "-" {
		t.Errorf("fields %v %+v", fields, m.Fields)
	}
	if len(m.Scope) != 1 || !slices.Equal(m.Scope[0].Clauses, []string{`department NOT EQUALS "Support"`, "employeeId IS NOT NULL"}) {
		t.Errorf("scope %+v", m.Scope)
	}
	if len(m.Roles) != 2 || m.Roles[0].Role != "Admin" || !slices.Equal(m.Roles[0].AdminRoles, []string{"MANAGE_USERS"}) {
		t.Errorf("roles %+v", m.Roles)
	}
	if !slices.Equal(m.Matching, []string{"userPrincipalName"}) || m.MaxDisables != 10 || m.MaxDisablesPercent != 5 || m.Mode != "sync" {
		t.Errorf("matching %v, policy %+v", m.Matching, m.Policy)
	}
}

// An operator's --set is checked as loading checks it, within the
// expression language's limits, and changes nothing of the configuration
// in force.
func TestWithMappingSets(t *testing.T) {
	s := mappingsService(t, "roles:\n  User: { licenses: [\"5100000000000000000001\"] }\n")
	cfg := s.Config()
	for _, tc := range []struct{ set, want string }{
		{"firstName", "want FIELD=EXPRESSION"},
		{"=givenName", "want FIELD=EXPRESSION"},
		{"password=givenName", "mapping.password"},
		{"firstName=" + strings.Repeat("Trim(", 40) + "[givenName]" + strings.Repeat(")", 40), "mapping.firstName"},
		{"firstName=" + strings.Repeat("x", 5000), "mapping.firstName"},
	} {
		if _, err := WithMappingSets(cfg, []string{tc.set}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %.40q: %v, want %q", tc.set, err, tc.want)
		}
	}
	out, err := WithMappingSets(cfg, []string{"firstName=Left([givenName], 1)"})
	if err != nil || out.Mapping["firstName"].Expr != "Left([givenName], 1)" || cfg.Mapping["firstName"].Expr != "givenName" {
		t.Errorf("set: %v, tried %q, in force %q", err, out.Mapping["firstName"].Expr, cfg.Mapping["firstName"].Expr)
	}
	// With no reader for more attributes, a test that needs one is refused.
	if _, err := s.MappingTest(context.Background(), []string{"a@b"}, []string{"firstName=[department]"}); err == nil || !strings.Contains(err.Error(), "department") {
		t.Errorf("mapping test reading department: %v", err)
	}
}

var _ directory.Finder = noDirectory{}

// TestOneCycleKeepsNothingForANext: a Service that runs one cycle (`run
// --once`) keeps no picture, records or mapped accounts for a next one;
// the mapped accounts pointed into the snapshot, which they held through
// the cycle's calls. The daemon's keeps all three.
func TestOneCycleKeepsNothingForANext(t *testing.T) {
	s := mappingsService(t, `
roles:
  User: { licenses: ["5100000000000000000001"] }
`)
	e := s.engine(nil, false)
	if e.Pictures == nil || e.Records == nil || e.Mapped == nil {
		t.Fatalf("the daemon's engine keeps pictures %v, records %v, mapped accounts %v; want all three", e.Pictures != nil, e.Records != nil, e.Mapped != nil)
	}
	s.KeepPictures(false)
	e = s.engine(nil, false)
	if e.Pictures != nil || e.Records != nil || e.Mapped != nil {
		t.Errorf("one cycle's engine keeps pictures %v, records %v, mapped accounts %v; want none", e.Pictures != nil, e.Records != nil, e.Mapped != nil)
	}
	s.KeepPictures(true)
	if e = s.engine(nil, false); e.Mapped == nil {
		t.Error("kept again: no mapped accounts kept")
	}
}
