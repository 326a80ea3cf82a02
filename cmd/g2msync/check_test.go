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
	"github.com/g2msync/g2msync/pkg/console"
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
		for _, status := range []string{"OK", "WARN", "FAIL", "SKIP"} {
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
			if tt.step == "Entra sign-in" {
				// The steps that needed the sign-in are listed, not dropped.
				for _, step := range []string{"Graph permission User.Read.All", "Enterprise app", "Assignments", "Group members"} {
					if l := line(out, step); !strings.HasPrefix(l, "SKIP") || !strings.Contains(l, "not checked: Entra sign-in failed") {
						t.Errorf("step %q after a failed sign-in = %q, want SKIP\n%s", step, l, out)
					}
				}
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
			if l := line(out, "entra.certificate_file"); !strings.HasPrefix(l, "OK") || !strings.Contains(l, path+": CN=g2msync, thumbprint ") {
				t.Errorf("certificate line %q\n%s", l, out)
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

// Issue 23, item 11: check lists every secret file with who may read it
// and the command that makes it private, the console's operators file
// (each line a bcrypt hash) and whether /status needs a token.
func TestCheckListsSecretFiles(t *testing.T) {
	hash, err := console.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	tw := newTestWorld(t, smallWorld(), "")
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(tw.dir, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode) // past the umask
		return p
	}
	creds := t.TempDir()
	os.WriteFile(filepath.Join(creds, "goto-client-secret"), []byte(tw.w.GoToClientSecret), 0o600)
	entra := write("entra-secret", tw.w.ClientSecret, 0o644)
	token := write("refresh-token", tw.w.RefreshToken, 0o640)
	status := write("status-token", "st-0123456789", 0o600)
	ops := write("operators", "alice:"+hash+"\nbob:letmein\n", 0o600)
	tlsKey := write("tls.key", "-----BEGIN PRIVATE KEY-----\n", 0o600)
	tlsCert := write("tls.crt", "-----BEGIN CERTIFICATE-----\n", 0o644)
	env := append(tw.m.Environ, "G2MSYNC_GOTO_CLIENT_SECRET=", "CREDENTIALS_DIRECTORY="+creds, "G2MSYNC_GOTO_REFRESH_TOKEN=",
		"G2MSYNC_ENTRA_CLIENT_SECRET_FILE="+entra, "G2MSYNC_GOTO_REFRESH_TOKEN_FILE="+token, "G2MSYNC_STATUS_TOKEN_FILE="+status,
		"G2MSYNC_CONSOLE_OPERATORS_FILE="+ops, "G2MSYNC_LISTEN_TLS_CERT_FILE="+tlsCert, "G2MSYNC_LISTEN_TLS_KEY_FILE="+tlsKey)
	if tw.cfg, err = config.Parse([]byte(tw.w.ConfigYAML(filepath.Join(tw.dir, "state.db"), "0.0.0.0:9464")), env); err != nil {
		t.Fatal(err)
	}
	_, out := runCheck(t, tw)
	for _, tt := range []struct {
		step, status string
		want         []string
	}{
		{"entra.client_secret_file", "WARN", []string{entra + ": mode 0644", "its group and all other users can read it", "chmod 600 " + entra}},
		{"goto.refresh_token_file", "WARN", []string{token + ": mode 0640", "its group can read it", "chmod 600 " + token}},
		{"goto.client_secret", "OK", []string{filepath.Join(creds, "goto-client-secret") + ": mode 0600", "only its owner"}},
		{"status_token_file", "OK", []string{status + ": mode 0600"}},
		{"listen_tls.key_file", "OK", []string{tlsKey + ": mode 0600"}},
		{"console.operators_file", "FAIL", []string{ops + ": line 2 (bob): not a bcrypt hash; make one with `g2msync console hash`"}},
		{"status_token", "OK", []string{"/status on 0.0.0.0:9464 needs the token"}},
	} {
		l := line(out, tt.step+" ")
		if !strings.HasPrefix(l, tt.status) {
			t.Errorf("step %s = %q, want %s", tt.step, l, tt.status)
		}
		for _, w := range tt.want {
			if !strings.Contains(l, w) {
				t.Errorf("step %s = %q, want …%s…", tt.step, l, w)
			}
		}
	}
	if strings.Contains(out, "st-0123456789") || strings.Contains(out, hash) {
		t.Errorf("check printed a secret:\n%s", out)
	}

	// Without a token, /status is refused off loopback; with operators and
	// without TLS the console would not start.
	os.WriteFile(ops, []byte("alice:"+hash+"\n"), 0o600)
	env = append(tw.m.Environ, "G2MSYNC_CONSOLE_OPERATORS_FILE="+ops)
	if tw.cfg, err = config.Parse([]byte(tw.w.ConfigYAML(filepath.Join(tw.dir, "state.db"), "0.0.0.0:9464")), env); err != nil {
		t.Fatal(err)
	}
	tw.stdout.Reset()
	_, out = runCheck(t, tw)
	if l := line(out, "status_token "); !strings.HasPrefix(l, "WARN") || !strings.Contains(l, "/status (which names people) is refused") {
		t.Errorf("status_token = %q\n%s", l, out)
	}
	if l := line(out, "console.operators_file "); !strings.HasPrefix(l, "OK") || !strings.Contains(l, "1 operator: alice") {
		t.Errorf("operators = %q\n%s", l, out)
	}
	if l := line(out, "Console "); !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "over plain HTTP") {
		t.Errorf("console = %q\n%s", l, out)
	}
}
