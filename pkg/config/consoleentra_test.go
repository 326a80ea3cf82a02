package config

import (
	"errors"
	"strings"
	"testing"
)

// console.entra: its defaults come from the daemon's app, and each
// problem is named by its key, all at once.
func TestConsoleEntra(t *testing.T) {
	on := "console: { entra: { enabled: true, operators_group: 8f0e6b1a-1c1d-4d1e-9f00-0000000000aa } }"
	cfg, err := Parse([]byte(validYAML+on), secretsEnv)
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Console.Entra
	if e.TenantID != cfg.Entra.TenantID || e.ClientID != cfg.Entra.ClientID {
		t.Errorf("defaults: tenant %q client %q", e.TenantID, e.ClientID)
	}
	if secret, cert := cfg.ConsoleCredential(); secret.Value() != "entra-s3cret" || cert != nil {
		t.Errorf("with the daemon's app the console redeems with the daemon's secret, got %v %v", secret, cert)
	}
	// Its own app and secret.
	own := "console: { entra: { enabled: true, client_id: 8f0e6b1a-1c1d-4d1e-9f00-0000000000bb, operators_role: Console.Operator, " +
		"redirect_url: 'https://g2msync.contoso.com/auth/callback' } }"
	cfg, err = Parse([]byte(validYAML+own), append(secretsEnv, "G2MSYNC_CONSOLE_ENTRA_CLIENT_SECRET=console-s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if secret, _ := cfg.ConsoleCredential(); secret.Value() != "console-s3cret" || !strings.Contains(strings.Join(cfg.SecretValues(), " "), "console-s3cret") {
		t.Errorf("own secret %v; SecretValues must list it for redaction", secret)
	}

	for _, tc := range []struct {
		name, yaml string
		env        []string
		key, msg   string
	}{
		{"no operators", "console: { entra: { enabled: true } }", nil, "console.entra.operators_group", "no one who signs in with Entra may act"},
		{"group by name", "console: { entra: { enabled: true, operators_group: g2msync-operators } }", nil, "console.entra.operators_group", "object id, a GUID"},
		{"another app without a secret", "console: { entra: { enabled: true, operators_role: Op, client_id: 8f0e6b1a-1c1d-4d1e-9f00-0000000000bb } }", nil,
			"console.entra.client_secret", "missing"},
		{"managed identity cannot redeem", "entra: { auth: managed_identity, managed_identity_client_id: 3f782963-1da0-4787-a4b5-77a4d41bdf07 }\n" +
			"console: { entra: { enabled: true, operators_role: Op } }", []string{"G2MSYNC_ENTRA_CLIENT_SECRET="}, "console.entra.client_secret", "managed or workload identity"},
		{"tenant domain", "entra: { tenant_id: contoso.onmicrosoft.com }\nconsole: { entra: { enabled: true, operators_role: Op } }", nil,
			"console.entra.tenant_id", "a GUID, as ID tokens name it"},
		{"plain http redirect", "console: { entra: { enabled: true, operators_role: Op, redirect_url: 'http://g2msync.contoso.com/auth/callback' } }", nil,
			"console.entra.redirect_url", "want https"},
		{"redirect elsewhere", "console: { entra: { enabled: true, operators_role: Op, redirect_url: 'https://g2msync.contoso.com/callback' } }", nil,
			"console.entra.redirect_url", "/auth/callback"},
		{"secret inline", "console: { entra: { enabled: true, operators_role: Op, client_secret: hunter2 } }", nil,
			"console.entra.client_secret", "secrets are not read from the config file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(validYAML+"\n"+tc.yaml), append(append([]string{}, secretsEnv...), tc.env...))
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("err = %v", err)
			}
			for _, p := range cerr.Problems {
				if p.Key == tc.key && strings.Contains(p.Msg, tc.msg) {
					return
				}
			}
			t.Errorf("want %s: …%s…; got %v", tc.key, tc.msg, err)
		})
	}
	// A loopback redirect may be plain http (Entra allows it for localhost).
	if _, err := Parse([]byte(validYAML+"console: { entra: { enabled: true, operators_role: Op, redirect_url: 'http://localhost:9464/auth/callback' } }"), secretsEnv); err != nil {
		t.Errorf("loopback redirect: %v", err)
	}
}
