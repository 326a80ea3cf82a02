package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"

	"github.com/g2msync/g2msync/pkg/directory"
)

// Check is one step of a connection test, as `g2msync check` prints it.
type Check struct {
	Name string
	OK   bool
	// Warn, with OK, marks a step that passed but leaves a person
	// something to do (check prints WARN).
	Warn bool
	// Skipped marks a step not taken because one it depends on failed
	// (check prints SKIP): it is listed, so a person sees what is left to
	// check once the failure is mended.
	Skipped bool
	Detail  string // what was found, or what failed
}

// skip lists the steps named as not taken because of the step failed.
func skip(out []Check, failed string, names ...string) []Check {
	for _, n := range names {
		out = append(out, Check{Name: n, OK: true, Skipped: true, Detail: "not checked: " + failed + " failed"})
	}
	return out
}

// The steps after the sign-in, in order, for the ones a failure skips.
const (
	stepApp         = "Enterprise app"
	stepAssignments = "Assignments"
	stepMembers     = "Group members"
)

// permissions g2msync needs, each with the broader ones that also grant it.
var needed = []struct {
	name   string
	alsoBy []string
	why    string
}{
	{permApplication, []string{"Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}, "read the enterprise app and its assignments"},
	{permUser, []string{"User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}, "read the assigned users' attributes"},
	{permGroupMember, []string{"Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}, "read the members of assigned groups"},
}

// Check tests the connection the way the Entra portal's Test Connection
// does: sign in, look at the granted permissions, find the enterprise app,
// read one page of its assignments and one page of an assigned group's
// members. It stops at the first step the others depend on.
// App reads the enterprise application: its name and app roles.
func (s *Source) App(ctx context.Context) (directory.App, error) {
	ctx, _ = withReadMeter(ctx)
	return s.readApp(ctx)
}

func (s *Source) Check(ctx context.Context) []Check {
	var out []Check
	tok, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.scope}})
	if err != nil {
		ce := s.classify(call{op: "sign in to tenant " + s.cfg.TenantID}, 1, err)
		out = append(out, Check{Name: "Entra sign-in", Detail: ce.Error()})
		for _, p := range needed {
			out = skip(out, "Entra sign-in", "Graph permission "+p.name)
		}
		return skip(out, "Entra sign-in", stepApp, stepAssignments, stepMembers)
	}
	out = append(out, Check{Name: "Entra sign-in", OK: true,
		Detail: fmt.Sprintf("token for tenant %s as app %s (%s)", s.cfg.TenantID, s.cfg.ClientID, strings.ReplaceAll(s.credName, "_", " "))})
	roles, ok := tokenRoles(tok.Token)
	for _, p := range needed {
		c := Check{Name: "Graph permission " + p.name}
		switch {
		case !ok:
			c.OK, c.Detail = true, "not checked: the access token is not a readable JWT"
		case slices.Contains(roles, p.name):
			c.OK, c.Detail = true, "granted, to "+p.why
		case slices.ContainsFunc(p.alsoBy, func(r string) bool { return slices.Contains(roles, r) }):
			c.OK, c.Detail = true, "granted through a broader permission, to "+p.why
		default:
			c.Detail = fmt.Sprintf("missing: g2msync needs it to %s; add the Microsoft Graph application permission %s to app %s and grant admin consent",
				p.why, p.name, s.cfg.ClientID)
		}
		out = append(out, c)
	}
	app, err := s.readApp(ctx)
	if err != nil {
		out = append(out, Check{Name: stepApp, Detail: err.Error()})
		return skip(out, "reading the enterprise app", stepAssignments, stepMembers)
	}
	var roleNames []string
	for _, r := range app.Roles {
		if r.Enabled {
			roleNames = append(roleNames, firstOf(r.Value, r.DisplayName))
		}
	}
	out = append(out, Check{Name: "Enterprise app", OK: true,
		Detail: fmt.Sprintf("%q (object id %s), app roles: %s", app.DisplayName, app.ID, strings.Join(roleNames, ", "))})

	top := int32(20)
	res, err := s.client.ServicePrincipals().ByServicePrincipalId(app.ID).AppRoleAssignedTo().Get(ctx,
		&serviceprincipals.ItemAppRoleAssignedToRequestBuilderGetRequestConfiguration{
			QueryParameters: &serviceprincipals.ItemAppRoleAssignedToRequestBuilderGetQueryParameters{Top: &top}})
	if err != nil {
		e := s.classify(call{op: "list assignments of " + app.DisplayName, permission: permApplication}, 1, err)
		out = append(out, Check{Name: stepAssignments, Detail: e.Error()})
		return skip(out, "listing the assignments", stepMembers)
	}
	users, groups := 0, 0
	var group, groupName string
	for _, a := range res.GetValue() {
		switch deref(a.GetPrincipalType()) {
		case directory.PrincipalUser:
			users++
		case directory.PrincipalGroup:
			groups++
			if group == "" && a.GetPrincipalId() != nil {
				group, groupName = a.GetPrincipalId().String(), deref(a.GetPrincipalDisplayName())
			}
		}
	}
	if users+groups == 0 {
		return append(out, Check{Name: "Assignments", Detail: fmt.Sprintf(
			"nobody is assigned to %q: assign users or groups under Enterprise applications > %s > Users and groups", app.DisplayName, app.DisplayName)})
	}
	more := ""
	if res.GetOdataNextLink() != nil {
		more = " (first page)"
	}
	out = append(out, Check{Name: "Assignments", OK: true, Detail: fmt.Sprintf("%d users and %d groups assigned%s", users, groups, more)})
	if group == "" {
		return out
	}
	if err := s.canReadMembers(ctx, group, groupName); err != nil {
		return append(out, Check{Name: "Group members", Detail: err.Error()})
	}
	return append(out, Check{Name: "Group members", OK: true, Detail: fmt.Sprintf("read the members of %q", groupName)})
}

// canReadMembers reads a group's user members with the attributes the
// mappings need, as a cycle does (every page: a check is rare).
func (s *Source) canReadMembers(ctx context.Context, gid, name string) error {
	_, err := s.readMembers(ctx, gid, name, map[string]directory.User{})
	return err
}

// tokenRoles returns the roles claim of an Entra access token.
func tokenRoles(tok string) ([]string, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return nil, false
	}
	return claims.Roles, true
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
