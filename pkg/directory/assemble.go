package directory

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Principal types of an app role assignment, as Graph names them.
const (
	PrincipalUser             = "User"
	PrincipalGroup            = "Group"
	PrincipalServicePrincipal = "ServicePrincipal"
)

// AppAssignment is one row of the app's appRoleAssignedTo list.
type AppAssignment struct {
	PrincipalID          string
	PrincipalType        string // PrincipalUser, PrincipalGroup or PrincipalServicePrincipal
	PrincipalDisplayName string
	AppRoleID            string
}

// Reading is the raw material of a Snapshot: what a reader fetched, before
// users are joined to the ways they are assigned. A full Graph read fills it
// in one go; a delta-based reader can fill it from a cache kept in the state
// store and get the same Snapshot out of Assemble.
type Reading struct {
	App         App
	Assignments []AppAssignment
	// Members maps each assigned group's id to the ids of its user members
	// (direct, or transitive when nested groups are expanded). Every group
	// assigned in Assignments must have an entry, empty if it has no users.
	Members map[string][]string
	// Users holds the attributes of every user reached, by id. Their
	// Assignments field is ignored; Assemble computes it. A user id that is
	// assigned or a member but absent here was deleted between the reads and
	// is left out, as a read a moment later would have done.
	Users  map[string]User
	ReadAt time.Time
	Calls  int
}

// Assemble joins assignments, group memberships and user attributes into a
// Snapshot: each user once, sorted by ID, with every way it is assigned
// (directly and through each group, each with its role). Service principals
// assigned to the app are not people and are ignored. It fails rather than
// return a partial picture when a group's members are missing.
func Assemble(r Reading) (*Snapshot, error) {
	assigned := make(map[string][]Assignment, len(r.Users))
	groups := map[string]*Group{}
	add := func(userID string, a Assignment) {
		if !slices.Contains(assigned[userID], a) {
			assigned[userID] = append(assigned[userID], a)
		}
	}
	for _, a := range r.Assignments {
		if a.PrincipalID == "" {
			return nil, fmt.Errorf("assemble snapshot: assignment of role %s has no principal id", a.AppRoleID)
		}
		switch a.PrincipalType {
		case PrincipalUser:
			add(a.PrincipalID, Assignment{AppRoleID: a.AppRoleID})
		case PrincipalGroup:
			members, ok := r.Members[a.PrincipalID]
			if !ok {
				return nil, fmt.Errorf("assemble snapshot: members of assigned group %q (id %s) were not read", a.PrincipalDisplayName, a.PrincipalID)
			}
			g := groups[a.PrincipalID]
			if g == nil {
				g = &Group{ID: a.PrincipalID, DisplayName: a.PrincipalDisplayName}
				groups[a.PrincipalID] = g
				seen := make(map[string]bool, len(members))
				for _, id := range members {
					if _, ok := r.Users[id]; ok && !seen[id] {
						seen[id] = true
						g.Members++
					}
				}
			}
			for _, id := range members {
				add(id, Assignment{AppRoleID: a.AppRoleID, GroupID: a.PrincipalID})
			}
		default:
			// Service principals (and any type Graph adds later) are not people.
		}
	}
	snap := &Snapshot{App: r.App, ReadAt: r.ReadAt, Calls: r.Calls}
	snap.App.Roles = slices.Clone(r.App.Roles)
	// The ids are sorted rather than the users: 100,000 strings move faster
	// than 100,000 users.
	ids := make([]string, 0, len(assigned))
	for id := range assigned {
		if _, ok := r.Users[id]; ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if len(ids) > 0 {
		snap.Users = make([]User, 0, len(ids))
	}
	for _, id := range ids {
		u := r.Users[id]
		u.ID = id
		u.Assignments = assigned[id]
		slices.SortFunc(u.Assignments, func(a, b Assignment) int {
			return cmp.Or(cmp.Compare(a.GroupID, b.GroupID), cmp.Compare(a.AppRoleID, b.AppRoleID))
		})
		snap.Users = append(snap.Users, u)
	}
	for _, g := range groups {
		snap.Groups = append(snap.Groups, *g)
	}
	slices.SortFunc(snap.Groups, func(a, b Group) int { return cmp.Compare(a.ID, b.ID) })
	return snap, nil
}
