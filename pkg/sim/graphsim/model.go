package graphsim

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// DefaultAccessRoleID is the app role id of an assignment made without a role.
const DefaultAccessRoleID = "00000000-0000-0000-0000-000000000000"

// App is a client registration that can get tokens from the simulated Entra
// token endpoint: the application g2msync signs in as.
type App struct {
	ClientID    string // application (client) id; "" → generated
	DisplayName string
	// Secrets are accepted client secrets.
	Secrets []string
	// Certificates are accepted for client assertions (RSA keys, as Entra
	// requires). The assertion must name one by x5t#S256 or x5t.
	Certificates []*x509.Certificate
	// FederatedTokens are client assertions accepted verbatim, standing in
	// for a federated identity credential (workload identity): the simulator
	// does not validate an external issuer.
	FederatedTokens []string
	// Permissions are the Microsoft Graph application permissions granted
	// with admin consent, e.g. "User.Read.All". They become the token's roles.
	Permissions []string
	// RedirectURIs are the web redirect URIs the authorize endpoint sends
	// codes to; a request naming another is refused (AADSTS50011).
	RedirectURIs []string
	// GroupClaims puts the groups claim in ID tokens, as the app
	// registration's groupMembershipClaims "SecurityGroup" does: the ids of
	// the groups the user belongs to, directly or through nested groups.
	GroupClaims bool
}

// AppRole is a role the enterprise application defines.
type AppRole struct {
	ID                 string // "" → generated
	Value              string
	DisplayName        string
	Description        string
	Disabled           bool
	AllowedMemberTypes []string // default ["User"]
}

// ServicePrincipal is an enterprise application whose assignments are read.
type ServicePrincipal struct {
	ID                        string // object id; "" → generated
	AppID                     string // "" → generated
	DisplayName               string
	AppRoles                  []AppRole
	AppRoleAssignmentRequired bool
	Tags                      []string
}

// User is a user to add. Fields map to the Graph properties of the same name.
type User struct {
	ID                string // "" → generated
	UserPrincipalName string
	DisplayName       string
	GivenName         string
	Surname           string
	Mail              string
	JobTitle          string
	Department        string
	EmployeeID        string
	Disabled          bool // accountEnabled false
	// Attributes sets any other property by its Graph name, including
	// directory extension attributes (extension_<appid>_<name>).
	Attributes map[string]any
}

// Group is a group to add.
type Group struct {
	ID              string // "" → generated
	DisplayName     string
	Description     string
	MailNickname    string
	SecurityEnabled bool
}

type app struct {
	App
	spID    string          // object id of the client's own service principal
	issued  []string        // uti of every access token issued to the app
	revoked map[string]bool // uti of tokens RevokeTokens invalidated
}

type servicePrincipal struct {
	ServicePrincipal
	created time.Time
	// jobs are its provisioning (synchronization) jobs.
	jobs []*SynchronizationJob
}

type user struct {
	id          string
	props       map[string]any // by Graph name; includes userPrincipalName, accountEnabled
	softDeleted bool
	changed     int64 // sequence number of the last change, for delta
	// whole is when the user last appeared whole (created or restored):
	// a delta round after it sends every selected property.
	whole int64
	// propChanged holds each property's last change: a later delta round
	// sends only the properties changed since its token, as Graph may
	// ("updated instances are represented by their id with at least the
	// properties that have been updated").
	propChanged map[string]int64
	created     time.Time
	// password is what the authorize endpoint's sign-in page accepts;
	// "" means the user cannot sign in interactively (SetPassword).
	password string
}

func (u *user) upn() string     { s, _ := u.props["userPrincipalName"].(string); return s }
func (u *user) display() string { s, _ := u.props["displayName"].(string); return s }

type group struct {
	id      string
	props   map[string]any
	members map[string]bool // member object ids: users, groups, service principals
	log     []memberEvent   // membership changes, for groups/delta members@delta
	changed int64           // last change of the group's own properties
	created time.Time
}

func (g *group) display() string { s, _ := g.props["displayName"].(string); return s }

type memberEvent struct {
	seq    int64
	member string
	added  bool
}

type assignment struct {
	id          string
	resourceID  string
	principalID string
	appRoleID   string
	created     time.Time
}

// tomb records a hard-deleted user or group, for delta's @removed deleted.
type tomb struct {
	kind string // "user" or "group"
	seq  int64
}

// tenant is the directory. Every field is guarded by Server.mu.
type tenant struct {
	id          string
	apps        map[string]*app // by client id
	sps         map[string]*servicePrincipal
	users       map[string]*user
	upns        map[string]string // lower-cased userPrincipalName → user id, soft-deleted users included
	groups      map[string]*group
	assignments map[string]*assignment
	// assignGen changes whenever what appRoleAssignedTo lists may change
	// (an assignment added or removed, a user deleted or restored).
	assignGen int64
	tombs     map[string]tomb
	// codes are the authorization codes issued and not yet pruned.
	codes map[string]*authCode
	seq   int64
	rng   *rand.Rand
}

func newTenant(id string, rng *rand.Rand) *tenant {
	return &tenant{
		id:          id,
		apps:        map[string]*app{},
		sps:         map[string]*servicePrincipal{},
		users:       map[string]*user{},
		upns:        map[string]string{},
		groups:      map[string]*group{},
		assignments: map[string]*assignment{},
		tombs:       map[string]tomb{},
		rng:         rng,
	}
}

// newGUID returns a version-4 style GUID from the tenant's generator, so a
// fixed seed gives the same ids every run.
func newGUID(rng *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// assignmentID imitates Graph's appRoleAssignment ids: 43-character
// base64url strings, not GUIDs.
func assignmentID(rng *rand.Rand) string {
	b := make([]byte, 32)
	for i := 0; i < len(b); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (t *tenant) bump() int64 { t.seq++; return t.seq }

// objectType names the Graph type of a directory object id, or "".
func (t *tenant) objectType(id string) string {
	switch {
	case t.users[id] != nil:
		return "user"
	case t.groups[id] != nil:
		return "group"
	case t.sps[id] != nil:
		return "servicePrincipal"
	}
	return ""
}

// visibleUser returns the user unless it is missing or soft-deleted: deleted
// users vanish from every read until restored.
func (t *tenant) visibleUser(id string) *user {
	u := t.users[id]
	if u == nil || u.softDeleted {
		return nil
	}
	return u
}

// directMembers returns the visible direct member ids of g, sorted.
func (t *tenant) directMembers(g *group) []string {
	out := make([]string, 0, len(g.members))
	for id := range g.members {
		if t.users[id] != nil && t.users[id].softDeleted {
			continue
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// transitiveMembers returns every visible member reached through nested
// groups (the nested groups included, as Graph does), sorted, each once.
func (t *tenant) transitiveMembers(g *group) []string {
	seen := map[string]bool{}
	var walk func(*group)
	walk = func(g *group) {
		for id := range g.members {
			if seen[id] {
				continue
			}
			if u := t.users[id]; u != nil && u.softDeleted {
				continue
			}
			seen[id] = true
			if ng := t.groups[id]; ng != nil {
				walk(ng)
			}
		}
	}
	walk(g)
	out := make([]string, 0, len(seen))
	for id := range seen {
		if id != g.id {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// userProps are the user properties the simulator knows, in Graph's casing.
// $select of anything else (but extension attributes) is a 400, as in Graph.
var userProps = []string{
	"aboutMe", "accountEnabled", "ageGroup", "assignedLicenses", "assignedPlans", "birthday",
	"businessPhones", "city", "companyName", "consentProvidedForMinor", "country",
	"createdDateTime", "creationType", "deletedDateTime", "department", "displayName",
	"employeeHireDate", "employeeId", "employeeLeaveDateTime", "employeeOrgData", "employeeType",
	"externalUserState", "faxNumber", "givenName", "hireDate", "id", "identities", "imAddresses",
	"interests", "isResourceAccount", "jobTitle", "lastPasswordChangeDateTime",
	"legalAgeGroupClassification", "mail", "mailNickname", "mobilePhone", "mySite",
	"officeLocation", "onPremisesDistinguishedName", "onPremisesDomainName",
	"onPremisesExtensionAttributes", "onPremisesImmutableId", "onPremisesLastSyncDateTime",
	"onPremisesSamAccountName", "onPremisesSecurityIdentifier", "onPremisesSyncEnabled",
	"onPremisesUserPrincipalName", "otherMails", "passwordPolicies", "postalCode",
	"preferredDataLocation", "preferredLanguage", "preferredName", "proxyAddresses",
	"securityIdentifier", "showInAddressList", "signInSessionsValidFromDateTime", "state",
	"streetAddress", "surname", "usageLocation", "userPrincipalName", "userType",
}

// userDefaultProps is what v1.0 returns for a user without $select.
var userDefaultProps = []string{
	"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
	"officeLocation", "preferredLanguage", "surname", "userPrincipalName",
}

var groupProps = []string{
	"classification", "createdDateTime", "deletedDateTime", "description", "displayName",
	"groupTypes", "id", "isAssignableToRole", "mail", "mailEnabled", "mailNickname", "members",
	"onPremisesSyncEnabled", "proxyAddresses", "renewedDateTime", "securityEnabled",
	"securityIdentifier", "visibility",
}

var groupDefaultProps = []string{
	"classification", "createdDateTime", "deletedDateTime", "description", "displayName",
	"groupTypes", "id", "isAssignableToRole", "mail", "mailEnabled", "mailNickname",
	"onPremisesSyncEnabled", "proxyAddresses", "renewedDateTime", "securityEnabled",
	"securityIdentifier", "visibility",
}

var spProps = []string{
	"accountEnabled", "appDisplayName", "appId", "appRoleAssignmentRequired", "appRoles",
	"createdDateTime", "deletedDateTime", "displayName", "id", "servicePrincipalType", "tags",
}

var assignmentProps = []string{
	"appRoleId", "createdDateTime", "deletedDateTime", "id", "principalDisplayName",
	"principalId", "principalType", "resourceDisplayName", "resourceId",
}

// canonicalProp returns the Graph casing of name among known, matching
// case-insensitively as Graph does; extension attributes pass through.
func canonicalProp(name string, known []string) (string, bool) {
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	if strings.HasPrefix(strings.ToLower(name), "extension_") {
		return name, true
	}
	return "", false
}

// userJSON renders u with the selected properties (nil = defaults).
func userJSON(u *user, sel []string) map[string]any {
	props := sel
	if props == nil {
		props = userDefaultProps
	}
	out := make(map[string]any, len(props)+1)
	for _, p := range props {
		switch p {
		case "id":
			out["id"] = u.id
		case "createdDateTime":
			out[p] = u.created.UTC().Format(time.RFC3339)
		case "businessPhones", "otherMails", "proxyAddresses", "imAddresses":
			if v, ok := u.props[p]; ok {
				out[p] = v
			} else {
				out[p] = []string{}
			}
		default:
			out[p] = u.props[p] // nil → JSON null, as Graph sends unset properties
		}
	}
	return out
}

func groupJSON(g *group, sel []string) map[string]any {
	props := sel
	if props == nil {
		props = groupDefaultProps
	}
	out := make(map[string]any, len(props))
	for _, p := range props {
		switch p {
		case "id":
			out["id"] = g.id
		case "members":
			// handled by the caller (members@delta); not a plain property
		case "createdDateTime":
			out[p] = g.created.UTC().Format(time.RFC3339)
		case "groupTypes", "proxyAddresses":
			if v, ok := g.props[p]; ok {
				out[p] = v
			} else {
				out[p] = []string{}
			}
		default:
			out[p] = g.props[p]
		}
	}
	return out
}

func spJSON(sp *servicePrincipal, sel []string) map[string]any {
	props := sel
	if props == nil {
		props = spProps
	}
	out := make(map[string]any, len(props))
	for _, p := range props {
		switch p {
		case "id":
			out[p] = sp.ID
		case "appId":
			out[p] = sp.AppID
		case "displayName", "appDisplayName":
			out[p] = sp.DisplayName
		case "accountEnabled":
			out[p] = true
		case "appRoleAssignmentRequired":
			out[p] = sp.AppRoleAssignmentRequired
		case "servicePrincipalType":
			out[p] = "Application"
		case "tags":
			out[p] = append([]string{}, sp.Tags...)
		case "createdDateTime":
			out[p] = sp.created.UTC().Format(time.RFC3339)
		case "deletedDateTime":
			out[p] = nil
		case "appRoles":
			roles := make([]map[string]any, 0, len(sp.AppRoles))
			for _, r := range sp.AppRoles {
				roles = append(roles, map[string]any{
					"allowedMemberTypes": r.AllowedMemberTypes,
					"description":        r.Description,
					"displayName":        r.DisplayName,
					"id":                 r.ID,
					"isEnabled":          !r.Disabled,
					"origin":             "Application",
					"value":              r.Value,
				})
			}
			out[p] = roles
		}
	}
	return out
}

func (t *tenant) assignmentJSON(a *assignment, sel []string) map[string]any {
	props := sel
	if props == nil {
		props = assignmentProps
	}
	ptype, pname := "", ""
	switch {
	case t.users[a.principalID] != nil:
		ptype, pname = "User", t.users[a.principalID].display()
	case t.groups[a.principalID] != nil:
		ptype, pname = "Group", t.groups[a.principalID].display()
	case t.sps[a.principalID] != nil:
		ptype, pname = "ServicePrincipal", t.sps[a.principalID].DisplayName
	}
	res := t.sps[a.resourceID]
	out := make(map[string]any, len(props))
	for _, p := range props {
		switch p {
		case "id":
			out[p] = a.id
		case "appRoleId":
			out[p] = a.appRoleID
		case "createdDateTime":
			out[p] = a.created.UTC().Format(time.RFC3339Nano)
		case "deletedDateTime":
			out[p] = nil
		case "principalDisplayName":
			out[p] = pname
		case "principalId":
			out[p] = a.principalID
		case "principalType":
			out[p] = ptype
		case "resourceDisplayName":
			if res != nil {
				out[p] = res.DisplayName
			}
		case "resourceId":
			out[p] = a.resourceID
		}
	}
	return out
}
