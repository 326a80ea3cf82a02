package directory_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/g2msync/g2msync/pkg/directory"
)

func TestAssemble(t *testing.T) {
	const (
		roleUser  = "role-user"
		roleAdmin = "role-admin"
		def       = directory.DefaultAccessRoleID
	)
	user := func(id string) directory.User {
		return directory.User{ID: id, UserPrincipalName: id + "@contoso.com", AccountEnabled: true,
			Attributes: map[string]string{"mail": id + "@contoso.com"}}
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	app := directory.App{ID: "sp", AppID: "app", DisplayName: "GoToMeeting",
		Roles: []directory.AppRole{{ID: roleUser, Value: "User", Enabled: true}, {ID: roleAdmin, Value: "Admin", Enabled: true}}}

	tests := []struct {
		name    string
		in      directory.Reading
		want    *directory.Snapshot
		wantErr string
	}{
		{
			name: "direct, group, both, default access and a service principal",
			in: directory.Reading{
				App: app,
				Assignments: []directory.AppAssignment{
					{PrincipalID: "u3", PrincipalType: "User", AppRoleID: roleAdmin},
					{PrincipalID: "g1", PrincipalType: "Group", PrincipalDisplayName: "Sales", AppRoleID: roleUser},
					{PrincipalID: "g2", PrincipalType: "Group", PrincipalDisplayName: "Everyone", AppRoleID: def},
					{PrincipalID: "g1", PrincipalType: "Group", PrincipalDisplayName: "Sales", AppRoleID: roleAdmin},
					{PrincipalID: "sp2", PrincipalType: "ServicePrincipal", AppRoleID: roleUser},
					{PrincipalID: "u1", PrincipalType: "User", AppRoleID: roleUser},
				},
				Members: map[string][]string{"g1": {"u1", "u2", "u2"}, "g2": {"u2", "gone"}},
				Users:   map[string]directory.User{"u1": user("u1"), "u2": user("u2"), "u3": user("u3")},
				ReadAt:  at,
				Calls:   7,
			},
			want: &directory.Snapshot{
				App: app,
				Users: []directory.User{
					withAssignments(user("u1"),
						directory.Assignment{AppRoleID: roleUser},
						directory.Assignment{AppRoleID: roleAdmin, GroupID: "g1"},
						directory.Assignment{AppRoleID: roleUser, GroupID: "g1"}),
					withAssignments(user("u2"),
						directory.Assignment{AppRoleID: roleAdmin, GroupID: "g1"},
						directory.Assignment{AppRoleID: roleUser, GroupID: "g1"},
						directory.Assignment{AppRoleID: def, GroupID: "g2"}),
					withAssignments(user("u3"), directory.Assignment{AppRoleID: roleAdmin}),
				},
				Groups: []directory.Group{{ID: "g1", DisplayName: "Sales", Members: 2}, {ID: "g2", DisplayName: "Everyone", Members: 1}},
				ReadAt: at,
				Calls:  7,
			},
		},
		{
			name: "a user deleted between reads is left out",
			in: directory.Reading{
				App:         app,
				Assignments: []directory.AppAssignment{{PrincipalID: "u9", PrincipalType: "User", AppRoleID: roleUser}},
				Users:       map[string]directory.User{},
			},
			want: &directory.Snapshot{App: app},
		},
		{
			name: "empty group",
			in: directory.Reading{
				App:         app,
				Assignments: []directory.AppAssignment{{PrincipalID: "g1", PrincipalType: "Group", PrincipalDisplayName: "Empty", AppRoleID: roleUser}},
				Members:     map[string][]string{"g1": nil},
			},
			want: &directory.Snapshot{App: app, Groups: []directory.Group{{ID: "g1", DisplayName: "Empty"}}},
		},
		{
			name: "unread group members fail the read",
			in: directory.Reading{
				App:         app,
				Assignments: []directory.AppAssignment{{PrincipalID: "g1", PrincipalType: "Group", PrincipalDisplayName: "Sales", AppRoleID: roleUser}},
			},
			wantErr: `members of assigned group "Sales" (id g1) were not read`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := directory.Assemble(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Assemble() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Assemble() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Assemble() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func withAssignments(u directory.User, as ...directory.Assignment) directory.User {
	u.Assignments = as
	return u
}
