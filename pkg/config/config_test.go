package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

const validYAML = `
entra:
  tenant_id: 8f0e6b1a-1c1d-4d1e-9f00-000000000001
  client_id: 8f0e6b1a-1c1d-4d1e-9f00-000000000002
  service_principal_id: 8f0e6b1a-1c1d-4d1e-9f00-000000000003
goto:
  account_key: "4200000000000000001"
  client_id: goto-client
roles:
  User: { licenses: ["123456789012345678901"] }
`

// secretsEnv provides the two required secrets from the environment.
var secretsEnv = []string{"G2MSYNC_ENTRA_CLIENT_SECRET=entra-s3cret", "G2MSYNC_GOTO_CLIENT_SECRET=goto-s3cret"}

func TestValidMinimalConfigGetsDefaults(t *testing.T) {
	cfg, err := Parse([]byte(validYAML), secretsEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Schedule != "@every 20m" || cfg.Safety.MaxDisables != 50 || cfg.Safety.MaxDisablesPercent != 20 ||
		cfg.GoTo.RateLimitPerSecond != 10 || cfg.Policy != "sync" || cfg.Mapping["email"].Expr != "mail ?? userPrincipalName" ||
		cfg.ShutdownGrace.D() != 30*time.Second {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if cfg.Entra.AuthMethod() != "client_secret" || cfg.Entra.ClientSecret.Value() != "entra-s3cret" {
		t.Errorf("auth %q, secret from %q", cfg.Entra.AuthMethod(), cfg.Entra.ClientSecret.Source())
	}
	if a, g := cfg.Entra.Endpoints(); a != "https://login.microsoftonline.com/" || g != "https://graph.microsoft.com" {
		t.Errorf("endpoints %s %s", a, g)
	}
}

// TestExampleConfigIsValidButForItsPlaceholders: a copied example is valid
// in every setting but the stand-ins an administrator must replace, and
// each of those is named (the nil GUID tenant passed validation once).
func TestExampleConfigIsValidButForItsPlaceholders(t *testing.T) {
	env := append([]string{"G2MSYNC_ENTRA_CLIENT_SECRET_FILE=", "G2MSYNC_GOTO_CLIENT_SECRET_FILE="}, secretsEnv...)
	_, err := Load(filepath.Join("..", "..", "config", "g2msync.example.yaml"), env)
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("err = %v, want the placeholders named", err)
	}
	var keys []string
	for _, p := range cerr.Problems {
		if !strings.Contains(p.Msg, "placeholder") {
			t.Errorf("%s: %s: the example must be valid but for its placeholders", p.Key, p.Msg)
		}
		keys = append(keys, p.Key)
	}
	want := []string{"entra.client_id", "entra.service_principal_id", "entra.tenant_id", "goto.account_key", "goto.client_id",
		"roles.Admin.licenses[0]", "roles.User.licenses[0]"}
	if !cmp.Equal(keys, want) {
		t.Errorf("placeholders named: %v, want %v", keys, want)
	}
	// With real values in their place, it loads.
	real := append(env, exampleEnv()...)
	cfg, err := Load(filepath.Join("..", "..", "config", "g2msync.example.yaml"), real)
	if err != nil {
		t.Fatalf("the example with real values: %v", err)
	}
	if len(cfg.Roles) != 2 || cfg.Roles["Admin"].AdminRoles[0] != "MANAGE_USERS" {
		t.Errorf("roles = %+v", cfg.Roles)
	}
}

// TestExampleConfigDocumentsEveryOption keeps the example true to the code:
// every key of Config appears in it.
func TestExampleConfigDocumentsEveryOption(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "g2msync.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	raw, _ := yaml.Marshal(Default())
	var all map[string]any
	yaml.Unmarshal(raw, &all)
	var missing []string
	var walk func(want, have map[string]any, path string)
	walk = func(want, have map[string]any, path string) {
		for k, v := range want {
			if path == "" && (k == "roles" || k == "mapping") {
				continue
			}
			hv, ok := have[k]
			if !ok {
				// Secrets are documented through their _file keys.
				if _, isFile := have[k+"_file"]; !isFile {
					missing = append(missing, join(path, k))
				}
				continue
			}
			if wm, ok := v.(map[string]any); ok {
				hm, _ := hv.(map[string]any)
				walk(wm, hm, join(path, k))
			}
		}
	}
	walk(all, doc, "")
	if len(missing) > 0 {
		t.Errorf("config/g2msync.example.yaml does not document: %v", missing)
	}
}

func TestEveryProblemNamesItsKey(t *testing.T) {
	tests := []struct {
		name string
		yaml string // appended to validYAML, or replacing it when it starts with "!"
		env  []string
		key  string
		msg  string
	}{
		{"typo in a safety key", "safety: { max_disable: 5 }", nil, "safety.max_disable", "did you mean max_disables?"},
		{"unknown top-level key", "schedul: '@hourly'", nil, "schedul", "did you mean schedule?"},
		{"bad cron", "schedule: '*/20 * *'", nil, "schedule", "invalid schedule"},
		{"number as text", "safety: { max_disables: fifty }", nil, "safety.max_disables", `want a whole number, got "fifty"`},
		{"negative threshold", "safety: { max_disables: -1 }", nil, "safety.max_disables", "must be 0 or more"},
		{"percent out of range", "safety: { max_disables_percent: 150 }", nil, "safety.max_disables_percent", "between 0 and 100"},
		{"role without licences", "roles: { Sales: { admin_roles: [MANAGE_USERS] } }", nil, "roles.Sales.licenses", "empty"},
		{"licence by name", `roles: { Sales: { licenses: ["G2M Business"] } }`, nil, "roles.Sales.licenses[0]", "numeric GoTo licence key"},
		{"admin role lower case", `roles: { Sales: { licenses: ["1"], admin_roles: [manage_users] } }`, nil, "roles.Sales.admin_roles[0]", "GoTo admin role"},
		{"unknown mapping target", "mapping: { phone: mobilePhone }", nil, "mapping.phone", "unknown GoTo field"},
		{"mapping attribute typo", "mapping: { firstName: givenname }", nil, "mapping.firstName", `unknown directory attribute "givenname"`},
		{"mapping apply typo", "mapping: { locale: { expr: '\"en_US\"', apply: once } }", nil, "mapping.locale", "want always or on_create"},
		{"matching attribute", "matching: [mail, upn]", nil, "matching[1]", `unknown directory attribute "upn"`},
		{"scope operator", "scope: { filters: [ { clauses: [ { attribute: department, op: equal, value: x } ] } ] }", nil, "scope.filters[0].clauses[0]", `unknown operator "equal"`},
		{"scope regex", "scope: { filters: [ { clauses: [ { attribute: department, op: regex, value: '(' } ] } ] }", nil, "scope.filters[0].clauses[0]", "invalid regular expression"},
		{"policy", "policy: mirror", nil, "policy", `unknown policy "mirror"`},
		{"deprovision", "deprovision: archive", nil, "deprovision", "want one of disable, delete"},
		{"tenant", "entra: { tenant_id: contoso }", nil, "entra.tenant_id", "GUID or a domain"},
		{"client id", "entra: { client_id: my-app }", nil, "entra.client_id", "want a GUID"},
		{"cloud", "entra: { cloud: mars }", nil, "entra.cloud", `got "mars"`},
		{"custom cloud without urls", "entra: { cloud: custom }", nil, "entra.authority_host", "missing"},
		{"authority on public cloud", "entra: { authority_host: 'https://login.example.com/' }", nil, "entra.authority_host", "only with cloud: custom"},
		{"negative full read interval", "entra: { full_read_interval: -1h }", nil, "entra.full_read_interval", "0 (a full read every cycle) or positive"},
		{"plain http api", "goto: { api_base_url: 'http://api.getgo.com/admin/rest/v1' }", nil, "goto.api_base_url", "want https"},
		{"rate above GoTo's limit", "goto: { rate_limit_per_second: 50 }", nil, "goto.rate_limit_per_second", "from 0.1 to 10"},
		{"negative reconcile interval", "goto: { reconcile_interval: -1h }", nil, "goto.reconcile_interval", "0 (never reconcile) or positive"},
		{"drift policy", "goto: { drift: fix }", nil, "goto.drift", `unknown drift policy "fix" (want repair or report)`},
		{"seats threshold", "notify: { seats_free_below: lots }", nil, "notify.seats_free_below", `want a count of seats above 0 (10) or a percentage (5%), got "lots"`},
		{"batch size", "goto: { create_batch_size: 0 }", nil, "goto.create_batch_size", "between 1 and 500"},
		{"account key", "goto: { account_key: acme }", nil, "goto.account_key", "numeric account key"},
		{"duration", "goto: { timeout: soon }", nil, "goto.timeout", "want a duration"},
		{"secret inline", "goto: { client_secret: hunter2 }", nil, "goto.client_secret", "secrets are not read from the config file"},
		{"secret file missing", "entra: { client_secret_file: /nonexistent/secret }", nil, "entra.client_secret_file", "no such file"},
		{"list where a mapping belongs", "entra: [a, b]", nil, "entra", "want a mapping of keys"},
		{"listen", "listen: 9464", nil, "listen", "want host:port"},
		{"log level", "log: { level: verbose }", nil, "log.level", "want one of debug, info, warn, error"},
		{"env override typo", "", []string{"G2MSYNC_SAFETY_MAX_DISABLE=3"}, "$G2MSYNC_SAFETY_MAX_DISABLE", "unknown setting"},
		{"env override type", "", []string{"G2MSYNC_SAFETY_MAX_DISABLES=lots"}, "safety.max_disables (from $G2MSYNC_SAFETY_MAX_DISABLES)", "want a whole number"},
		{"no roles", "!" + strings.Replace(validYAML, `  User: { licenses: ["123456789012345678901"] }`, "", 1), nil, "roles", "no app role is mapped"},
		{"no credential", "", []string{"G2MSYNC_ENTRA_CLIENT_SECRET="}, "entra.client_secret", "missing: set client_secret_file"},
		{"two credentials", "entra: { managed_identity_client_id: 3f782963-1da0-4787-a4b5-77a4d41bdf07 }", nil, "entra.auth", "more than one credential"},
		{"licences dedented under roles", "!" + strings.Replace(validYAML, `  User: { licenses: ["123456789012345678901"] }`, "  User:\n  licenses: [\"123456789012345678901\"]", 1), nil,
			"roles.licenses", "indent it under the role's name"},
		{"password without user", "", []string{"G2MSYNC_GOTO_PASSWORD=x"}, "goto.username", "no username"},
		{"broken yaml", "!roles: [", nil, "(file)", "not valid YAML"},
		{"every 0s", "schedule: '@every 0s'", nil, "schedule", "without pause"},
		{"no shutdown grace", "shutdown_grace: 0s", nil, "shutdown_grace", "must be positive"},
		{"shutdown grace of hours", "shutdown_grace: 2h", nil, "shutdown_grace", "at most 1h"},
		{"port out of range", "listen: localhost:99999", nil, "listen", "not a TCP port"},
		{"nil guid tenant", "entra: { tenant_id: 00000000-0000-0000-0000-000000000000 }", nil, "entra.tenant_id", "placeholder"},
		{"key given twice", "safety: { max_disables: 5 }\nsafety: { max_disables_percent: 10 }", nil, "safety", "given twice, on lines"},
		{"nested key given twice", "policy: sync\nnotify:\n  to: [a@x.com]\n  to: [b@x.com]", nil, "notify.to", "given twice, on lines"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := validYAML + "\n" + tt.yaml
			if strings.HasPrefix(tt.yaml, "!") {
				src = tt.yaml[1:]
			}
			env := append(append([]string{}, secretsEnv...), tt.env...)
			_, err := Parse([]byte(src), env)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("err = %v, want *config.Error", err)
			}
			for _, p := range cerr.Problems {
				if p.Key == tt.key && strings.Contains(p.Msg, tt.msg) {
					return
				}
			}
			t.Errorf("want %s: …%s…; got:\n%v", tt.key, tt.msg, err)
		})
		if seen[tt.key+tt.msg] {
			t.Errorf("case %q repeats another case's message", tt.name)
		}
		seen[tt.key+tt.msg] = true
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	_, err := Parse([]byte(`
schedule: nope
safety: { max_disable: 1, max_disables_percent: 200 }
roles: { User: {} }
policy: bogus
`), nil)
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range cerr.Problems {
		keys = append(keys, p.Key)
	}
	for _, want := range []string{"schedule", "safety.max_disable", "safety.max_disables_percent", "roles.User.licenses", "policy",
		"entra.tenant_id", "goto.account_key", "goto.client_secret"} {
		if !contains(keys, want) {
			t.Errorf("problem %s not reported; got %v", want, keys)
		}
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("%d problems:", len(cerr.Problems))) {
		t.Errorf("message does not count the problems: %v", err)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestEnvironmentOverrides(t *testing.T) {
	env := append([]string{
		"G2MSYNC_SAFETY_MAX_DISABLES=7",
		"G2MSYNC_SAFETY_DISABLE_SUPER_USERS=true",
		"G2MSYNC_MATCHING=userPrincipalName, mail",
		"G2MSYNC_ROLES={Admin: {licenses: ['42'], admin_roles: [MANAGE_USERS]}}",
		"G2MSYNC_GOTO_TIMEOUT=5s",
		"G2MSYNC_CONFIG=/etc/elsewhere.yaml",
	}, secretsEnv...)
	cfg, err := Parse([]byte(validYAML), env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Safety.MaxDisables != 7 || !cfg.Safety.DisableSuperUsers || cfg.GoTo.Timeout.D().Seconds() != 5 {
		t.Errorf("safety %+v timeout %v", cfg.Safety, cfg.GoTo.Timeout.D())
	}
	if d := cmp.Diff([]string{"userPrincipalName", "mail"}, cfg.Matching); d != "" {
		t.Errorf("matching (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]Role{"Admin": {Licenses: []string{"42"}, AdminRoles: []string{"MANAGE_USERS"}}}, cfg.Roles); d != "" {
		t.Errorf("roles from the environment replace the file's (-want +got):\n%s", d)
	}
}

func TestEnvironmentOnlyConfiguration(t *testing.T) {
	env := append([]string{
		"G2MSYNC_ENTRA_TENANT_ID=contoso.onmicrosoft.com",
		"G2MSYNC_ENTRA_CLIENT_ID=8f0e6b1a-1c1d-4d1e-9f00-000000000002",
		"G2MSYNC_ENTRA_APP_ID=8f0e6b1a-1c1d-4d1e-9f00-000000000009",
		"G2MSYNC_GOTO_ACCOUNT_KEY=123",
		"G2MSYNC_GOTO_CLIENT_ID=c",
		"G2MSYNC_ROLES={User: {licenses: ['1']}}",
	}, secretsEnv...)
	if _, err := Parse(nil, env); err != nil {
		t.Fatalf("a container configured only by environment: %v", err)
	}
}

func TestSecretsFromFileAndCredentials(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "entra")
	os.WriteFile(file, []byte("from-file\n"), 0o600)
	creds := t.TempDir()
	os.WriteFile(filepath.Join(creds, "goto-client-secret"), []byte("from-credential"), 0o600)
	os.WriteFile(filepath.Join(creds, "goto-refresh-token"), []byte("rt-from-credential"), 0o600)
	cfg, err := Parse([]byte(strings.Replace(validYAML, "entra:\n", "entra:\n  client_secret_file: "+file+"\n", 1)),
		[]string{"CREDENTIALS_DIRECTORY=" + creds, "G2MSYNC_ENTRA_CLIENT_SECRET=loses-to-the-file"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Entra.ClientSecret.Value() != "from-file" || cfg.GoTo.ClientSecret.Value() != "from-credential" ||
		cfg.GoTo.RefreshToken.Value() != "rt-from-credential" {
		t.Errorf("secrets: %q %q %q", cfg.Entra.ClientSecret.Value(), cfg.GoTo.ClientSecret.Value(), cfg.GoTo.RefreshToken.Value())
	}
}

func TestSecretsAreNeverPrinted(t *testing.T) {
	cfg, err := Parse([]byte(validYAML), secretsEnv)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := cfg.Dump(&b); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "%v %+v %#v %s", cfg, cfg, cfg.Entra, cfg.GoTo.ClientSecret)
	for _, s := range []string{"entra-s3cret", "goto-s3cret"} {
		if strings.Contains(b.String(), s) {
			t.Fatalf("secret %q printed:\n%s", s, b.String())
		}
	}
	if !strings.Contains(b.String(), "[redacted, from $G2MSYNC_GOTO_CLIENT_SECRET]") {
		t.Errorf("dump does not say where the secret came from:\n%s", b.String())
	}
}

func TestMappingFromTheFileReplacesTheDefault(t *testing.T) {
	cfg, err := Parse([]byte(validYAML+"\nmapping: { email: userPrincipalName }\n"), secretsEnv)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]FieldMapping{"email": {Expr: "userPrincipalName"}}, cfg.Mapping); d != "" {
		t.Errorf("mapping (-want +got):\n%s", d)
	}
}

// A 0666 entra-client-secret was accepted silently; an unreadable
// credential was reported as missing ("no single credential configured").
func TestSecretFilePermissions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "entra")
	os.WriteFile(file, []byte("s3cret\n"), 0o600)
	os.Chmod(file, 0o666)
	cfg, err := Parse([]byte(strings.Replace(validYAML, "entra:\n", "entra:\n  client_secret_file: "+file+"\n", 1)), []string{"G2MSYNC_GOTO_CLIENT_SECRET=x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || cfg.Warnings[0].Key != "entra.client_secret_file" || !strings.Contains(cfg.Warnings[0].Msg, "mode 0666") ||
		!strings.Contains(cfg.Warnings[0].Msg, "chmod 600 "+file) {
		t.Errorf("warnings %+v", cfg.Warnings)
	}
	// A credential that cannot be read: a directory in its place here, since
	// the tests run as root, who reads any mode (for another user, 0000
	// gives "permission denied" through the same path).
	creds := t.TempDir()
	os.Mkdir(filepath.Join(creds, "goto-client-secret"), 0o700)
	_, err = Parse([]byte(validYAML), []string{"CREDENTIALS_DIRECTORY=" + creds, "G2MSYNC_ENTRA_CLIENT_SECRET=x"})
	if err == nil || !strings.Contains(err.Error(), "cannot read the credential goto-client-secret") || strings.Contains(err.Error(), "no single credential") {
		t.Errorf("err = %v, want the unreadable credential named", err)
	}
}

// A 255 KB file of aliases made check use 4.2 GB and die; the same through
// a G2MSYNC_ override, whose value for a map is YAML too. The decoder follows
// aliases, so it counts the values it decodes and stops past a bound.
func TestAliasAmplificationIsBounded(t *testing.T) {
	var roles strings.Builder
	roles.WriteString("R0: &L {licenses: [" + strings.TrimSuffix(strings.Repeat(`"123", `, 1000), ", ") + "]}\n")
	for i := 1; i < 300; i++ {
		fmt.Fprintf(&roles, "R%d: *L\n", i) // 300 roles of 1,000 licences from 8 KB
	}
	indented := "roles:\n  " + strings.ReplaceAll(strings.TrimSuffix(roles.String(), "\n"), "\n", "\n  ") + "\n"
	for name, tc := range map[string]struct {
		src string
		env []string
	}{
		"file":     {strings.Replace(validYAML, "roles:\n  User: { licenses: [\"123456789012345678901\"] }\n", indented, 1), nil},
		"override": {validYAML, []string{"G2MSYNC_ROLES=" + roles.String()}},
	} {
		_, err := Parse([]byte(tc.src), append(append([]string{}, secretsEnv...), tc.env...))
		if err == nil || !strings.Contains(err.Error(), "expands to more than 100000 values") {
			t.Errorf("%s: err = %.300v", name, err)
		}
	}
}

// Kubernetes sets G2MSYNC_PORT=tcp://… and friends in every pod of a
// namespace with a Service named g2msync; every command exited 2 with
// "unknown setting". Typos in real setting names are still errors.
func TestKubernetesServiceLinksAreNoSettings(t *testing.T) {
	links := []string{"G2MSYNC_PORT=tcp://10.0.0.7:9464", "G2MSYNC_SERVICE_HOST=10.0.0.7", "G2MSYNC_SERVICE_PORT=9464",
		"G2MSYNC_SERVICE_PORT_HTTP=9464", "G2MSYNC_PORT_9464_TCP=tcp://10.0.0.7:9464", "G2MSYNC_PORT_9464_TCP_PROTO=tcp",
		"G2MSYNC_PORT_9464_TCP_PORT=9464", "G2MSYNC_PORT_9464_TCP_ADDR=10.0.0.7"}
	if _, err := Parse([]byte(validYAML), append(append([]string{}, secretsEnv...), links...)); err != nil {
		t.Fatalf("service links: %v", err)
	}
	_, err := Parse([]byte(validYAML), append(append(append([]string{}, secretsEnv...), links...), "G2MSYNC_SAFETY_MAX_DISABLE=3"))
	if err == nil || !strings.Contains(err.Error(), "$G2MSYNC_SAFETY_MAX_DISABLE: unknown setting") || strings.Contains(err.Error(), "G2MSYNC_PORT") {
		t.Errorf("typo beside service links: %v", err)
	}
}

// Malformed expressions in Entra's language are refused when the file
// loads, each naming its key, the column, and what was expected.
func TestMalformedExpressionsNameKeyAndColumn(t *testing.T) {
	for _, tc := range []struct{ field, expr, msg string }{
		{"firstName", `Join(" ", [givenName], [surname]`, `at column 33`},
		{"firstName", `Left([givenName], "1")`, `at column 19 of "Left([givenName], \"1\")": argument 2 of Left (NumChars): want a whole number`},
		{"firstName", `left([givenName], 1)`, `at column 1 of "left([givenName], 1)": unknown function "left"; names are case-sensitive: did you mean Left?`},
		{"lastName", `[surnme]`, `at column 1 of "[surnme]": unknown directory attribute "surnme"`},
		{"lastName", `PCase([surname]`, `at column 16`},
		{"lastName", `"unclosed`, `at column 1 of "\"unclosed": string not closed`},
		{"locale", `Switch([preferredLanguage], "en_US", "de-DE")`, `Switch takes at least 4 arguments, got 3`},
		{"locale", `Switch([preferredLanguage], "en_US", "de-DE", "de_DE", "fr-FR")`, `key 2 has no value`},
		{"locale", `Item([proxyAddresses], "one")`, `argument 2 of Item (index): want a whole number`},
		{"timeZone", `Replace([city], , "([a-z", , "x", , )`, `regexPattern does not compile`},
		{"timeZone", `IIF([country]="US", "America/New_York")`, `IIF takes 3 arguments, got 2`},
		{"timeZone", `[city] [country]`, `at column 8 of "[city] [country]": expected the end of the expression, found [country]`},
		{"firstName", `Join(" ", [proxyAddresses]) ?? [otherMails]`, `?? takes single values, and this is a list`},
		{"firstName", `Now()`, `Now() and Guid() give a new value every cycle`},
		{"firstName", `SelectUniqueValue([givenName], [surname])`, `email is GoTo's only unique field`},
		{"email", `SelectUniqueValue([mail], [userPrincipalName])`, `SelectUniqueValue applies only when an account is created`},
		// Issue 23: 461 bytes that asked for 152 GB of every person.
		{"firstName", `Replace(Replace(Replace(Replace([givenName], "", , , [givenName]), "", , , Replace([givenName], "", , , [givenName])), "", , , ` +
			`Replace(Replace([givenName], "", , , [givenName]), "", , , Replace([givenName], "", , , [givenName]))), "", , , ` +
			`Replace(Replace(Replace([givenName], "", , , [givenName]), "", , , Replace([givenName], "", , , [givenName])), "", , , ` +
			`Replace(Replace([givenName], "", , , [givenName]), "", , , Replace([givenName], "", , , [givenName]))))`,
			`Replace's oldValue is empty: it would match between every two characters`},
		{"lastName", `Replace([surname], , "` + strings.Repeat("a", 1025) + `", , "x")`, `regexPattern is 1025 bytes long; at most 1024`},
	} {
		src := validYAML + "\nmapping:\n  email: mail ?? userPrincipalName\n  " + tc.field + ": '" + strings.ReplaceAll(tc.expr, "'", "''") + "'\n"
		if tc.field == "email" {
			src = validYAML + "\nmapping:\n  email: '" + tc.expr + "'\n"
		}
		_, err := Parse([]byte(src), secretsEnv)
		var cerr *Error
		if !errors.As(err, &cerr) {
			t.Errorf("%s: %s: err = %v, want *config.Error", tc.field, tc.expr, err)
			continue
		}
		found := false
		for _, p := range cerr.Problems {
			if p.Key == "mapping."+tc.field && strings.Contains(p.Msg, tc.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %s\n  got %v\n  want mapping.%s: …%s…", tc.field, tc.expr, err, tc.field, tc.msg)
		}
	}
	ok := validYAML + "\nmapping:\n  email: { expr: 'SelectUniqueValue(Join(\"@\", ToLower(Join(\".\", [givenName], [surname])), \"contoso.com\"), [mail])', apply: on_create }\n" +
		"  firstName: { expr: 'Coalesce([givenName], Word([displayName], 1, \" \"))', default: '-' }\n" +
		"  locale: 'Switch([preferredLanguage], \"en_US\", \"de-DE\", \"de_DE\", \"fr-FR\", \"fr_FR\")'\n" +
		"  timeZone: { expr: 'Join(\"-\", Guid())', apply: on_create }\n"
	if _, err := Parse([]byte(ok), secretsEnv); err != nil {
		t.Errorf("valid Entra expressions refused: %v", err)
	}
	if _, err := Parse([]byte(validYAML+"\nmapping:\n  email: { expr: mail, default: x@y.com }\n"), secretsEnv); err == nil || !strings.Contains(err.Error(), "mapping.email.default") {
		t.Errorf("a default email: %v", err)
	}
}

// The example file's three expressions in Entra's language are valid as
// written: uncommented in place of the short ones, the file loads.
func TestExampleEntraExpressionsLoad(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "g2msync.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	on, n := false, 0
	for i, l := range lines {
		switch {
		case strings.Contains(l, "Three realistic ones in Entra's language"):
			on = true
		case on && strings.HasPrefix(l, "  # "):
			lines[i] = "  " + strings.TrimPrefix(l, "  # ")
			n++
		case on:
			on = false
		}
	}
	if n != 3 {
		t.Fatalf("found %d expressions after the marker, want 3", n)
	}
	// The short email and firstName give way to the Entra ones below them.
	src := strings.Replace(strings.Join(lines, "\n"), "  email: mail ?? userPrincipalName\n  firstName: givenName\n", "", 1)
	cfg, err := Parse([]byte(src), append(append([]string{}, secretsEnv...), exampleEnv()...))
	if err != nil {
		t.Fatalf("the example with its Entra expressions: %v", err)
	}
	if e := cfg.Mapping["locale"].Expr; !strings.HasPrefix(e, "Switch([preferredLanguage]") {
		t.Errorf("locale = %q", e)
	}
}

// exampleEnv gives the example file's placeholders real values.
func exampleEnv() []string {
	return []string{"G2MSYNC_ENTRA_CLIENT_SECRET_FILE=", "G2MSYNC_GOTO_CLIENT_SECRET_FILE=",
		"G2MSYNC_ENTRA_TENANT_ID=8f0e6b1a-1c1d-4d1e-9f00-000000000001", "G2MSYNC_ENTRA_CLIENT_ID=8f0e6b1a-1c1d-4d1e-9f00-000000000002",
		"G2MSYNC_ENTRA_SERVICE_PRINCIPAL_ID=8f0e6b1a-1c1d-4d1e-9f00-000000000003", "G2MSYNC_GOTO_ACCOUNT_KEY=4200000000000000001",
		"G2MSYNC_GOTO_CLIENT_ID=goto-client", "G2MSYNC_ROLES={User: {licenses: ['51']}, Admin: {licenses: ['51'], admin_roles: [MANAGE_USERS]}}"}
}

// Listener reads listen and listen_tls alone, from the file and the
// environment as Load does: the healthcheck of a container whose
// environment sets G2MSYNC_LISTEN still learns that the file asks for TLS.
func TestListenerReadsOnlyTheListener(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "g2msync.yaml")
	os.WriteFile(path, []byte("listen: 0.0.0.0:9555\nlisten_tls: {cert_file: /c.pem, key_file: /k.pem}\nentra: {tenant_id: not-checked-here}\n"), 0o600)
	for _, tc := range []struct {
		name, path string
		env        []string
		listen     string
		cert       string
		err        bool
	}{
		{"file", path, nil, "0.0.0.0:9555", "/c.pem", false},
		{"environment over the file", path, []string{"G2MSYNC_LISTEN=0.0.0.0:9464", "G2MSYNC_LISTEN_TLS_CERT_FILE=/e.pem"}, "0.0.0.0:9464", "/e.pem", false},
		{"no file, listen from the environment", filepath.Join(dir, "none.yaml"), []string{"G2MSYNC_LISTEN=0.0.0.0:9464"}, "0.0.0.0:9464", "", false},
		{"no file and no listen", filepath.Join(dir, "none.yaml"), nil, "", "", true},
		{"environment only", "", []string{"G2MSYNC_LISTEN_TLS_CERT_FILE=/e.pem"}, "127.0.0.1:9464", "/e.pem", false},
	} {
		listen, lt, err := Listener(tc.path, tc.env)
		if (err != nil) != tc.err || listen != tc.listen || lt.CertFile != tc.cert {
			t.Errorf("%s: %q %+v %v, want %q cert %q (error %v)", tc.name, listen, lt, err, tc.listen, tc.cert, tc.err)
		}
	}
}
