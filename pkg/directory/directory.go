package directory

import (
	"context"
	"errors"
	"time"
)

// ErrCredentials: the directory refused g2msync's credentials (Entra would
// not issue a token: a bad secret, an unregistered certificate, an unknown
// app or tenant). Sources wrap it, so that the application layer can say
// what to fix without knowing which directory it reads.
var ErrCredentials = errors.New("entra refused the credentials")

// DefaultAccessRoleID is the app role id Entra gives an assignment made without
// choosing a role ("Default Access").
const DefaultAccessRoleID = "00000000-0000-0000-0000-000000000000"

// Source reads the complete picture of who is assigned to the enterprise app.
//
// Read returns either a complete Snapshot or an error, never a partial snapshot:
// a failed page, a truncated body or a throttled call that ran out of retries
// fails the whole read, because a partial list would look like unassignments.
type Source interface {
	Read(ctx context.Context) (*Snapshot, error)
}

// Finder reads named people on demand, without a full read: `g2msync
// provision` and `explain`. A query is an Entra object id, a
// userPrincipalName or a mail address (case-insensitive).
type Finder interface {
	Find(ctx context.Context, queries []string) (*Found, error)
}

// Found is an on-demand read of named people.
type Found struct {
	// Snapshot holds the app and the people found, once each and sorted by
	// ID, each with the assignments a full read would give them. Unlike a
	// full read's, it holds found people who are not assigned at all (their
	// Assignments empty), so that the mapping can say they are out of scope.
	// Groups are the assigned groups the people reach; Members counts only
	// the people found.
	Snapshot *Snapshot
	// Matches says, query by query in the order given, which people each
	// matched: none when no Entra user matches it.
	Matches []Match
}

// Match is what one query matched.
type Match struct {
	Query string
	IDs   []string
}

// Snapshot is one complete read of the app's assignments.
type Snapshot struct {
	// App is the enterprise application (service principal) that was read.
	App App
	// Users holds every user principal reached through an assignment, once each,
	// sorted by ID. Users whose account is disabled are included with
	// AccountEnabled false so that the mapping can say why they are out of scope.
	Users []User
	// Groups holds the assigned groups, sorted by ID.
	Groups []Group
	// ReadAt is when the read started.
	ReadAt time.Time
	// Calls is the number of HTTP requests the read made, retries included.
	Calls int
	// Delta says the read followed changes from an earlier one rather than
	// reading everything; FullReason says why a full read was made, and
	// Changes counts what a delta read changed in the picture it follows
	// from (users, memberships, people read or dropped); 0 means the
	// picture is as it was.
	Delta      bool
	FullReason string
	Changes    int
}

// App is the service principal whose assignments are read.
type App struct {
	ID          string // object id of the service principal
	AppID       string // application (client) id
	DisplayName string
	Roles       []AppRole
}

// AppRole is one role defined by the application.
type AppRole struct {
	ID          string
	Value       string // the role's value, as referenced from configuration; may be empty
	DisplayName string
	Enabled     bool
}

// RoleValue returns the value of the role with the given id, or "" if the app
// defines no such role.
func (a App) RoleValue(id string) string {
	for _, r := range a.Roles {
		if r.ID == id {
			return r.Value
		}
	}
	return ""
}

// Group is an assigned group.
type Group struct {
	ID          string
	DisplayName string
	// Members is the number of user members read (direct, or transitive when
	// nested groups are expanded).
	Members int
}

// User is a user principal with the attributes the mappings asked for.
type User struct {
	// ID is the immutable Entra object id: the key of everything g2msync keeps.
	ID                string
	UserPrincipalName string
	AccountEnabled    bool
	// Attributes holds the selected attributes by their Graph name
	// (mail, givenName, department, ...). Absent and null are both "".
	Attributes map[string]string
	// Lists holds the multi-valued attributes (proxyAddresses, otherMails,
	// businessPhones) item by item; Attributes holds them joined by ",".
	Lists map[string][]string
	// Assignments says how the user reaches the app: directly, through groups,
	// or both, each with its app role. Sorted by (GroupID, AppRoleID).
	Assignments []Assignment
	// NestedOnly names the assigned groups the user belongs to only through
	// a nested group while nested groups are not expanded: why someone who
	// looks assigned is not. Only on-demand reads, which ask, fill it.
	NestedOnly []string
}

// Attr returns the named attribute. userPrincipalName, id and accountEnabled
// are served from their fields, so mappings can name them like any other.
func (u *User) Attr(name string) string {
	switch name {
	case "id":
		return u.ID
	case "userPrincipalName":
		return u.UserPrincipalName
	case "accountEnabled":
		if u.AccountEnabled {
			return "true"
		}
		return "false"
	}
	return u.Attributes[name]
}

// Assignment is one path by which a user is assigned to the app.
type Assignment struct {
	AppRoleID string
	// GroupID is the assigned group the user is a member of, or "" for a
	// direct assignment of the user.
	GroupID string
}

// Direct reports whether the assignment is of the user itself.
func (a Assignment) Direct() bool { return a.GroupID == "" }
