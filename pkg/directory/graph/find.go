package graph

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/g2msync/g2msync/pkg/address"
	"github.com/g2msync/g2msync/pkg/directory"
)

var _ directory.Finder = (*Source)(nil)

// objectID is the form of an Entra object id.
var objectID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Find reads the named people without a full read: the app and its
// assignment list (which a full read reads too, under the same permission),
// then for each query the user it names and the groups that user belongs
// to. The people come with the assignments a full read would give them:
// direct ones, and those of the assigned groups they are a member of
// (transitively when NestedGroups). With nested groups off, the assigned
// groups they reach only through nesting are noted, to say why they are
// out of scope. Any failed call fails the whole read.
func (s *Source) Find(ctx context.Context, queries []string) (*directory.Found, error) {
	readAt := time.Now()
	ctx, cancel, m := s.startRead(ctx)
	defer cancel()
	app, assignments, err := s.readAppAssignments(ctx)
	if err != nil {
		return nil, err
	}
	assignedGroups := map[string]bool{}
	for _, a := range assignments {
		if a.PrincipalType == directory.PrincipalGroup {
			assignedGroups[a.PrincipalID] = true
		}
	}
	found := &directory.Found{}
	people := map[string]directory.User{}
	members := map[string][]string{}
	nestedOnly := map[string][]string{}
	for _, q := range queries {
		ids, err := s.findUsers(ctx, q, people)
		if err != nil {
			return nil, err
		}
		found.Matches = append(found.Matches, directory.Match{Query: q, IDs: ids})
	}
	for id, u := range people {
		groups, nested, err := s.userGroups(ctx, u, assignedGroups)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			members[g] = append(members[g], id)
		}
		nestedOnly[id] = nested
	}
	// Only the assignments that concern the people found are assembled:
	// theirs, and their groups'.
	var mine []directory.AppAssignment
	for _, a := range assignments {
		_, person := people[a.PrincipalID]
		_, group := members[a.PrincipalID]
		if (a.PrincipalType == directory.PrincipalUser && person) || (a.PrincipalType == directory.PrincipalGroup && group) {
			mine = append(mine, a)
		}
	}
	snap, err := directory.Assemble(directory.Reading{App: app, Assignments: mine, Members: members, Users: people, ReadAt: readAt})
	if err != nil {
		return nil, fmt.Errorf("read assignments of %q: %w", app.DisplayName, err)
	}
	assembled := make(map[string]bool, len(snap.Users))
	for _, u := range snap.Users {
		assembled[u.ID] = true
	}
	for id, u := range people {
		if !assembled[id] {
			snap.Users = append(snap.Users, u) // found, but not assigned
		}
	}
	slices.SortFunc(snap.Users, func(a, b directory.User) int { return strings.Compare(a.ID, b.ID) })
	for i := range snap.Users {
		snap.Users[i].NestedOnly = nestedOnly[snap.Users[i].ID]
	}
	snap.Calls = int(m.calls.Load())
	found.Snapshot = snap
	return found, nil
}

// userFilter is the $filter that finds q: by id when it is an object id,
// else by userPrincipalName or mail. Graph compares these without case;
// a quote in a literal is doubled.
func userFilter(q string) string {
	if objectID.MatchString(q) {
		return "id eq '" + strings.ToLower(q) + "'"
	}
	lit := "'" + strings.ReplaceAll(q, "'", "''") + "'"
	return "userPrincipalName eq " + lit + " or mail eq " + lit
}

// findUsers adds the users q names to people and returns their ids: one
// usually, none when no user matches, two when one's mail is another's
// userPrincipalName.
func (s *Source) findUsers(ctx context.Context, q string, people map[string]directory.User) ([]string, error) {
	filter, top := userFilter(q), int32(pageSize)
	sel := s.selects
	if !slices.Contains(sel, "mail") {
		sel = append(slices.Clip(sel), "mail")
	}
	req, err := s.client.Users().ToGetRequestInformation(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: &filter, Select: sel, Top: &top},
	})
	if err != nil {
		return nil, fmt.Errorf("find user %q: build request: %w", q, err)
	}
	c := call{op: fmt.Sprintf("find user %q", q), permission: permUser, notFound: "Graph did not find the users endpoint; check the Graph base URL"}
	ids := []string{}
	err = s.collect(ctx, c, req, func(it map[string]any) error {
		u, err := s.user(it)
		if err != nil {
			return err
		}
		// The server chose whom to return: one who is not the person asked
		// for would be provisioned in their place.
		mail, _ := scalar(it["mail"])
		// Compared by the address rules: Unicode folding takes the Kelvin
		// sign for a k, and so someone else for the person asked for.
		if !address.Equal(u.ID, q) && !address.Equal(u.UserPrincipalName, q) && !address.Equal(mail, q) {
			return fmt.Errorf("Graph returned user %s (%s), whose id, userPrincipalName and mail all differ from %q; refusing the read", u.ID, u.UserPrincipalName, q)
		}
		if !slices.Contains(ids, u.ID) {
			ids = append(ids, u.ID)
		}
		people[u.ID] = u
		return nil
	})
	return ids, err
}

// userGroups returns the assigned groups through which u is assigned, and
// (with nested groups off) the assigned groups u reaches only through a
// nested group, by name.
func (s *Source) userGroups(ctx context.Context, u directory.User, assigned map[string]bool) (via, nestedOnly []string, err error) {
	transitive, names, err := s.memberOf(ctx, u, true, assigned)
	if err != nil || s.cfg.NestedGroups {
		return transitive, nil, err
	}
	direct, _, err := s.memberOf(ctx, u, false, assigned)
	if err != nil {
		return nil, nil, err
	}
	for _, g := range transitive {
		if !slices.Contains(direct, g) {
			nestedOnly = append(nestedOnly, names[g])
		}
	}
	slices.Sort(nestedOnly)
	return direct, nestedOnly, nil
}

// memberOf lists the groups u is a member of (transitively or directly)
// that are assigned to the app, with their names.
func (s *Source) memberOf(ctx context.Context, u directory.User, transitive bool, assigned map[string]bool) ([]string, map[string]string, error) {
	top, sel := int32(pageSize), []string{"id", "displayName"}
	b := s.client.Users().ByUserId(u.ID)
	var req *abs.RequestInformation
	var err error
	kind := "groups"
	if transitive {
		kind = "groups, nested ones included,"
		req, err = b.TransitiveMemberOf().ToGetRequestInformation(ctx, &users.ItemTransitiveMemberOfRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.ItemTransitiveMemberOfRequestBuilderGetQueryParameters{Top: &top, Select: sel},
		})
	} else {
		req, err = b.MemberOf().ToGetRequestInformation(ctx, &users.ItemMemberOfRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.ItemMemberOfRequestBuilderGetQueryParameters{Top: &top, Select: sel},
		})
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list the groups of %s: build request: %w", u.UserPrincipalName, err)
	}
	c := call{op: fmt.Sprintf("list the %s %s is a member of", kind, u.UserPrincipalName), permission: permUser,
		notFound: "the user was deleted during the read"}
	var ids []string
	names := map[string]string{}
	err = s.collect(ctx, c, req, func(it map[string]any) error {
		if t, _ := scalar(it["@odata.type"]); t != "#microsoft.graph.group" {
			return nil // directory roles and administrative units are listed too
		}
		id, _ := scalar(it["id"])
		if assigned[id] {
			ids = append(ids, id)
			names[id], _ = scalar(it["displayName"])
		}
		return nil
	})
	return ids, names, err
}

// collect sends req and every page its nextLinks lead to, passing each item
// to fn. Links are checked before they are followed (see pager).
func (s *Source) collect(ctx context.Context, c call, req *abs.RequestInformation, fn func(map[string]any) error) error {
	_, err := s.pages(ctx, c, s.pager(), req, "", fn)
	return err
}

// pages sends req, then follows each @odata.nextLink (checked by pg),
// passing every item to fn, and returns the last page's reply: a delta
// round ends there with its @odata.deltaLink. prefer, when set, is sent as
// the Prefer header of every request.
func (s *Source) pages(ctx context.Context, c call, pg *pager, req *abs.RequestInformation, prefer string, fn func(map[string]any) error) (*rawObject, error) {
	op := c.op
	for page := 1; ; page++ {
		c.op = fmt.Sprintf("%s, page %d", op, page)
		if prefer != "" {
			req.Headers.Add("Prefer", prefer)
		}
		obj, err := s.sendRaw(ctx, c, req)
		if err != nil {
			return nil, err
		}
		items, next, err := obj.page()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.op, err)
		}
		for _, it := range items {
			if err := fn(it); err != nil {
				return nil, fmt.Errorf("%s: %w", c.op, err)
			}
		}
		if next == "" {
			return obj, nil
		}
		nu, err := pg.follow(next)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.op, err)
		}
		req = abs.NewRequestInformation()
		req.Method = abs.GET
		req.SetUri(*nu)
	}
}
