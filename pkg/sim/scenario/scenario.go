// Package scenario builds a ready-made world in the simulators: an Entra
// tenant with the GoToMeeting enterprise app, its roles, assigned groups and
// direct assignments, and a GoTo account with a licence, an admin and some
// accounts that already exist. The demo, cmd/g2msim, end-to-end tests and
// the benchmark all start from it.
//
// Like the simulators, it imports no production package: it hands out the
// configuration as YAML and the secrets as environment variables, exactly
// what an administrator would write.
package scenario

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/g2msync/g2msync/pkg/sim/gotosim"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
	"github.com/g2msync/g2msync/pkg/sim/simtls"
)

// Domain is the mail domain of the simulated tenant.
const Domain = "contoso.example"

// Options shape the world. Zero values take the defaults shown; a negative
// count means none.
type Options struct {
	// Groups are the assigned groups (role User) and their sizes;
	// default Sales 120, Engineering 100, Support 60.
	Groups []GroupSpec
	// DirectAdmins are users assigned directly with the Admin role (default 12).
	DirectAdmins int
	// DefaultAccess are users assigned directly with Default Access only,
	// which the configuration does not map (default 3).
	DefaultAccess int
	// Disabled are assigned group members whose Entra account is disabled (default 4).
	Disabled int
	// PreExisting are in-scope people who already have a GoTo account whose
	// email differs only in case (default 15): they are adopted, not duplicated.
	PreExisting int
	// Nested is the size of a group nested in the first group; its members
	// are in scope only with nested_groups (default 0).
	Nested int
	// Seats of the GoToMeeting licence (default: everyone, plus 50).
	Seats int
	// Seed makes names and ids repeatable (default 1).
	Seed uint64
	// Latency is added to every simulated call of both services.
	GraphLatency, GoToLatency time.Duration
	// GoToRateLimit is the GoTo simulator's requests per second (default 10; <0 unlimited).
	GoToRateLimit float64
	// GoToJitter, GoToHandling and GoToHandlingPerItem are passed to the
	// GoTo simulator (gotosim.Options Jitter, Handling, HandlingPerItem);
	// zero means none.
	GoToJitter, GoToHandling, GoToHandlingPerItem time.Duration
	// GoToRotateRefreshEvery is passed to the GoTo simulator: 0 rotates the
	// refresh token on every refresh, negative never.
	GoToRotateRefreshEvery int
	// GoToAddr, GraphAddr pin the listen addresses (default: free loopback ports).
	GoToAddr string
	// EntraJob gives the enterprise app the provisioning job of Entra's own
	// connector (EntraJobSchema) and grants the client
	// Synchronization.Read.All; everyone the job provisioned (the people
	// InEntraJobScope says) already has a GoTo account, as the job made it.
	EntraJob bool
}

// GroupSpec is one assigned group.
type GroupSpec struct {
	Name string
	Size int
}

// Person is one generated directory user.
type Person struct {
	ID, UPN, Mail, GivenName, Surname string
	Group                             string // group name, or "" for direct assignments
	Role                              string // "User", "Admin" or "Default Access"
	Disabled                          bool
	PreExisting                       bool
	// Unassigned is set when RemoveFromGroup took the person out of their group.
	Unassigned bool
}

// World is a running pair of simulators with the scenario loaded.
type World struct {
	CA    *simtls.CA
	Graph *graphsim.Server
	GoTo  *gotosim.Server

	TenantID, ClientID, ClientSecret, ServicePrincipalID string
	RoleUser, RoleAdmin                                  string
	GroupIDs                                             map[string]string
	GoToClientID, GoToClientSecret, RefreshToken         string
	AccountKey, LicenseKey                               string
	AdminEmail                                           string
	// EntraJobID is the provisioning job's id when Options.EntraJob is set.
	EntraJobID string

	People []Person
	rng    *rand.Rand
	n      int
}

var (
	firstNames = []string{"Ann", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Liam",
		"Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wei", "Yara", "Zoe"}
	lastNames = []string{"Lee", "Novak", "Garcia", "Smith", "Okafor", "Rossi", "Kim", "Muller", "Silva", "Haddad", "Brown",
		"Tanaka", "Dubois", "Kowalski", "Nguyen", "Patel", "Jensen", "Costa", "Ivanova", "Walsh"}
)

// Start starts both simulators on loopback and loads the scenario.
func Start(opts Options) (*World, error) {
	if opts.Groups == nil {
		opts.Groups = []GroupSpec{{Name: "Sales", Size: 120}, {Name: "Engineering", Size: 100}, {Name: "Support", Size: 60}}
	}
	def := func(v *int, d int) { // 0 takes the default, a negative value means none
		if *v == 0 {
			*v = d
		}
		*v = max(*v, 0)
	}
	def(&opts.DirectAdmins, 12)
	def(&opts.DefaultAccess, 3)
	def(&opts.Disabled, 4)
	def(&opts.PreExisting, 15)
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	ca, err := simtls.NewCA()
	if err != nil {
		return nil, err
	}
	w := &World{CA: ca, GroupIDs: map[string]string{}, rng: rand.New(rand.NewPCG(opts.Seed, 7))}
	if w.Graph, err = graphsim.New(graphsim.Options{CA: ca, Seed: opts.Seed, Latency: opts.GraphLatency}); err != nil {
		return nil, fmt.Errorf("start graph simulator: %w", err)
	}
	if w.GoTo, err = gotosim.New(gotosim.Options{CA: ca, Addr: opts.GoToAddr, Latency: opts.GoToLatency, RateLimit: opts.GoToRateLimit,
		Jitter: opts.GoToJitter, Seed: opts.Seed, Handling: opts.GoToHandling, HandlingPerItem: opts.GoToHandlingPerItem,
		AccountName: "Contoso", RotateRefreshEvery: opts.GoToRotateRefreshEvery}); err != nil {
		w.Graph.Close()
		return nil, fmt.Errorf("start GoTo simulator: %w", err)
	}
	if err := w.load(opts); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Close stops both simulators.
func (w *World) Close() {
	w.Graph.Close()
	w.GoTo.Close()
}

func (w *World) load(opts Options) error {
	w.TenantID = w.Graph.TenantID()
	w.ClientSecret = "demo-entra-secret-" + fmt.Sprint(opts.Seed)
	var err error
	if w.ClientID, err = w.Graph.AddApp(graphsim.App{DisplayName: "g2msync", Secrets: []string{w.ClientSecret},
		Permissions: []string{"Application.Read.All", "User.Read.All", "GroupMember.Read.All"}}); err != nil {
		return err
	}
	if w.ServicePrincipalID, err = w.Graph.AddServicePrincipal(graphsim.ServicePrincipal{DisplayName: "GoToMeeting",
		AppRoleAssignmentRequired: true, AppRoles: []graphsim.AppRole{
			{Value: "User", DisplayName: "User"}, {Value: "Admin", DisplayName: "Admin"}}}); err != nil {
		return err
	}
	roles, err := w.Graph.AppRoles(w.ServicePrincipalID)
	if err != nil {
		return err
	}
	for _, r := range roles {
		switch r.Value {
		case "User":
			w.RoleUser = r.ID
		case "Admin":
			w.RoleAdmin = r.ID
		}
	}

	total := opts.DirectAdmins + opts.DefaultAccess + opts.Nested
	for _, g := range opts.Groups {
		total += g.Size
	}
	seats := opts.Seats
	if seats == 0 {
		seats = total + 50
	}
	w.AccountKey = w.GoTo.AccountKey()
	w.GoToClientID, w.GoToClientSecret = w.GoTo.ClientID(), w.GoTo.ClientSecret()
	if w.LicenseKey, err = w.GoTo.AddLicense(gotosim.License{Description: "GoToMeeting Business", Type: "G2M_BUSINESS",
		Enabled: true, Seats: seats, Products: []string{"G2M"}}); err != nil {
		return err
	}
	w.AdminEmail = "it-admin@" + Domain
	if _, err := w.GoTo.AddUser(gotosim.User{Email: w.AdminEmail, FirstName: "IT", LastName: "Admin",
		AdminRoles: []string{"SUPER_USER"}, LicenseKeys: []string{w.LicenseKey}}); err != nil {
		return err
	}
	w.RefreshToken = w.GoTo.IssueRefreshTokenFor(w.AdminEmail)

	for i, g := range opts.Groups {
		gid, err := w.Graph.AddGroup(graphsim.Group{DisplayName: g.Name, SecurityEnabled: true})
		if err != nil {
			return err
		}
		w.GroupIDs[g.Name] = gid
		if _, err := w.Graph.Assign(w.ServicePrincipalID, gid, w.RoleUser); err != nil {
			return err
		}
		var ids []string
		for range g.Size {
			p, err := w.addPerson(g.Name, "User", false)
			if err != nil {
				return err
			}
			ids = append(ids, p.ID)
		}
		if err := w.Graph.AddMembers(gid, ids...); err != nil {
			return err
		}
		if i == 0 && opts.Nested > 0 {
			nid, err := w.Graph.AddGroup(graphsim.Group{DisplayName: g.Name + " Interns", SecurityEnabled: true})
			if err != nil {
				return err
			}
			w.GroupIDs[g.Name+" Interns"] = nid
			var nids []string
			for range opts.Nested {
				p, err := w.addPerson(g.Name+" Interns", "User", false)
				if err != nil {
					return err
				}
				nids = append(nids, p.ID)
			}
			if err := w.Graph.AddMembers(nid, nids...); err != nil {
				return err
			}
			if err := w.Graph.AddMember(gid, nid); err != nil {
				return err
			}
		}
	}
	for range opts.DirectAdmins {
		p, err := w.addPerson("", "Admin", false)
		if err != nil {
			return err
		}
		if _, err := w.Graph.Assign(w.ServicePrincipalID, p.ID, w.RoleAdmin); err != nil {
			return err
		}
	}
	for range opts.DefaultAccess {
		p, err := w.addPerson("", "Default Access", false)
		if err != nil {
			return err
		}
		if _, err := w.Graph.Assign(w.ServicePrincipalID, p.ID, graphsim.DefaultAccessRoleID); err != nil {
			return err
		}
	}
	// Some group members are disabled in Entra; some already have a GoTo account.
	for i := 0; i < opts.Disabled && i < len(w.People); i++ {
		p := &w.People[len(w.People)/2+i]
		if err := w.Graph.DisableUser(p.ID); err != nil {
			return err
		}
		p.Disabled = true
	}
	for i := 0; i < opts.PreExisting && i < len(w.People); i++ {
		p := &w.People[i*3%len(w.People)]
		if p.Disabled || p.Role == "Default Access" || p.PreExisting {
			continue
		}
		if _, err := w.GoTo.AddUser(gotosim.User{Email: strings.ToUpper(p.Mail[:1]) + p.Mail[1:], FirstName: p.GivenName,
			LastName: p.Surname, LicenseKeys: []string{w.LicenseKey}}); err != nil {
			return err
		}
		p.PreExisting = true
	}
	if opts.EntraJob {
		return w.addEntraJob()
	}
	return nil
}

// addEntraJob gives the app Entra's provisioning job, and GoTo an account
// for everyone the job provisioned, as the job wrote it.
func (w *World) addEntraJob() error {
	var err error
	began := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	if w.EntraJobID, err = w.Graph.AddSynchronizationJob(w.ServicePrincipalID, graphsim.SynchronizationJob{TemplateID: "gotomeeting",
		Interval: "PT40M", Code: "Active", LastRun: "Succeeded", LastBegan: began, LastEnded: began.Add(3 * time.Minute),
		Schema: json.RawMessage(EntraJobSchema)}); err != nil {
		return err
	}
	if err := w.Graph.GrantPermission(w.ClientID, "Synchronization.Read.All"); err != nil {
		return err
	}
	for i := range w.People {
		p := &w.People[i]
		if !w.InEntraJobScope(*p) || p.PreExisting {
			continue
		}
		if _, err := w.GoTo.AddUser(gotosim.User{Email: p.UPN, FirstName: p.GivenName, LastName: p.Surname,
			LicenseKeys: []string{w.LicenseKey}}); err != nil {
			return err
		}
		p.PreExisting = true
	}
	return nil
}

// InEntraJobScope reports whether Entra's job (EntraJobSchema) provisioned
// p: enabled, assigned a role other than Default Access, and in one of its
// scoping filters (a department other than Support, or none).
func (w *World) InEntraJobScope(p Person) bool {
	if p.Disabled || p.Unassigned || p.Role == "Default Access" || strings.HasSuffix(p.Group, " Interns") {
		return false
	}
	return p.Group != "Support"
}

// EntraJobSchema is the synchronizationSchema of the scenario's Entra job,
// shaped as Microsoft Graph returns it: expression mappings, a constant,
// a default value, an add-only flow, two matching attributes (userName,
// then the work email) and two scoping filter groups (ORed), beside parts
// g2msync does not carry over (active, externalId, a group mapping).
const EntraJobSchema = `{
  "@odata.context": "$metadata#servicePrincipals/synchronization/jobs/schema/$entity",
  "id": "gotomeeting.scenario",
  "version": "date:2024-05-02T10:00:00Z~###~sourceRevision:4",
  "directories": [
    {"id": "d1", "name": "Azure Active Directory", "objects": [{"name": "User", "attributes": [
      {"name": "userPrincipalName", "type": "String"}, {"name": "mail", "type": "String"}]}]},
    {"id": "d2", "name": "GoToMeeting", "objects": [{"name": "User", "attributes": [{"name": "userName", "type": "String"}]}]}
  ],
  "synchronizationRules": [{
    "id": "6c409270-f78a-4bc6-af23-7cf3ab6482fe",
    "name": "USER_OUTBOUND_USER",
    "sourceDirectoryName": "Azure Active Directory",
    "targetDirectoryName": "GoToMeeting",
    "objectMappings": [{
      "name": "Synchronize Azure Active Directory Users to GoToMeeting",
      "enabled": true,
      "flowTypes": "Add, Update, Delete",
      "sourceObjectName": "User",
      "targetObjectName": "User",
      "scope": {"groups": [
        {"name": "Staff but Support", "clauses": [
          {"operatorName": "IS NOT NULL", "sourceOperandName": "department", "targetOperand": {"values": []}},
          {"operatorName": "NOT EQUALS", "sourceOperandName": "department", "targetOperand": {"values": ["Support"]}}]},
        {"name": "No department", "clauses": [
          {"operatorName": "IS NULL", "sourceOperandName": "department", "targetOperand": {"values": []}},
          {"operatorName": "IS TRUE", "sourceOperandName": "accountEnabled", "targetOperand": {"values": []}}]}]},
      "attributeMappings": [
        {"targetAttributeName": "userName", "flowType": "Always", "flowBehavior": "FlowWhenChanged", "matchingPriority": 1, "defaultValue": null,
         "source": {"type": "Attribute", "name": "userPrincipalName", "expression": "[userPrincipalName]", "parameters": []}},
        {"targetAttributeName": "emails[type eq \"work\"].value", "flowType": "Always", "matchingPriority": 2,
         "source": {"type": "Attribute", "name": "mail", "expression": "[mail]", "parameters": []}},
        {"targetAttributeName": "active", "flowType": "Always", "matchingPriority": 0,
         "source": {"type": "Function", "name": "Switch", "expression": "Switch([IsSoftDeleted], , \"False\", \"True\", \"True\", \"False\")", "parameters": [
           {"key": "source", "value": {"type": "Attribute", "name": "IsSoftDeleted", "expression": "[IsSoftDeleted]", "parameters": []}},
           {"key": "defaultValue", "value": null},
           {"key": "key", "value": {"type": "Constant", "name": "False", "expression": "\"False\"", "parameters": []}},
           {"key": "value", "value": {"type": "Constant", "name": "True", "expression": "\"True\"", "parameters": []}},
           {"key": "key", "value": {"type": "Constant", "name": "True", "expression": "\"True\"", "parameters": []}},
           {"key": "value", "value": {"type": "Constant", "name": "False", "expression": "\"False\"", "parameters": []}}]}},
        {"targetAttributeName": "name.givenName", "flowType": "Always", "defaultValue": "Colleague",
         "source": {"type": "Function", "name": "Coalesce", "expression": "Coalesce([givenName], Word([displayName], 1, \" \"))", "parameters": [
           {"key": "source", "value": {"type": "Attribute", "name": "givenName", "expression": "[givenName]", "parameters": []}},
           {"key": "source", "value": {"type": "Function", "name": "Word", "expression": "Word([displayName], 1, \" \")", "parameters": [
             {"key": "String", "value": {"type": "Attribute", "name": "displayName", "parameters": []}},
             {"key": "WordNumber", "value": {"type": "Constant", "name": "1", "parameters": []}},
             {"key": "Delimiters", "value": {"type": "Constant", "name": " ", "parameters": []}}]}}]}},
        {"targetAttributeName": "name.familyName", "flowType": "Always",
         "source": {"type": "Attribute", "name": "surname", "expression": "[surname]", "parameters": []}},
        {"targetAttributeName": "locale", "flowType": "ObjectAddOnly",
         "source": {"type": "Constant", "name": "en_US", "expression": "\"en_US\"", "parameters": []}},
        {"targetAttributeName": "externalId", "flowType": "Always",
         "source": {"type": "Attribute", "name": "objectId", "expression": "[objectId]", "parameters": []}}
      ]
    }, {
      "name": "Synchronize Azure Active Directory Groups to GoToMeeting",
      "enabled": false,
      "flowTypes": "Add, Update, Delete",
      "sourceObjectName": "Group",
      "targetObjectName": "Group",
      "attributeMappings": []
    }]
  }]
}`

func (w *World) addPerson(group, role string, disabled bool) (Person, error) {
	w.n++
	first := firstNames[w.rng.IntN(len(firstNames))]
	last := lastNames[w.rng.IntN(len(lastNames))]
	local := fmt.Sprintf("%s.%s%d", strings.ToLower(first), strings.ToLower(last), w.n)
	p := Person{UPN: local + "@" + Domain, Mail: local + "@" + Domain, GivenName: first, Surname: last, Group: group, Role: role}
	id, err := w.Graph.AddUser(graphsim.User{UserPrincipalName: p.UPN, Mail: p.Mail, GivenName: first, Surname: last,
		DisplayName: first + " " + last, Department: group, Disabled: disabled})
	if err != nil {
		return Person{}, err
	}
	p.ID = id
	w.People = append(w.People, p)
	return p, nil
}

// Person returns the generated person with the given id.
func (w *World) Person(id string) *Person {
	for i := range w.People {
		if w.People[i].ID == id {
			return &w.People[i]
		}
	}
	return nil
}

// NewHire adds a person to a group, as HR onboarding would.
func (w *World) NewHire(group string) (Person, error) {
	p, err := w.addPerson(group, "User", false)
	if err != nil {
		return p, err
	}
	return p, w.Graph.AddMember(w.GroupIDs[group], p.ID)
}

// Rename changes a person's surname, UPN and mail, as after a marriage.
func (w *World) Rename(id, surname string) error {
	p := w.Person(id)
	if p == nil {
		return fmt.Errorf("scenario: no person %s", id)
	}
	local := fmt.Sprintf("%s.%s%d", strings.ToLower(p.GivenName), strings.ToLower(surname), w.n+1000)
	p.Surname, p.UPN, p.Mail = surname, local+"@"+Domain, local+"@"+Domain
	if err := w.Graph.RenameUser(id, p.UPN, p.Mail); err != nil {
		return err
	}
	return w.Graph.UpdateUser(id, map[string]any{"surname": surname, "displayName": p.GivenName + " " + surname})
}

// RemoveFromGroup takes a person out of their assigned group.
func (w *World) RemoveFromGroup(id string) error {
	p := w.Person(id)
	if p == nil || p.Group == "" {
		return fmt.Errorf("scenario: %s is not a group member", id)
	}
	p.Unassigned = true
	return w.Graph.RemoveMember(w.GroupIDs[p.Group], id)
}

// ReturnToGroup puts a person back in the group RemoveFromGroup took them out of.
func (w *World) ReturnToGroup(id string) error {
	p := w.Person(id)
	if p == nil || p.Group == "" {
		return fmt.Errorf("scenario: %s is not a group member", id)
	}
	p.Unassigned = false
	return w.Graph.AddMember(w.GroupIDs[p.Group], id)
}

// Disable sets accountEnabled false in Entra, as when someone leaves.
func (w *World) Disable(id string) error {
	if p := w.Person(id); p != nil {
		p.Disabled = true
	}
	return w.Graph.DisableUser(id)
}

// InScope returns the people a default configuration provisions: enabled,
// assigned with a mapped role, in a direct group or directly.
func (w *World) InScope(nested bool) []Person {
	var out []Person
	for _, p := range w.People {
		if p.Disabled || p.Unassigned || p.Role == "Default Access" || (!nested && strings.HasSuffix(p.Group, " Interns")) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// ConfigYAML returns a configuration pointing g2msync at the simulators.
// Secrets are not in it; Environ holds them, as an administrator would.
func (w *World) ConfigYAML(statePath, listen string) string {
	return fmt.Sprintf(`schedule: "@every 30s"
state_path: %q
listen: %q
log: { level: warn, format: text }
entra:
  tenant_id: %s
  client_id: %s
  service_principal_id: %s
  cloud: custom
  authority_host: %s
  graph_base_url: %s
goto:
  account_key: %q
  client_id: %s
  auth_url: %s
  api_base_url: %s
  suppress_welcome_email: true
roles:
  User: { licenses: [%q] }
  Admin: { licenses: [%q], admin_roles: [MANAGE_USERS] }
`, statePath, listen, w.TenantID, w.ClientID, w.ServicePrincipalID, w.Graph.AuthorityHost(), w.Graph.GraphBaseURL(),
		w.AccountKey, w.GoToClientID, w.GoTo.URL(), w.GoTo.APIBaseURL(), w.LicenseKey, w.LicenseKey)
}

// Environ returns the secrets as the environment variables g2msync reads.
func (w *World) Environ() []string {
	return []string{
		"G2MSYNC_ENTRA_CLIENT_SECRET=" + w.ClientSecret,
		"G2MSYNC_GOTO_CLIENT_SECRET=" + w.GoToClientSecret,
		"G2MSYNC_GOTO_REFRESH_TOKEN=" + w.RefreshToken,
	}
}
