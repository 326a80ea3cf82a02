package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/sim/gotosim"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
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
		rest := l
		for _, status := range []string{"OK", "WARN", "FAIL"} {
			rest = strings.TrimPrefix(rest, status)
		}
		if strings.HasPrefix(strings.TrimLeft(rest, " "), name) {
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

// Issue 23, item 4: the certificate credential works with the files an
// administrator has, PKCS#12 as OpenSSL 3 writes it by default included
// (before, "pkcs12: unknown digest algorithm" stopped every command).
func TestCheckSignsInWithACertificate(t *testing.T) {
	cert, err := graphsim.NewClientCertificate("g2msync")
	if err != nil {
		t.Fatal(err)
	}
	modern, err := pkcs12.Modern2023.Encode(cert.Key, cert.Certificate, nil, "p12-pass")
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := pkcs12.LegacyRC2.Encode(cert.Key, cert.Certificate, nil, "p12-pass")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		data []byte
		pw   string
	}{
		{"PEM", cert.PEM(), ""},
		{"PKCS#12 in OpenSSL 3's defaults", modern, "p12-pass"},
		{"legacy PKCS#12", legacy, "p12-pass"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTestWorld(t, smallWorld(), "")
			clientID, err := tw.w.Graph.AddApp(graphsim.App{DisplayName: "g2msync (certificate)", Certificates: []*x509.Certificate{cert.Certificate},
				Permissions: []string{"Application.Read.All", "User.Read.All", "GroupMember.Read.All"}})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(tw.dir, "g2msync.cert")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			env := append(tw.m.Environ, "G2MSYNC_ENTRA_CLIENT_SECRET=", "G2MSYNC_ENTRA_CLIENT_ID="+clientID,
				"G2MSYNC_ENTRA_CERTIFICATE_FILE="+path, "G2MSYNC_ENTRA_CERTIFICATE_PASSWORD="+tt.pw)
			if tw.cfg, err = config.Parse([]byte(tw.w.ConfigYAML(filepath.Join(tw.dir, "state.db"), "")), env); err != nil {
				t.Fatal(err)
			}
			code, out := runCheck(t, tw)
			if l := line(out, "Entra sign-in"); code != ExitOK || !strings.HasPrefix(l, "OK") {
				t.Fatalf("exit %d, Entra sign-in %q\n%s%s", code, l, out, tw.stderr)
			}
		})
	}
}

// Issue 23, item 4: a certificate file that cannot be used is a problem of
// the configuration (exit 2, naming the key) for every command, `check`
// included; before, it failed the cycle (exit 1) after "Configuration valid".
func TestCertificateProblemIsAConfigurationError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "g2msync.yaml")
	cert := filepath.Join(dir, "absent.pfx")
	os.WriteFile(path, []byte(fmt.Sprintf(`state_path: %q
entra:
  tenant_id: 8f0e6b1a-1c1d-4d1e-9f00-000000000001
  client_id: 8f0e6b1a-1c1d-4d1e-9f00-000000000002
  service_principal_id: 8f0e6b1a-1c1d-4d1e-9f00-000000000003
  certificate_file: %q
goto:
  account_key: "4200000000000000001"
  client_id: goto-client
roles:
  User: { licenses: ["123456789012345678901"] }
`, filepath.Join(dir, "state.db"), cert)), 0o600)
	env := []string{"G2MSYNC_GOTO_CLIENT_SECRET=goto-s3cret", "G2MSYNC_GOTO_REFRESH_TOKEN=rt"}
	for _, args := range [][]string{{"check"}, {"run", "--once"}, {"plan"}} {
		code, out, errOut := runMain(t, env, append(args, "--config", path)...)
		if code != ExitUsage || !strings.Contains(errOut, "entra.certificate_file: "+cert+": no such file or directory") ||
			strings.Contains(out, "Configuration") {
			t.Errorf("%s: exit %d, want %d naming entra.certificate_file\nstdout: %s\nstderr: %s", args[0], code, ExitUsage, out, errOut)
		}
	}
}
