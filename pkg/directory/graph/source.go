package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	authentication "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/directoryobjects"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipalswithappid"

	"github.com/g2msync/g2msync/pkg/directory"
)

// Page sizes: Graph's maximum for directory collections, and getByIds' limit.
const (
	pageSize     = 999
	getByIDsSize = 1000
)

// Graph application permissions named in 403 messages.
const (
	permApplication = "Application.Read.All"
	permGroupMember = "GroupMember.Read.All"
	permUser        = "User.Read.All"
)

// Source reads the app's assignments from Microsoft Graph. It is safe for
// concurrent use; each Read is independent, and the credential's token cache
// is shared between them.
type Source struct {
	cfg      Config
	log      *slog.Logger
	client   *msgraphsdk.GraphServiceClient
	adapter  *msgraphsdk.GraphRequestAdapter
	base     string // Graph base URL without a trailing slash
	scope    string
	credName string
	cred     azcore.TokenCredential
	selects  []string // $select of user reads
	attrs    []string // attributes copied into User.Attributes
	// last is the last snapshot assembled with a picture (assembled).
	last assembled
}

var _ directory.Source = (*Source)(nil)

// New builds a Source: the credential, the auth provider limited to the
// Graph host, and the request adapter over the caller's transport. It makes
// no network call.
func New(cfg Config) (*Source, error) {
	if cfg.Cloud == (Cloud{}) {
		cfg.Cloud = Cloud{AuthorityPublic, GraphPublic}
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("graph source config: %w", err)
	}
	credName, _ := cfg.credentialName()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := strings.TrimSuffix(cfg.Cloud.GraphBaseURL, "/")
	graphURL, _ := url.Parse(base)
	authURL, _ := url.Parse(cfg.Cloud.AuthorityHost)
	scope := cfg.Scope
	if scope == "" {
		scope = "https://" + graphURL.Host + "/.default"
	}
	s := &Source{cfg: cfg, log: log, base: base, scope: scope, credName: credName}
	s.selects, s.attrs = selection(cfg.Attributes)

	m := &meter{next: cfg.baseTransport(), graphHost: graphURL.Host, log: log, timeout: cfg.timeout(), maxBody: cfg.maxReplyBytes()}
	cred, err := cfg.credential(credName, azcore.ClientOptions{
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.Cloud.AuthorityHost},
		// A token request carries the client secret or assertion: it follows
		// no redirect, which would resend it to wherever the reply points.
		Transport: &http.Client{Transport: m, Timeout: cfg.timeout(), CheckRedirect: refuseRedirect("Entra's token endpoint")},
	}, !microsoftAuthority(authURL.Hostname()))
	if err != nil {
		return nil, fmt.Errorf("graph source: %s: %w", credName, err)
	}
	s.cred = cred
	// The provider sends no token to a host outside this list, silently.
	auth, err := authentication.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{scope}, []string{graphURL.Hostname()})
	if err != nil {
		return nil, fmt.Errorf("graph source: auth provider: %w", err)
	}
	hc := &http.Client{
		// No client Timeout: meter bounds each attempt, so Retry-After waits
		// between attempts do not count against it.
		Transport: khttp.NewCustomTransportWithParentTransport(m, middleware(cfg.MaxRetries, log)...),
		// Graph does not redirect the calls g2msync makes; one that does is
		// refused rather than followed with the bearer token.
		CheckRedirect: refuseRedirect("Graph"),
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	if err != nil {
		return nil, fmt.Errorf("graph source: request adapter: %w", err)
	}
	// The base URL must be set before the client is built: the client copies
	// it into its path parameters.
	adapter.SetBaseUrl(base)
	s.adapter = adapter
	s.client = msgraphsdk.NewGraphServiceClient(adapter)
	return s, nil
}

// selection returns the $select list (always id, userPrincipalName and
// accountEnabled, then each attribute's top-level property once) and the
// attribute names to copy.
func selection(attributes []string) (selects, attrs []string) {
	selects = []string{"id", "userPrincipalName", "accountEnabled"}
	for _, a := range attributes {
		top, _, _ := strings.Cut(a, ".")
		if !slices.ContainsFunc(selects, func(s string) bool { return strings.EqualFold(s, top) }) {
			selects = append(selects, top)
		}
		switch strings.ToLower(a) {
		case "id", "userprincipalname", "accountenabled":
		default:
			if !slices.Contains(attrs, a) {
				attrs = append(attrs, a)
			}
		}
	}
	return selects, attrs
}

func (c *Config) credential(name string, opts azcore.ClientOptions, disableDiscovery bool) (azcore.TokenCredential, error) {
	switch name {
	case "client secret":
		return azidentity.NewClientSecretCredential(c.TenantID, c.ClientID, c.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: disableDiscovery})
	case "client certificate":
		return azidentity.NewClientCertificateCredential(c.TenantID, c.ClientID, c.Certificates, c.PrivateKey,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: disableDiscovery})
	case "managed identity":
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if c.ManagedIdentityClientID != "" {
			o.ID = azidentity.ClientID(c.ManagedIdentityClientID)
		}
		return azidentity.NewManagedIdentityCredential(o)
	case "workload identity":
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: opts, ClientID: c.ClientID, TenantID: c.TenantID,
			TokenFilePath: c.WorkloadIdentityTokenFile, DisableInstanceDiscovery: disableDiscovery,
		})
	}
	return nil, errors.New("no credential selected")
}

// errorMappings makes kiota parse every 4xx/5xx body as Graph's ODataError.
func errorMappings() abs.ErrorMappings {
	return abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}
}

// Read lists the assignments, expands the assigned groups' user members
// and fetches the remaining directly assigned users, then assembles the
// snapshot. Any failed page fails the read.
func (s *Source) Read(ctx context.Context) (*directory.Snapshot, error) {
	snap, _, err := s.readFull(ctx, false, "")
	return snap, err
}

// readFull reads everything. With picture, it first takes delta links
// from now ($deltatoken=latest) for users and for the assigned groups, so
// that whatever changes while it reads is reported to the next delta read,
// and returns the picture to follow changes from. A delta link Graph will
// not give is no reason to fail: the read goes on without a picture.
func (s *Source) readFull(ctx context.Context, picture bool, reason string) (*directory.Snapshot, *directory.Picture, error) {
	readAt := time.Now()
	ctx, cancel, m := s.startRead(ctx)
	defer cancel()
	doubt := func(err error) error {
		if !isDoubt(err) {
			return err
		}
		s.log.WarnContext(ctx, "Graph gave no delta link; reading in full without one", logError, err.Error())
		picture, reason = false, reason+"; delta links refused: "+err.Error()
		return nil
	}
	var userLink string
	var err error
	if picture {
		c := call{op: "start following changes to users (users/delta from now)", permission: permUser}
		if userLink, err = s.latest(ctx, c, s.usersDeltaURL()); err != nil {
			if err = doubt(err); err != nil {
				return nil, nil, err
			}
		}
	}
	app, assignments, err := s.readAppAssignments(ctx)
	if err != nil {
		return nil, nil, err
	}
	groups := assignedGroups(assignments)
	var groupLinks []directory.GroupLink
	if picture {
		if groupLinks, err = s.groupLinks(ctx, groups); err != nil {
			if err = doubt(err); err != nil {
				return nil, nil, err
			}
		}
	}
	users, members, err := s.readGroups(ctx, groups)
	if err != nil {
		return nil, nil, err
	}
	var missing []string
	for _, id := range directUsers(assignments) {
		if _, ok := users[id]; !ok {
			missing = append(missing, id)
		}
	}
	if err := s.readUsers(ctx, missing, users); err != nil {
		return nil, nil, err
	}
	snap, err := directory.Assemble(directory.Reading{
		App: app, Assignments: assignments, Members: members, Users: users,
		ReadAt: readAt, Calls: int(m.calls.Load()),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read assignments of %q: %w", app.DisplayName, err)
	}
	snap.FullReason = reason
	s.log.DebugContext(ctx, "directory read", slog.Int("users", len(snap.Users)), slog.Int("groups", len(snap.Groups)),
		slog.Int("assignments", len(assignments)), slog.Int("calls", snap.Calls), slog.Int64(logDuration, time.Since(readAt).Milliseconds()))
	if !picture {
		return snap, nil, nil
	}
	pic := &directory.Picture{Version: directory.PictureVersion, Key: s.key(), FullAt: readAt, AppID: app.ID,
		Members: members, Users: users, Absent: map[string]bool{}, UserLink: userLink, GroupLinks: groupLinks}
	defer s.last.keep(pic, app, assignments, snap)
	for _, id := range missing {
		if _, ok := users[id]; !ok {
			pic.Absent[id] = true
		}
	}
	for _, ids := range members {
		for _, id := range ids {
			if _, ok := users[id]; !ok {
				pic.Absent[id] = true
			}
		}
	}
	return snap, pic, nil
}

// groupRef is an assigned group.
type groupRef struct{ id, name string }

// assignedGroups lists the groups assigned to the app, once each.
func assignedGroups(assignments []directory.AppAssignment) []groupRef {
	var gs []groupRef
	for _, a := range assignedOnce(assignments, directory.PrincipalGroup) {
		gs = append(gs, groupRef{a.PrincipalID, a.PrincipalDisplayName})
	}
	return gs
}

// directUsers lists the users assigned to the app directly, once each.
func directUsers(assignments []directory.AppAssignment) []string {
	var ids []string
	for _, a := range assignedOnce(assignments, directory.PrincipalUser) {
		ids = append(ids, a.PrincipalID)
	}
	return ids
}

// assignedOnce returns the first assignment of each principal of the
// given type, in the order Graph listed them.
func assignedOnce(assignments []directory.AppAssignment, principalType string) []directory.AppAssignment {
	var out []directory.AppAssignment
	seen := map[string]bool{}
	for _, a := range assignments {
		if a.PrincipalType == principalType && !seen[a.PrincipalID] {
			seen[a.PrincipalID] = true
			out = append(out, a)
		}
	}
	return out
}

// startRead bounds a whole read by ReadTimeout and counts its calls.
func (s *Source) startRead(ctx context.Context) (context.Context, context.CancelFunc, *readMeter) {
	ctx, cancel := context.WithTimeoutCause(ctx, s.cfg.readTimeout(),
		fmt.Errorf("the directory read took longer than %s", s.cfg.readTimeout()))
	ctx, m := withReadMeter(ctx)
	return ctx, cancel, m
}

// readAppAssignments reads the service principal and its assignments, with
// which every read begins.
func (s *Source) readAppAssignments(ctx context.Context) (directory.App, []directory.AppAssignment, error) {
	app, err := s.readApp(ctx)
	if err != nil {
		return app, nil, err
	}
	assignments, err := s.readAssignments(ctx, app)
	return app, assignments, err
}

func (s *Source) readApp(ctx context.Context) (directory.App, error) {
	sel := []string{"id", "appId", "displayName", "appRoles"}
	var sp models.ServicePrincipalable
	var err error
	ctx, tries := withAttempts(ctx)
	c := call{permission: permApplication}
	if s.cfg.ServicePrincipalID != "" {
		c.op = "read service principal " + s.cfg.ServicePrincipalID
		c.notFound = "no enterprise application has this object id in tenant " + s.cfg.TenantID + "; set the service principal's object id (Enterprise applications > Properties > Object ID), not the app registration's"
		sp, err = s.client.ServicePrincipals().ByServicePrincipalId(s.cfg.ServicePrincipalID).Get(ctx,
			&serviceprincipals.ServicePrincipalItemRequestBuilderGetRequestConfiguration{
				QueryParameters: &serviceprincipals.ServicePrincipalItemRequestBuilderGetQueryParameters{Select: sel},
			})
	} else {
		c.op = "find the service principal of app " + s.cfg.AppID
		c.notFound = "no enterprise application for this app id in tenant " + s.cfg.TenantID + "; check the app id, or that the app has a service principal in this tenant"
		appID := s.cfg.AppID
		sp, err = s.client.ServicePrincipalsWithAppId(&appID).Get(ctx,
			&serviceprincipalswithappid.ServicePrincipalsWithAppIdRequestBuilderGetRequestConfiguration{
				QueryParameters: &serviceprincipalswithappid.ServicePrincipalsWithAppIdRequestBuilderGetQueryParameters{Select: sel},
			})
	}
	if err != nil {
		return directory.App{}, s.classify(c, tries.n.Load(), err)
	}
	if sp == nil || sp.GetId() == nil {
		return directory.App{}, fmt.Errorf("%s: the reply holds no service principal", c.op)
	}
	app := directory.App{ID: deref(sp.GetId()), AppID: deref(sp.GetAppId()), DisplayName: deref(sp.GetDisplayName())}
	for _, r := range sp.GetAppRoles() {
		role := directory.AppRole{Value: deref(r.GetValue()), DisplayName: deref(r.GetDisplayName())}
		if id := r.GetId(); id != nil {
			role.ID = id.String()
		}
		if e := r.GetIsEnabled(); e != nil {
			role.Enabled = *e
		}
		app.Roles = append(app.Roles, role)
	}
	return app, nil
}

func (s *Source) readAssignments(ctx context.Context, app directory.App) ([]directory.AppAssignment, error) {
	top := int32(pageSize)
	b := s.client.ServicePrincipals().ByServicePrincipalId(app.ID).AppRoleAssignedTo()
	cfg := &serviceprincipals.ItemAppRoleAssignedToRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ItemAppRoleAssignedToRequestBuilderGetQueryParameters{
			Top:    &top,
			Select: []string{"id", "appRoleId", "principalId", "principalType", "principalDisplayName"},
		},
	}
	var out []directory.AppAssignment
	pg := s.pager()
	req, err := b.ToGetRequestInformation(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("list assignments of app %q: %w", app.DisplayName, err)
	}
	for page := 1; ; page++ {
		c := call{
			op:         fmt.Sprintf("list assignments of app %q (service principal %s), page %d", app.DisplayName, app.ID, page),
			permission: permApplication,
			notFound:   "the enterprise application was deleted during the read",
		}
		body, err := s.sendBytes(ctx, c, req)
		if err != nil {
			return nil, err
		}
		rows, next, err := decodeAssignments(body, out)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.op, err)
		}
		out = rows
		if next == "" {
			return out, nil
		}
		if _, err := pg.follow(next); err != nil {
			return nil, fmt.Errorf("%s: %w", c.op, err)
		}
		if req, err = b.WithUrl(next).ToGetRequestInformation(ctx, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", c.op, err)
		}
	}
}

// readGroups reads the members of every assigned group, GroupReads groups
// at a time, each into its own map: the read takes about as long as the
// largest group rather than the sum of all. The first failure stops the
// others and fails the read.
func (s *Source) readGroups(ctx context.Context, gs []groupRef) (map[string]directory.User, map[string][]string, error) {
	type result struct {
		ids   []string
		users map[string]directory.User
		err   error
	}
	results := make([]result, len(gs))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, s.cfg.groupReads())
	var wg sync.WaitGroup
	for i, g := range gs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i].err = context.Cause(ctx)
				return
			}
			defer func() { <-sem }()
			r := &results[i]
			r.users = map[string]directory.User{}
			if r.ids, r.err = s.readMembers(ctx, g.id, g.name, r.users); r.err != nil {
				cancel(r.err)
			}
		}()
	}
	wg.Wait()
	users := map[string]directory.User{}
	members := make(map[string][]string, len(gs))
	for i, g := range gs {
		if err := results[i].err; err != nil {
			return nil, nil, context.Cause(ctx) // the first failure, not what it cancelled
		}
		members[g.id] = results[i].ids
		for id, u := range results[i].users {
			if _, ok := users[id]; !ok {
				users[id] = u
			}
		}
	}
	return users, members, nil
}

// readMembers reads the user members of an assigned group (transitive when
// NestedGroups), adds those not yet read to users, and returns their ids.
func (s *Source) readMembers(ctx context.Context, gid, name string, users map[string]directory.User) ([]string, error) {
	top := int32(pageSize)
	var first *abs.RequestInformation
	var err error
	g := s.client.Groups().ByGroupId(gid)
	kind := "members"
	if s.cfg.NestedGroups {
		kind = "transitive members"
		first, err = g.TransitiveMembers().GraphUser().ToGetRequestInformation(ctx,
			&groups.ItemTransitiveMembersGraphUserRequestBuilderGetRequestConfiguration{
				QueryParameters: &groups.ItemTransitiveMembersGraphUserRequestBuilderGetQueryParameters{Top: &top, Select: s.selects},
			})
	} else {
		first, err = g.Members().GraphUser().ToGetRequestInformation(ctx,
			&groups.ItemMembersGraphUserRequestBuilderGetRequestConfiguration{
				QueryParameters: &groups.ItemMembersGraphUserRequestBuilderGetQueryParameters{Top: &top, Select: s.selects},
			})
	}
	if err != nil {
		return nil, fmt.Errorf("list %s of group %q (id %s): build request: %w", kind, name, gid, err)
	}
	ids := []string{}
	c := call{
		op:         fmt.Sprintf("list %s of group %q (id %s)", kind, name, gid),
		permission: permGroupMember,
		notFound:   "the group was deleted during the read; the next cycle will not see its assignment",
	}
	err = s.collect(ctx, c, first, func(it map[string]any) error {
		u, err := s.user(it)
		if err != nil {
			return err
		}
		ids = append(ids, u.ID)
		if _, seen := users[u.ID]; !seen {
			users[u.ID] = u
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// readUsers fetches users by id with getByIds, 1000 at a time. $select goes
// in the query string: getByIds has no query parameters in the SDK's URL
// template, yet v1.0 only returns the default property subset without it
// (accountEnabled is not in it). Users not returned were deleted since the
// assignments were listed and are left out.
func (s *Source) readUsers(ctx context.Context, ids []string, users map[string]directory.User) error {
	raw := s.base + "/directoryObjects/getByIds?$select=" + url.QueryEscape(strings.Join(s.selects, ","))
	for start := 0; start < len(ids); start += getByIDsSize {
		chunk := ids[start:min(start+getByIDsSize, len(ids))]
		c := call{
			op:         fmt.Sprintf("read %d directly assigned users (getByIds, batch %d)", len(chunk), start/getByIDsSize+1),
			permission: permUser,
			notFound:   "Graph did not find the getByIds endpoint; check the Graph base URL",
		}
		body := directoryobjects.NewGetByIdsPostRequestBody()
		body.SetIds(chunk)
		body.SetTypes([]string{"user"})
		req, err := s.client.DirectoryObjects().GetByIds().WithUrl(raw).ToPostRequestInformation(ctx, body, nil)
		if err != nil {
			return fmt.Errorf("%s: build request: %w", c.op, err)
		}
		items, _, err := s.sendPage(ctx, c, req)
		if err != nil {
			return err
		}
		for _, it := range items {
			if t, _ := scalar(it["@odata.type"]); t != "" && t != "#microsoft.graph.user" {
				continue
			}
			u, err := s.user(it)
			if err != nil {
				return fmt.Errorf("%s: %w", c.op, err)
			}
			users[u.ID] = u
		}
	}
	return nil
}

// sendPage sends one request whose reply is a collection and returns its
// items and nextLink.
func (s *Source) sendPage(ctx context.Context, c call, req *abs.RequestInformation) ([]map[string]any, string, error) {
	obj, err := s.sendRaw(ctx, c, req)
	if err != nil {
		return nil, "", err
	}
	items, next, err := obj.page()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", c.op, err)
	}
	return items, next, nil
}

// sendRaw sends one request and returns its reply's JSON object.
//
// The reply's bytes are taken from kiota (its retries, authentication and
// error mapping still apply) and decoded with encoding/json: kiota's own
// parse tree, then its conversion into additional data, cost three times
// the memory and twice the CPU of one decode, and a full read of 100,000
// people holds several replies at once.
func (s *Source) sendRaw(ctx context.Context, c call, req *abs.RequestInformation) (*rawObject, error) {
	body, err := s.sendBytes(ctx, c, req)
	if err != nil {
		return nil, err
	}
	obj, err := decodeRaw(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.op, err)
	}
	return obj, nil
}

// sendBytes sends req through the SDK's adapter (its retries, its bounds
// on the reply) and returns the reply's body.
func (s *Source) sendBytes(ctx context.Context, c call, req *abs.RequestInformation) ([]byte, error) {
	ctx, tries := withAttempts(ctx)
	res, err := s.adapter.SendPrimitive(ctx, req, "[]byte", errorMappings())
	if err != nil {
		return nil, s.classify(c, tries.n.Load(), err)
	}
	body, _ := res.([]byte)
	if len(body) == 0 {
		return nil, fmt.Errorf("%s: empty reply", c.op)
	}
	return body, nil
}

// user converts one user object. Users without userPrincipalName come from
// an app that may not read users: Graph then returns only id and type.
func (s *Source) user(it map[string]any) (directory.User, error) {
	id, _ := scalar(it["id"])
	if id == "" {
		return directory.User{}, errors.New("a user in the reply has no id")
	}
	upn, ok := scalar(it["userPrincipalName"])
	if !ok || upn == "" {
		return directory.User{}, fmt.Errorf("user %s came without userPrincipalName, as Graph sends users to an app that may not read them: grant the Microsoft Graph application permission %s to app %s and grant admin consent",
			id, permUser, s.cfg.ClientID)
	}
	u := directory.User{ID: id, UserPrincipalName: upn, Attributes: make(map[string]string, len(s.attrs))}
	if err := s.setEnabled(&u, it); err != nil {
		return directory.User{}, err
	}
	for _, a := range s.attrs {
		setAttr(&u, it, a)
	}
	return u, nil
}

// merge applies a user delta item to what was read before. Graph sends an
// updated user's id "with at least the properties that have been updated":
// a property absent from the item is unchanged, one present (null
// included) is its new value.
func (s *Source) merge(old directory.User, it map[string]any) (directory.User, error) {
	u := old
	u.Attributes = maps.Clone(old.Attributes)
	if u.Attributes == nil {
		u.Attributes = map[string]string{}
	}
	u.Lists = maps.Clone(old.Lists)
	if v, ok := it["userPrincipalName"]; ok {
		upn, _ := scalar(v)
		if upn == "" {
			return old, fmt.Errorf("a change to user %s sets userPrincipalName to %s", old.ID, describeValue(it, "userPrincipalName"))
		}
		u.UserPrincipalName = upn
	}
	if _, ok := it["accountEnabled"]; ok {
		if err := s.setEnabled(&u, it); err != nil {
			return old, err
		}
	}
	for _, a := range s.attrs {
		top, _, _ := strings.Cut(a, ".")
		if _, ok := it[top]; ok {
			delete(u.Attributes, a)
			delete(u.Lists, a)
			setAttr(&u, it, a)
		}
	}
	return u, nil
}

// setEnabled reads accountEnabled. An absent, null or non-boolean value is
// unknown, not false: read as disabled it would plan a disable. Refuse
// the read instead.
func (s *Source) setEnabled(u *directory.User, it map[string]any) error {
	enabled, known := boolean(it["accountEnabled"])
	if !known {
		return fmt.Errorf("user %s (%s) came with accountEnabled %s, not true or false, although it was selected; "+
			"refusing the read rather than taking the account as disabled", u.ID, u.UserPrincipalName, describeValue(it, "accountEnabled"))
	}
	u.AccountEnabled = enabled
	return nil
}

// setAttr copies attribute a from a user object: scalars into Attributes,
// collections item by item into Lists (and joined into Attributes).
func setAttr(u *directory.User, it map[string]any, a string) {
	v, ok := lookup(it, a)
	if !ok {
		return
	}
	if str, ok := scalar(v); ok {
		u.Attributes[a] = str
	}
	if items, ok := v.([]any); ok {
		if u.Lists == nil {
			u.Lists = map[string][]string{}
		}
		l := make([]string, 0, len(items))
		for _, e := range items {
			if s, ok := scalar(e); ok {
				l = append(l, s)
			}
		}
		u.Lists[a] = l
	}
}

// boolean returns a JSON boolean's value, and false when v is not one.
func boolean(v any) (value, ok bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case *bool:
		if x != nil {
			return *x, true
		}
	}
	return false, false
}

// describeValue says what a property held, for an error: absent, null or
// its value.
func describeValue(it map[string]any, key string) string {
	v, ok := it[key]
	if !ok {
		return "absent"
	}
	if s, ok := scalar(v); ok {
		return fmt.Sprintf("%q", s)
	}
	return "null"
}

// pager checks each @odata.nextLink before it is followed. Graph's links
// point back at the Graph base URL it was called on; one that points
// elsewhere would send the bearer token there and let another server say
// where a collection ends, so it is refused. So is a link to a page already
// read (a loop), and a collection longer than MaxPages.
type pager struct {
	origin string
	max    int
	seen   map[string]bool
}

func (s *Source) pager() *pager {
	u, _ := url.Parse(s.base)
	return &pager{origin: u.Scheme + "://" + u.Host, max: s.cfg.maxPages(), seen: map[string]bool{}}
}

func (p *pager) follow(next string) (*url.URL, error) {
	u, err := p.onOrigin("@odata.nextLink", next)
	if err != nil {
		return nil, err
	}
	if p.seen[next] {
		return nil, fmt.Errorf("@odata.nextLink repeats an earlier page (%s); refusing to loop", next)
	}
	p.seen[next] = true
	if len(p.seen) >= p.max {
		return nil, fmt.Errorf("the collection has more than %d pages; refusing to read on (a server whose pages never end)", p.max)
	}
	return u, nil
}

// onOrigin parses a link Graph sent (what names it) and refuses one to
// another origin: following it would send the bearer token there and let
// that server say what the directory holds.
func (p *pager) onOrigin(what, link string) (*url.URL, error) {
	u, err := url.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("bad %s %q: %w", what, link, err)
	}
	if got := u.Scheme + "://" + u.Host; !strings.EqualFold(got, p.origin) {
		return nil, fmt.Errorf("refusing %s to another origin (%s, not %s): a partial read is never taken for the whole", what, got, p.origin)
	}
	return u, nil
}

// refuseRedirect makes an http.Client refuse every redirect, saying which
// server sent it and where.
func refuseRedirect(who string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, _ []*http.Request) error {
		return &redirectError{fmt.Sprintf("%s answered with a redirect to %s://%s%s; g2msync follows no redirect with credentials: check the configured URLs",
			who, req.URL.Scheme, req.URL.Host, req.URL.Path)}
	}
}

// redirectError is a refused redirect. Retrying would meet it again, so it
// tells azcore's retry policy to give up at once.
type redirectError struct{ msg string }

func (e *redirectError) Error() string { return e.msg }

// NonRetriable marks the error for azcore (errorinfo.NonRetriable).
func (*redirectError) NonRetriable() {}
