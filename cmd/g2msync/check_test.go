package main

import (
	"context"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/sim/gotosim"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
)

func smallWorld() scenario.Options {
	return scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 5}}, DirectAdmins: 2, DefaultAccess: -1, Disabled: -1, PreExisting: -1}
}

// runCheck runs `g2msync check` in-process and returns its exit code and output.
func runCheck(t *testing.T, tw *testWorld) (int, string) {
	t.Helper()
	err := tw.m.check(context.Background(), tw.cfg, appOptions{roots: tw.w.CA.Pool()})
	return tw.m.exit(err), tw.stdout.String()
}

// line returns the output line of a check step.
func line(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(l, "OK"), "FAIL"), " "), name) {
			return l
		}
	}
	return ""
}

func TestCheckPasses(t *testing.T) {
	tw := newTestWorld(t, smallWorld(), "")
	code, out := runCheck(t, tw)
	if code != ExitOK || strings.Contains(out, "FAIL") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, name := range []string{"Entra sign-in", "Graph permission Application.Read.All", "Graph permission User.Read.All",
		"Graph permission GroupMember.Read.All", "Enterprise app", "Assignments", "Group members", "GoTo sign-in", "GoTo account",
		"GoTo admin role", "Licence " + tw.w.LicenseKey} {
		if l := line(out, name); !strings.HasPrefix(l, "OK") {
			t.Errorf("step %q: %q", name, l)
		}
	}
	if tw.w.GoTo.Writes() != 0 {
		t.Errorf("check wrote to GoTo")
	}
}

func TestCheckReportsEachFailure(t *testing.T) {
	tests := []struct {
		name   string
		env    []string
		modify func(w *scenario.World) error
		step   string
		want   string
	}{
		{name: "wrong Entra secret", env: []string{"G2MSYNC_ENTRA_CLIENT_SECRET=not-the-secret"},
			step: "Entra sign-in", want: "Entra rejected the client credentials for tenant"},
		{name: "missing Graph permission", modify: func(w *scenario.World) error { return w.Graph.RevokePermission(w.ClientID, "GroupMember.Read.All") },
			step: "Graph permission GroupMember.Read.All", want: "add the Microsoft Graph application permission GroupMember.Read.All"},
		{name: "bad GoTo token", env: []string{"G2MSYNC_GOTO_REFRESH_TOKEN=not-a-token"},
			step: "GoTo sign-in", want: "GoTo rejected the refresh token: run `g2msync login goto`"},
		{name: "unknown licence key", env: []string{"G2MSYNC_ROLES={User: {licenses: ['999']}}"},
			step: "Licence 999", want: "not in the GoTo account; fix roles in the configuration. The account's licences: "},
		{name: "admin cannot manage users", modify: func(w *scenario.World) error {
			u, _ := w.GoTo.UserByEmail(w.AdminEmail)
			return w.GoTo.EditUser(u.Key, func(u *gotosim.User) { u.AdminRoles = []string{"RUN_REPORTS"} })
		}, step: "GoTo admin role", want: "give it SUPER_USER or MANAGE_USERS"},
		{name: "wrong GoTo account", env: []string{"G2MSYNC_GOTO_ACCOUNT_KEY=12345"},
			step: "GoTo account", want: "does not administer account 12345; set goto.account_key to one of"},
		{name: "role the app does not have", env: []string{"G2MSYNC_ROLES={Users: {licenses: ['5100000000000000000001']}}"},
			step: "Role Users", want: "has no app role with this value or id; its roles: User, Admin"},
		{name: "unknown GoTo admin role", env: []string{"G2MSYNC_ROLES={User: {licenses: ['5100000000000000000001'], admin_roles: [MANAGE_USER]}}"},
			step: "Role User", want: "admin role MANAGE_USER is not one GoTo grants"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorld(t, smallWorld(), "", tt.env...)
			if tt.modify != nil {
				if err := tt.modify(tw.w); err != nil {
					t.Fatal(err)
				}
			}
			code, out := runCheck(t, tw)
			l := line(out, tt.step)
			if code != ExitFailure || !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, tt.want) {
				t.Errorf("exit %d, step %q = %q; want FAIL with %q\n%s", code, tt.step, l, tt.want, out)
			}
		})
	}
}
