package graphsim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The methods in this file change the tenant. They are safe to call while the
// server is serving: each takes the model lock, so a read in flight sees the
// tenant before or after the change, never half of it. Object ids may be given
// (for fixtures) or left empty to be generated from Options.Seed.

// ErrNotFound is returned by the Go API for an unknown object id.
var ErrNotFound = errors.New("graphsim: no such object")

// TenantID returns the simulated tenant's id.
func (s *Server) TenantID() string { return s.t.id }

// AddApp registers a client application that can sign in. It returns the
// client id.
func (s *Server) AddApp(a App) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.ClientID == "" {
		a.ClientID = newGUID(s.t.rng)
	}
	if _, dup := s.t.apps[a.ClientID]; dup {
		return "", fmt.Errorf("graphsim: app %s already registered", a.ClientID)
	}
	for _, c := range a.Certificates {
		if c == nil {
			return "", errors.New("graphsim: nil certificate")
		}
	}
	a.Secrets = slices.Clone(a.Secrets)
	a.Certificates = slices.Clone(a.Certificates)
	a.FederatedTokens = slices.Clone(a.FederatedTokens)
	a.Permissions = slices.Clone(a.Permissions)
	a.RedirectURIs = slices.Clone(a.RedirectURIs)
	s.t.apps[a.ClientID] = &app{App: a, spID: newGUID(s.t.rng)}
	return a.ClientID, nil
}

// GrantPermission grants an application permission (with admin consent).
// Tokens issued before the grant do not carry it, as in Entra.
func (s *Server) GrantPermission(clientID, permission string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.t.apps[clientID]
	if a == nil {
		return fmt.Errorf("app %s: %w", clientID, ErrNotFound)
	}
	if !slices.Contains(a.Permissions, permission) {
		a.Permissions = append(a.Permissions, permission)
	}
	return nil
}

// RevokePermission removes an application permission. Tokens already issued
// keep their roles until they expire, as in Entra; call RevokeTokens to make
// the change bite at once.
func (s *Server) RevokePermission(clientID, permission string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.t.apps[clientID]
	if a == nil {
		return fmt.Errorf("app %s: %w", clientID, ErrNotFound)
	}
	a.Permissions = slices.DeleteFunc(a.Permissions, func(p string) bool { return p == permission })
	return nil
}

// RevokeTokens makes every access token issued so far to the client invalid:
// Graph answers 401 InvalidAuthenticationToken until a new one is fetched.
func (s *Server) RevokeTokens(clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.t.apps[clientID]
	if a == nil {
		return fmt.Errorf("app %s: %w", clientID, ErrNotFound)
	}
	if a.revoked == nil {
		a.revoked = map[string]bool{}
	}
	for _, uti := range a.issued {
		a.revoked[uti] = true
	}
	a.issued = nil
	return nil
}

// AddServicePrincipal adds an enterprise application with its app roles. It
// returns the object id.
func (s *Server) AddServicePrincipal(sp ServicePrincipal) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sp.ID == "" {
		sp.ID = newGUID(s.t.rng)
	}
	if sp.AppID == "" {
		sp.AppID = newGUID(s.t.rng)
	}
	if s.t.objectType(sp.ID) != "" {
		return "", fmt.Errorf("graphsim: object %s already exists", sp.ID)
	}
	for _, other := range s.t.sps {
		if strings.EqualFold(other.AppID, sp.AppID) {
			return "", fmt.Errorf("graphsim: a service principal for app %s already exists", sp.AppID)
		}
	}
	roles := make([]AppRole, 0, len(sp.AppRoles))
	for _, r := range sp.AppRoles {
		if r.ID == "" {
			r.ID = newGUID(s.t.rng)
		}
		if r.AllowedMemberTypes == nil {
			r.AllowedMemberTypes = []string{"User"}
		}
		roles = append(roles, r)
	}
	sp.AppRoles = roles
	sp.Tags = slices.Clone(sp.Tags)
	s.t.sps[sp.ID] = &servicePrincipal{ServicePrincipal: sp, created: s.now()}
	return sp.ID, nil
}

// AppRoles returns the roles of a service principal, ids filled in.
func (s *Server) AppRoles(spID string) ([]AppRole, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sp := s.t.sps[spID]
	if sp == nil {
		return nil, fmt.Errorf("service principal %s: %w", spID, ErrNotFound)
	}
	return slices.Clone(sp.AppRoles), nil
}

// AddUser adds an enabled (unless Disabled) user and returns its id.
func (s *Server) AddUser(u User) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		u.ID = newGUID(s.t.rng)
	}
	if u.UserPrincipalName == "" {
		return "", errors.New("graphsim: user needs a userPrincipalName")
	}
	if s.t.objectType(u.ID) != "" {
		return "", fmt.Errorf("graphsim: object %s already exists", u.ID)
	}
	if s.upnTaken(u.UserPrincipalName, "") {
		return "", fmt.Errorf("graphsim: userPrincipalName %s already exists", u.UserPrincipalName)
	}
	props := map[string]any{}
	for k, v := range u.Attributes {
		name, ok := canonicalProp(k, userProps)
		if !ok {
			return "", fmt.Errorf("graphsim: unknown user property %q", k)
		}
		props[name] = v
	}
	set := func(k, v string) {
		if v != "" {
			props[k] = v
		}
	}
	props["userPrincipalName"] = u.UserPrincipalName
	props["accountEnabled"] = !u.Disabled
	set("displayName", u.DisplayName)
	set("givenName", u.GivenName)
	set("surname", u.Surname)
	set("mail", u.Mail)
	set("jobTitle", u.JobTitle)
	set("department", u.Department)
	set("employeeId", u.EmployeeID)
	if _, ok := props["userType"]; !ok {
		props["userType"] = "Member"
	}
	delete(s.t.tombs, u.ID)
	seq := s.t.bump()
	s.t.users[u.ID] = &user{id: u.ID, props: props, changed: seq, whole: seq, propChanged: map[string]int64{}, created: s.now()}
	s.t.upns[strings.ToLower(u.UserPrincipalName)] = u.ID
	return u.ID, nil
}

func (s *Server) upnTaken(upn, except string) bool {
	id, ok := s.t.upns[strings.ToLower(upn)]
	return ok && id != except
}

// UpdateUser sets user properties by Graph name (a nil value clears one).
// Renaming is UpdateUser(id, map[string]any{"userPrincipalName": …, "mail": …}).
func (s *Server) UpdateUser(id string, props map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.t.users[id]
	if u == nil {
		return fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	for k, v := range props {
		name, ok := canonicalProp(k, userProps)
		if !ok || name == "id" {
			return fmt.Errorf("graphsim: cannot set user property %q", k)
		}
		switch name {
		case "userPrincipalName":
			upn, _ := v.(string)
			if upn == "" {
				return errors.New("graphsim: userPrincipalName cannot be empty")
			}
			if s.upnTaken(upn, id) {
				return fmt.Errorf("graphsim: userPrincipalName %s already exists", upn)
			}
		case "accountEnabled":
			if _, ok := v.(bool); !ok {
				return errors.New("graphsim: accountEnabled must be a bool")
			}
		}
	}
	u.changed = s.t.bump()
	for k, v := range props {
		name, _ := canonicalProp(k, userProps)
		if name == "userPrincipalName" {
			delete(s.t.upns, strings.ToLower(u.upn()))
			s.t.upns[strings.ToLower(v.(string))] = id
		}
		if v == nil {
			delete(u.props, name)
		} else {
			u.props[name] = v
		}
		u.propChanged[name] = u.changed
	}
	return nil
}

// RenameUser changes a user's userPrincipalName and mail (mail "" leaves it).
func (s *Server) RenameUser(id, upn, mail string) error {
	p := map[string]any{"userPrincipalName": upn}
	if mail != "" {
		p["mail"] = mail
	}
	return s.UpdateUser(id, p)
}

// DisableUser sets accountEnabled false. The user stays in every read.
func (s *Server) DisableUser(id string) error {
	return s.UpdateUser(id, map[string]any{"accountEnabled": false})
}

// EnableUser sets accountEnabled true.
func (s *Server) EnableUser(id string) error {
	return s.UpdateUser(id, map[string]any{"accountEnabled": true})
}

// SoftDeleteUser moves a user to deleted items: it vanishes from
// assignments, memberships and lookups until RestoreUser.
func (s *Server) SoftDeleteUser(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.t.users[id]
	if u == nil || u.softDeleted {
		return fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	u.softDeleted = true
	s.t.assignGen++ // the user's assignments vanish
	u.changed = s.t.bump()
	s.logMembership(id, false)
	return nil
}

// RestoreUser brings a soft-deleted user back with its memberships and
// assignments, as restoring from deleted items does in Entra.
func (s *Server) RestoreUser(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.t.users[id]
	if u == nil || !u.softDeleted {
		return fmt.Errorf("deleted user %s: %w", id, ErrNotFound)
	}
	u.softDeleted = false
	s.t.assignGen++
	u.changed = s.t.bump()
	u.whole = u.changed
	s.logMembership(id, true)
	return nil
}

// logMembership records a membership event in every group that holds id.
func (s *Server) logMembership(id string, added bool) {
	for _, g := range s.t.groups {
		if g.members[id] {
			g.log = append(g.log, memberEvent{seq: s.t.bump(), member: id, added: added})
		}
	}
}

// HardDeleteUser removes a user for good, with its memberships and assignments.
func (s *Server) HardDeleteUser(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t.users[id] == nil {
		return fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	s.deleteObject(id, "user")
	delete(s.t.upns, strings.ToLower(s.t.users[id].upn()))
	delete(s.t.users, id)
	return nil
}

func (s *Server) deleteObject(id, kind string) {
	for _, g := range s.t.groups {
		if g.members[id] {
			delete(g.members, id)
			g.log = append(g.log, memberEvent{seq: s.t.bump(), member: id, added: false})
		}
	}
	for aid, a := range s.t.assignments {
		if a.principalID == id || a.resourceID == id {
			delete(s.t.assignments, aid)
			s.t.assignGen++
		}
	}
	s.t.tombs[id] = tomb{kind: kind, seq: s.t.bump()}
}

// AddGroup adds a group and returns its id.
func (s *Server) AddGroup(g Group) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.ID == "" {
		g.ID = newGUID(s.t.rng)
	}
	if s.t.objectType(g.ID) != "" {
		return "", fmt.Errorf("graphsim: object %s already exists", g.ID)
	}
	nick := g.MailNickname
	if nick == "" {
		nick = strings.ReplaceAll(g.DisplayName, " ", "")
	}
	props := map[string]any{
		"displayName":     g.DisplayName,
		"mailNickname":    nick,
		"mailEnabled":     false,
		"securityEnabled": g.SecurityEnabled,
	}
	if g.Description != "" {
		props["description"] = g.Description
	}
	delete(s.t.tombs, g.ID)
	s.t.groups[g.ID] = &group{id: g.ID, props: props, members: map[string]bool{}, changed: s.t.bump(), created: s.now()}
	return g.ID, nil
}

// DeleteGroup removes a group with its memberships and assignments.
func (s *Server) DeleteGroup(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t.groups[id] == nil {
		return fmt.Errorf("group %s: %w", id, ErrNotFound)
	}
	s.deleteObject(id, "group")
	delete(s.t.groups, id)
	return nil
}

// AddMember adds a user, group or service principal to a group.
func (s *Server) AddMember(groupID, memberID string) error {
	return s.AddMembers(groupID, memberID)
}

// AddMembers adds several members at once (thousands are cheap).
func (s *Server) AddMembers(groupID string, memberIDs ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.t.groups[groupID]
	if g == nil {
		return fmt.Errorf("group %s: %w", groupID, ErrNotFound)
	}
	for _, m := range memberIDs {
		if s.t.objectType(m) == "" {
			return fmt.Errorf("member %s: %w", m, ErrNotFound)
		}
		if m == groupID {
			return errors.New("graphsim: a group cannot be a member of itself")
		}
	}
	for _, m := range memberIDs {
		if g.members[m] {
			continue
		}
		g.members[m] = true
		g.log = append(g.log, memberEvent{seq: s.t.bump(), member: m, added: true})
	}
	return nil
}

// RemoveMember removes a member from a group.
func (s *Server) RemoveMember(groupID, memberID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.t.groups[groupID]
	if g == nil || !g.members[memberID] {
		return fmt.Errorf("membership %s in %s: %w", memberID, groupID, ErrNotFound)
	}
	delete(g.members, memberID)
	g.log = append(g.log, memberEvent{seq: s.t.bump(), member: memberID, added: false})
	return nil
}

// Assign assigns a user, group or service principal to an app role of the
// resource service principal (DefaultAccessRoleID for "Default Access") and
// returns the assignment id.
func (s *Server) Assign(resourceID, principalID, appRoleID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.t.sps[resourceID]
	if sp == nil {
		return "", fmt.Errorf("service principal %s: %w", resourceID, ErrNotFound)
	}
	if s.t.objectType(principalID) == "" {
		return "", fmt.Errorf("principal %s: %w", principalID, ErrNotFound)
	}
	if appRoleID != DefaultAccessRoleID && !slices.ContainsFunc(sp.AppRoles, func(r AppRole) bool { return r.ID == appRoleID }) {
		return "", fmt.Errorf("graphsim: app role %s is not defined by %s", appRoleID, sp.DisplayName)
	}
	for _, a := range s.t.assignments {
		if a.resourceID == resourceID && a.principalID == principalID && a.appRoleID == appRoleID {
			return "", fmt.Errorf("graphsim: %s already has role %s", principalID, appRoleID)
		}
	}
	id := assignmentID(s.t.rng)
	s.t.assignments[id] = &assignment{id: id, resourceID: resourceID, principalID: principalID, appRoleID: appRoleID, created: s.now()}
	s.t.assignGen++
	return id, nil
}

// Unassign removes the assignment of principalID to appRoleID.
func (s *Server) Unassign(resourceID, principalID, appRoleID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, a := range s.t.assignments {
		if a.resourceID == resourceID && a.principalID == principalID && a.appRoleID == appRoleID {
			delete(s.t.assignments, id)
			s.t.assignGen++
			return nil
		}
	}
	return fmt.Errorf("assignment of %s to role %s: %w", principalID, appRoleID, ErrNotFound)
}
