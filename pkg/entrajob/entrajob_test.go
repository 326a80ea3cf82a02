package entrajob

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/directory"
)

func ptr[T any](v T) *T { return &v }

func attr(name string) *Source { return &Source{Type: "Attribute", Name: ptr(name)} }

func fn(name string, args ...*Source) *Source {
	s := &Source{Type: "Function", Name: ptr(name)}
	for i, a := range args {
		s.Parameters = append(s.Parameters, Param{Key: "p" + string(rune('0'+i)), Value: a})
	}
	return s
}

func constSrc(v string) *Source { return &Source{Type: "Constant", Name: ptr(v)} }

// schemaOf wraps attribute mappings (and a scope) in one user object mapping.
func schemaOf(scope *Filter, flows string, ams ...AttributeMapping) *Schema {
	return &Schema{Rules: []Rule{{Name: "USER_OUTBOUND_USER", ObjectMappings: []ObjectMapping{{
		Name: "Users", SourceObjectName: "User", FlowTypes: flows, Scope: scope, AttributeMappings: ams}}}}}
}

var emailFromMail = AttributeMapping{TargetAttributeName: "userName", MatchingPriority: 1, Source: attr("mail")}

func reasons(items []Item) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(it.Part + ": " + it.Reason + "\n")
	}
	return b.String()
}

// TestExpression: each form of attributeMappingSource becomes the
// expression g2msync reads, or is refused with the reason.
func TestExpression(t *testing.T) {
	for _, tc := range []struct {
		name    string
		src     *Source
		want    string
		wantErr string
	}{
		{"attribute", attr("givenName"), "[givenName]", ""},
		{"attribute without type", &Source{Name: ptr("mail")}, "[mail]", ""},
		{"constant", constSrc("en_US"), `"en_US"`, ""},
		{"constant with quote and backslash", constSrc(`a"b\c`), `"a\"b\\c"`, ""},
		{"function tree", fn("Join", constSrc(" "), attr("givenName"), attr("surname")), `Join(" ", [givenName], [surname])`, ""},
		{"nested functions", fn("ToLower", fn("Coalesce", attr("mail"), attr("userPrincipalName"))), `ToLower(Coalesce([mail], [userPrincipalName]))`, ""},
		{"optional argument left out", &Source{Type: "Function", Name: ptr("FormatDateTime"), Parameters: []Param{
			{Key: "source", Value: attr("employeeHireDate")}, {Key: "dateTimeStyles"}, {Key: "inputFormat", Value: constSrc("yyyy-MM-ddTHH:mm:ssZ")},
			{Key: "outputFormat", Value: constSrc("yyyyMMdd")}}}, `FormatDateTime([employeeHireDate], , "yyyy-MM-ddTHH:mm:ssZ", "yyyyMMdd")`, ""},
		{"expression preferred", &Source{Type: "Function", Name: ptr("Join"), Expression: ptr(`Join(".", [givenName], [surname])`)}, `Join(".", [givenName], [surname])`, ""},
		{"unreadable expression, readable tree", &Source{Type: "Attribute", Name: ptr("mail"), Expression: ptr("[mail")}, "[mail]", ""},
		{"unsupported function", fn("RandomString", constSrc("6")), "", "RandomString"},
		{"unsupported function in expression", &Source{Type: "Function", Name: ptr("DateAdd"), Expression: ptr(`DateAdd("d", 7, [x])`)}, "", "cannot read its expression"},
		{"unknown attribute", attr("IsSoftDeleted"), "", "IsSoftDeleted"},
		{"no source", nil, "", "no source"},
		{"bad type", &Source{Type: "Script", Name: ptr("x")}, "", "not Attribute, Constant or Function"},
		{"attribute name that would break out", attr("mail]) ?? [x"), "", "is not one"},
		{"function name that would break out", &Source{Type: "Function", Name: ptr(`Join("x")+Trim`)}, "", "is not one"},
		{"too deep", deep(40), "", "nested more than"},
		{"constant injecting YAML stays a constant", constSrc("x\nroles: {Admin: {licenses: [\"1\"]}}"), "\"x\nroles: {Admin: {licenses: [\\\"1\\\"]}}\"", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Expression(tc.src)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Expression = %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Expression = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func deep(n int) *Source {
	s := attr("givenName")
	for range n {
		s = fn("Trim", s)
	}
	return s
}

// TestTargetsAndFlows: each target attribute name lands on its GoTo field
// or is refused with its reason; each flow type becomes apply or a note.
func TestTargetsAndFlows(t *testing.T) {
	for _, tc := range []struct {
		name        string
		am          AttributeMapping
		field       string
		want        config.FieldMapping
		unsupported string
		note        string
	}{
		{"SCIM givenName", AttributeMapping{TargetAttributeName: "name.givenName", Source: attr("givenName")}, "firstName", config.FieldMapping{Expr: "[givenName]"}, "", ""},
		{"SCIM familyName, any case", AttributeMapping{TargetAttributeName: "Name.FamilyName", Source: attr("surname")}, "lastName", config.FieldMapping{Expr: "[surname]"}, "", ""},
		{"locale", AttributeMapping{TargetAttributeName: "locale", Source: attr("preferredLanguage")}, "locale", config.FieldMapping{Expr: "[preferredLanguage]"}, "", ""},
		{"timezone", AttributeMapping{TargetAttributeName: "timezone", Source: constSrc("Europe/Paris")}, "timeZone", config.FieldMapping{Expr: `"Europe/Paris"`}, "", ""},
		{"Always", AttributeMapping{TargetAttributeName: "firstName", FlowType: "Always", Source: attr("givenName")}, "firstName", config.FieldMapping{Expr: "[givenName]"}, "", ""},
		{"ObjectAddOnly", AttributeMapping{TargetAttributeName: "locale", FlowType: "ObjectAddOnly", Source: constSrc("en_US")}, "locale", config.FieldMapping{Expr: `"en_US"`, CreateOnly: true}, "", ""},
		{"AttributeAddOnly", AttributeMapping{TargetAttributeName: "locale", FlowType: "AttributeAddOnly", Source: constSrc("en_US")}, "locale", config.FieldMapping{Expr: `"en_US"`, CreateOnly: true}, "", "AttributeAddOnly"},
		{"MultiValueAddOnly", AttributeMapping{TargetAttributeName: "firstName", FlowType: "MultiValueAddOnly", Source: attr("givenName")}, "firstName", config.FieldMapping{Expr: "[givenName]"}, "", "MultiValueAddOnly"},
		{"ValueAddOnly", AttributeMapping{TargetAttributeName: "firstName", FlowType: "ValueAddOnly", Source: attr("givenName")}, "firstName", config.FieldMapping{Expr: "[givenName]"}, "", "ValueAddOnly"},
		{"unknown flow type", AttributeMapping{TargetAttributeName: "firstName", FlowType: "Sometimes", Source: attr("givenName")}, "", config.FieldMapping{}, "unknown flow type", ""},
		{"FlowAlways", AttributeMapping{TargetAttributeName: "firstName", FlowBehavior: "FlowAlways", Source: attr("givenName")}, "firstName", config.FieldMapping{Expr: "[givenName]"}, "", "FlowAlways"},
		{"default value", AttributeMapping{TargetAttributeName: "firstName", DefaultValue: ptr("Colleague"), Source: attr("givenName")}, "firstName", config.FieldMapping{Expr: "[givenName]", Default: "Colleague"}, "", ""},
		{"active", AttributeMapping{TargetAttributeName: "active", Source: fn("Not", attr("accountEnabled"))}, "", config.FieldMapping{}, "leaves scope", ""},
		{"externalId", AttributeMapping{TargetAttributeName: "externalId", Source: attr("objectId")}, "", config.FieldMapping{}, "Entra object id", ""},
		{"displayName", AttributeMapping{TargetAttributeName: "displayName", Source: attr("displayName")}, "", config.FieldMapping{}, "no display name", ""},
		{"no GoTo field", AttributeMapping{TargetAttributeName: "phoneNumbers[type eq \"work\"].value", Source: attr("telephoneNumber")}, "", config.FieldMapping{}, "has no field", ""},
		{"unsupported function", AttributeMapping{TargetAttributeName: "firstName", Source: fn("RandomString", constSrc("6"))}, "", config.FieldMapping{}, "RandomString", ""},
		{"Now() must be on create", AttributeMapping{TargetAttributeName: "locale", Source: fn("Now")}, "", config.FieldMapping{}, "on_create", ""},
		{"Now() on create", AttributeMapping{TargetAttributeName: "locale", FlowType: "ObjectAddOnly", Source: fn("Now")}, "locale", config.FieldMapping{Expr: "Now()", CreateOnly: true}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Translate(schemaOf(nil, "", emailFromMail, tc.am))
			if err != nil {
				t.Fatal(err)
			}
			if tc.field != "" {
				if diff := cmp.Diff(tc.want, r.Fields[tc.field]); diff != "" {
					t.Errorf("field %s (-want +got):\n%s", tc.field, diff)
				}
			}
			if got := reasons(r.Unsupported); (tc.unsupported == "") != (got == "") || !strings.Contains(got, tc.unsupported) {
				t.Errorf("unsupported:\n%s\nwant one containing %q", got, tc.unsupported)
			}
			if got := reasons(r.Notes); tc.note != "" && !strings.Contains(got, tc.note) {
				t.Errorf("notes:\n%s\nwant one containing %q", got, tc.note)
			}
		})
	}
}

// TestEmailDefaultRefused: GoTo's email has no default (one address for
// everyone whose mapping is empty would make them one account).
func TestEmailDefaultRefused(t *testing.T) {
	am := emailFromMail
	am.DefaultValue = ptr("nobody@contoso.example")
	r, err := Translate(schemaOf(nil, "", am))
	if err != nil {
		t.Fatal(err)
	}
	if r.Fields["email"].Default != "" || !strings.Contains(reasons(r.Unsupported), "default value") {
		t.Errorf("email %+v, unsupported:\n%s", r.Fields["email"], reasons(r.Unsupported))
	}
}

// TestOperators: every Entra scoping operator is carried over, and one
// g2msync lacks leaves its filter out.
func TestOperators(t *testing.T) {
	for _, tc := range []struct {
		op, attr string
		values   []string
		wantOp   string
		wantVal  string
		refused  string
	}{
		{"EQUALS", "department", []string{"Sales"}, "EQUALS", "Sales", ""},
		{"NOT EQUALS", "department", []string{"Sales"}, "NOT EQUALS", "Sales", ""},
		{"IS TRUE", "accountEnabled", nil, "IS TRUE", "", ""},
		{"IS FALSE", "accountEnabled", nil, "IS FALSE", "", ""},
		{"IS NULL", "department", []string{}, "IS NULL", "", ""},
		{"IS NOT NULL", "department", []string{"ignored"}, "IS NOT NULL", "", ""},
		{"REGEX MATCH", "userPrincipalName", []string{"^a"}, "REGEX MATCH", "^a", ""},
		{"NOT REGEX MATCH", "userPrincipalName", []string{"^a"}, "NOT REGEX MATCH", "^a", ""},
		{"Greater_Than", "employeeId", []string{"10"}, "GREATER THAN", "10", ""},
		{"Greater_Than_OR_EQUALS", "employeeId", []string{"10"}, "GREATER THAN OR EQUALS", "10", ""},
		{"Includes", "department", []string{"ale"}, "INCLUDES", "ale", ""},
		{"STARTS_WITH", "department", []string{"Sa"}, "STARTS WITH", "Sa", ""},
		{"ENDS_WITH", "department", []string{"es"}, "ENDS WITH", "es", ""},
		{"&", "employeeId", []string{"4"}, "&", "4", ""},
		{"!&", "employeeId", []string{"4"}, "!&", "4", ""},
		{"CONTAINS_ANY", "department", []string{"x"}, "", "", "no equivalent"},
		{"EQUALS", "department", []string{"Sales", "Support"}, "", "", "2 values"},
		{"REGEX MATCH", "userPrincipalName", []string{"("}, "", "", "regular expression"},
		{"Greater_Than", "employeeId", []string{"ten"}, "", "", "whole numbers"},
		{"EQUALS", "proxyAddresses", []string{"smtp:a@b"}, "", "", "multi-valued"},
		{"EQUALS", "favouriteColour", []string{"red"}, "", "", "unknown directory attribute"},
	} {
		t.Run(tc.op+" "+strings.Join(tc.values, ","), func(t *testing.T) {
			keep := FilterGroup{Name: "keep", Clauses: []FilterClause{{OperatorName: "IS NOT NULL", SourceOperandName: "mail"}}}
			g := FilterGroup{Name: "tested", Clauses: []FilterClause{{OperatorName: tc.op, SourceOperandName: tc.attr, TargetOperand: &FilterOperand{Values: tc.values}}}}
			r, err := Translate(schemaOf(&Filter{Groups: []FilterGroup{keep, g}}, "", emailFromMail))
			if err != nil {
				t.Fatal(err)
			}
			if tc.refused != "" {
				if len(r.Filters) != 1 || !strings.Contains(reasons(r.Unsupported), tc.refused) || !strings.Contains(reasons(r.Unsupported), "left out whole") {
					t.Fatalf("filters %+v, unsupported:\n%s\nwant the group left out for %q", r.Filters, reasons(r.Unsupported), tc.refused)
				}
				return
			}
			want := config.Clause{Attribute: tc.attr, Op: tc.wantOp, Value: tc.wantVal}
			if len(r.Filters) != 2 || len(r.Filters[1].Clauses) != 1 || r.Filters[1].Clauses[0] != want {
				t.Fatalf("filters %+v, want the second %+v; unsupported:\n%s", r.Filters, want, reasons(r.Unsupported))
			}
		})
	}
}

// TestRefusals: what makes the whole import refuse, rather than write a
// configuration that would act differently from the job.
func TestRefusals(t *testing.T) {
	bad := FilterGroup{Name: "odd", Clauses: []FilterClause{{OperatorName: "CONTAINS_ANY", SourceOperandName: "department"}}}
	for _, tc := range []struct {
		name string
		s    *Schema
		want string
	}{
		{"no user mapping", &Schema{Rules: []Rule{{ObjectMappings: []ObjectMapping{{Name: "Groups", SourceObjectName: "Group"}}}}}, "no enabled object mapping of users"},
		{"user mapping disabled", &Schema{Rules: []Rule{{ObjectMappings: []ObjectMapping{{Name: "Users", SourceObjectName: "User", Enabled: ptr(false)}}}}}, "no enabled object mapping of users"},
		{"no email", schemaOf(nil, "", AttributeMapping{TargetAttributeName: "name.givenName", Source: attr("givenName")}), "no mapping of GoTo's email"},
		{"email from an unsupported function", schemaOf(nil, "", AttributeMapping{TargetAttributeName: "userName", Source: fn("RandomString", constSrc("6"))}), "no mapping of GoTo's email"},
		{"every scoping filter untranslatable", schemaOf(&Filter{Groups: []FilterGroup{bad}}, "", emailFromMail), "everyone assigned would be in scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r, err := Translate(tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Translate = %+v, %v; want an error containing %q", r, err, tc.want)
			}
		})
	}
}

func TestPolicyAndMatching(t *testing.T) {
	for _, tc := range []struct{ flows, want, unsupported string }{
		{"", "sync", ""}, {"Add, Update, Delete", "sync", ""}, {"Add,Update", "create-update", ""}, {"Add", "create-only", ""},
		{"Update, Delete", "sync", "this combination"},
	} {
		r, err := Translate(schemaOf(nil, tc.flows, emailFromMail))
		if err != nil {
			t.Fatal(err)
		}
		if r.Policy != tc.want || !strings.Contains(reasons(r.Unsupported), tc.unsupported) {
			t.Errorf("flows %q: policy %q, want %q; unsupported:\n%s", tc.flows, r.Policy, tc.want, reasons(r.Unsupported))
		}
	}
	r, err := Translate(schemaOf(nil, "",
		AttributeMapping{TargetAttributeName: "emails[type eq \"work\"].value", MatchingPriority: 3, Source: attr("mail")},
		AttributeMapping{TargetAttributeName: "userName", MatchingPriority: 1, Source: &Source{Type: "Attribute", Name: ptr("userPrincipalName"), Expression: ptr("[userPrincipalName]")}},
		AttributeMapping{TargetAttributeName: "externalId", MatchingPriority: 2, Source: attr("objectId")},
		AttributeMapping{TargetAttributeName: "email", MatchingPriority: 4, Source: fn("ToLower", attr("mail"))},
	))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Matching, []string{"userPrincipalName", "mail"}) {
		t.Errorf("matching %v, want lowest priority first, email targets only", r.Matching)
	}
	for _, want := range []string{`matching attribute "externalId"`, "by their email only", "its source is an expression", "already mapped from"} {
		if !strings.Contains(reasons(r.Unsupported), want) {
			t.Errorf("unsupported:\n%s\nwant %q", reasons(r.Unsupported), want)
		}
	}
	// No matching attribute at all: g2msync's default, said.
	r, err = Translate(schemaOf(nil, "", AttributeMapping{TargetAttributeName: "userName", Source: attr("mail")}))
	if err != nil || !slices.Equal(r.Matching, []string{"mail", "userPrincipalName"}) || !strings.Contains(reasons(r.Notes), "default") {
		t.Errorf("matching %v, %v, notes:\n%s", r.Matching, err, reasons(r.Notes))
	}
}

var testApp = directory.App{ID: "sp", DisplayName: "GoToMeeting", Roles: []directory.AppRole{
	{ID: "r-user", Value: "User", DisplayName: "User", Enabled: true},
	{ID: "r-admin", Value: "Admin", DisplayName: "Admin\nroles: x", Enabled: true},
	{ID: "r-old", Value: "Old", DisplayName: "Old", Enabled: false},
	{ID: DefaultAccessRoleID, Value: "", DisplayName: "Default Access", Enabled: true},
}}

func connection(t *testing.T) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.StatePath = "/var/lib/g2msync/state.db"
	cfg.Entra.TenantID, cfg.Entra.ClientID = "8f0e6b1a-1c1d-4d1e-9f00-000000000001", "8f0e6b1a-1c1d-4d1e-9f00-000000000002"
	cfg.Entra.ServicePrincipalID = "8f0e6b1a-1c1d-4d1e-9f00-000000000003"
	cfg.Entra.ClientSecretFile = "/run/credentials/g2msync.service/entra-client-secret"
	cfg.GoTo.ClientID = "goto-client"
	return cfg
}

// TestDocsSchema: the schema shaped like Microsoft's documentation becomes
// a configuration that loads once licences are filled in, with every part
// it could not carry over named.
func TestDocsSchema(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchema(data)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Translate(s)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]config.FieldMapping{
		"email":     {Expr: "[userPrincipalName]"},
		"firstName": {Expr: "PCase([givenName])", Default: "Colleague"},
		"lastName":  {Expr: "[surname]"},
		"locale":    {Expr: `"en_US"`, CreateOnly: true},
	}
	if diff := cmp.Diff(want, r.Fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if !slices.Equal(r.Matching, []string{"userPrincipalName", "mail"}) || len(r.Filters) != 2 || r.Policy != "sync" {
		t.Errorf("matching %v, filters %+v, policy %s", r.Matching, r.Filters, r.Policy)
	}
	for _, want := range []string{`"active"`, `"externalId"`, `"title"`, `emails[type eq \"work\"].value`} {
		if !strings.Contains(reasons(r.Unsupported), want) {
			t.Errorf("unsupported:\n%s\nwant %s listed", reasons(r.Unsupported), want)
		}
	}
	out, err := Render(r, connection(t), testApp, Origin{Job: &Job{ID: "gotomeeting.a1b2", TemplateID: "gotomeeting",
		Status: &Status{Code: "Active", LastExecution: &Execution{State: "Succeeded", TimeEnded: "2024-05-02T10:40:00Z"}}}, SchemaID: s.ID, When: "2024-05-03"})
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"G2MSYNC_ENTRA_CLIENT_SECRET_FILE=", "G2MSYNC_ENTRA_CLIENT_SECRET=x", "G2MSYNC_GOTO_CLIENT_SECRET=y"}
	path := filepath.Join(t.TempDir(), "g2msync.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, pending, err := config.LoadSetup(path, env)
	if err != nil {
		t.Fatalf("the written configuration does not load:\n%s\n%v", out, err)
	}
	var keys []string
	for _, p := range pending {
		keys = append(keys, p.Key)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"goto.account_key", "roles.Admin.licenses", "roles.User.licenses"}) {
		t.Errorf("pending %v, want the two roles' licences and the account key\n%s", keys, out)
	}
	if diff := cmp.Diff(want, cfg.Mapping); diff != "" {
		t.Errorf("mapping as loaded (-want +got):\n%s", diff)
	}
	if len(cfg.Roles) != 2 || cfg.Scope.Filters[1].Clauses[0].Value != `^adm\.` {
		t.Errorf("roles %v, scope %+v", cfg.Roles, cfg.Scope)
	}
	// A display name with a newline stays inside its comment.
	if strings.Contains(string(out), "\nroles: x") {
		t.Errorf("a name from Entra broke out of its comment:\n%s", out)
	}
	filled := strings.ReplaceAll(string(out), "licenses: []", `licenses: ["4200000000000000099"]`)
	filled = strings.Replace(filled, "account_key: \"\"", `account_key: "4200000000000000001"`, 1)
	if _, err := config.Parse([]byte(filled), env); err != nil {
		t.Errorf("with licences and the account filled in, the configuration does not load: %v\n%s", err, filled)
	}
}

// TestRenderInjection: a hostile expression, filter value or role value is
// written as one YAML value, never as keys of the configuration.
func TestRenderInjection(t *testing.T) {
	evil := "x\"\npolicy: create-only\nsafety: {max_disables: 100000}\n#"
	r, err := Translate(schemaOf(&Filter{Groups: []FilterGroup{{Name: evil, Clauses: []FilterClause{
		{OperatorName: "EQUALS", SourceOperandName: "department", TargetOperand: &FilterOperand{Values: []string{evil}}}}}}}, "",
		emailFromMail, AttributeMapping{TargetAttributeName: "name.givenName", Source: constSrc(evil)},
		AttributeMapping{TargetAttributeName: evil, Source: attr("mail")}))
	if err != nil {
		t.Fatal(err)
	}
	app := directory.App{Roles: []directory.AppRole{{ID: "r", Value: evil, DisplayName: evil, Enabled: true}}}
	out, err := Render(r, connection(t), app, Origin{File: evil})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.LoadSetup(writeTemp(t, out), []string{"G2MSYNC_ENTRA_CLIENT_SECRET_FILE=", "G2MSYNC_ENTRA_CLIENT_SECRET=x", "G2MSYNC_GOTO_CLIENT_SECRET=y"})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if cfg.Policy != "sync" || cfg.Safety.MaxDisables != 50 || cfg.Scope.Filters[0].Clauses[0].Value != evil ||
		cfg.Mapping["firstName"].Expr != constant(evil) || len(cfg.Roles) != 1 {
		t.Errorf("a value from Entra changed the configuration:\n%s", out)
	}
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRolesBlock(t *testing.T) {
	out, err := RolesBlock(testApp.Roles, []License{{Key: "4200000000000000099", Name: "GoToMeeting Business", Seats: 100, Free: 38}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"roles:\n", `# app role "User": id "r-user", display name "User"`, `"User":`,
		`- "4200000000000000099" # "GoToMeeting Business": 38 of 100 seats free`, `display name "Admin\nroles: x"`} {
		if !strings.Contains(out, want) {
			t.Errorf("roles block lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Old") || strings.Contains(out, "Default Access") {
		t.Errorf("disabled or Default Access roles listed:\n%s", out)
	}
	var pasted struct {
		Roles map[string]config.Role `yaml:"roles"`
	}
	if err := yaml.Unmarshal([]byte(out), &pasted); err != nil || len(pasted.Roles) != 2 || pasted.Roles["User"].Licenses[0] != "4200000000000000099" {
		t.Errorf("the block does not paste as roles: %+v, %v", pasted.Roles, err)
	}
}

func TestParseSchemaRefusals(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not JSON", "nope", "not a JSON object"},
		{"array", "[]", "does not fit"},
		{"two values", `{"synchronizationRules":[{}]} {}`, "more than one JSON value"},
		{"no rules", `{"id":"x"}`, "no synchronizationRules"},
		{"wrong type", `{"synchronizationRules":[{"objectMappings":[{"attributeMappings":[{"matchingPriority":"high"}]}]}]}`, "does not fit"},
		{"too big", `{"id":"` + strings.Repeat("a", MaxInput) + `"}`, "more than"},
		{"too many mappings", `{"synchronizationRules":[{"objectMappings":[{"attributeMappings":[` + strings.Repeat(`{},`, maxItems) + `{}]}]}]}`, "more than 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseSchema([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseSchema err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := ParseJobs([]byte(`{"value":null}`)); err == nil {
		t.Error("ParseJobs took a reply without jobs")
	}
}
