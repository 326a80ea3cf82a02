package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"
)

// fuzzSecrets are the secret variables FuzzParse may set, each with a value
// that no fuzz input contains (inputs mentioning "s3cret" are not checked).
var fuzzSecrets = []struct{ name, value string }{
	{"G2MSYNC_ENTRA_CLIENT_SECRET", "fz-S3cret-entra-client-91"},
	{"G2MSYNC_ENTRA_CERTIFICATE_PASSWORD", "fz-S3cret-entra-cert-92"},
	{"G2MSYNC_GOTO_CLIENT_SECRET", "fz-S3cret-goto-client-93"},
	{"G2MSYNC_GOTO_REFRESH_TOKEN", "fz-S3cret-goto-refresh-94"},
	{"G2MSYNC_GOTO_PERSONAL_ACCESS_TOKEN", "fz-S3cret-goto-pat-95"},
	{"G2MSYNC_GOTO_PASSWORD", "fz-S3cret-goto-password-96"},
}

// FuzzParse runs Parse over arbitrary YAML, a few arbitrary environment
// lines and a choice of secrets, and checks that it never panics, that it
// returns a valid configuration or a *Error whose problems all name a key and
// say something, that no secret reaches the error text or the dump, and that
// a configuration survives Dump and Parse unchanged.
func FuzzParse(f *testing.F) {
	const entraAndGoTo = 1<<0 | 1<<2
	f.Add([]byte(validYAML), "", uint8(entraAndGoTo))
	f.Add([]byte(validYAML), "G2MSYNC_SAFETY_MAX_DISABLES=7\nG2MSYNC_MATCHING=userPrincipalName, mail\nG2MSYNC_GOTO_TIMEOUT=5s", uint8(entraAndGoTo))
	f.Add([]byte(validYAML), "G2MSYNC_ROLES={Admin: {licenses: ['42'], admin_roles: [MANAGE_USERS]}}\nG2MSYNC_SAFETY_MAX_DISABLE=3", uint8(0x3f))
	f.Add([]byte(validYAML+"mapping: { locale: { expr: '\"en_US\"', apply: on_create } }\nscope: { filters: [ { name: f, clauses: [ { attribute: department, op: eq, value: Sales } ] } ] }\n"), "", uint8(entraAndGoTo))
	f.Add([]byte(validYAML+"safety: { max_disables: 0, max_disables_percent: 12.5% }\npolicy: create-only\ndeprovision: delete\n"), "", uint8(entraAndGoTo))
	f.Add([]byte(validYAML+"goto: { client_secret: hunter2, timeout: soon, rate_limit_per_second: 50 }\n"), "G2MSYNC_GOTO_USERNAME=admin", uint8(0x3f))
	f.Add([]byte("entra: [a, b]\nschedul: '@hourly'\nroles: { User: {} }\n"), "G2MSYNC_SAFETY_MAX_DISABLES=lots", uint8(0))
	f.Add([]byte(validYAML+"safety: { max_disables: 3, max_disables_percent: 12.5, retry_backoff: 5m, quarantine_after: 2, disable_super_users: true }\n"+
		"audit_retention: 48h\ngoto: { rate_limit_per_second: 2.5, max_retries: 0, create_batch_size: 500, suppress_welcome_email: yes }\n"), "", uint8(entraAndGoTo))
	f.Add([]byte(validYAML+"'roles': { \"Sales \\u00e9\": { licenses: [\"1\", '2'] }, &r Ops: { licenses: [\"3\"] } }\nmatching: [mail]\n"), "G2MSYNC_GOTO_USERNAME=u", uint8(0x25))
	f.Add([]byte("roles: ["), "", uint8(entraAndGoTo))
	f.Add([]byte("x: &a {b: *a}\nlisten: *a\n"), "", uint8(0))
	f.Add([]byte(nil), "G2MSYNC_ENTRA_TENANT_ID=contoso.onmicrosoft.com\nG2MSYNC_ENTRA_CLIENT_ID=8f0e6b1a-1c1d-4d1e-9f00-000000000002\n"+
		"G2MSYNC_ENTRA_APP_ID=8f0e6b1a-1c1d-4d1e-9f00-000000000009\nG2MSYNC_GOTO_ACCOUNT_KEY=123\nG2MSYNC_GOTO_CLIENT_ID=c\nG2MSYNC_ROLES={User: {licenses: ['1']}}", uint8(entraAndGoTo))
	if example, err := os.ReadFile(filepath.Join("..", "..", "config", "g2msync.example.yaml")); err == nil {
		f.Add(example, "G2MSYNC_ENTRA_CLIENT_SECRET_FILE=\nG2MSYNC_GOTO_CLIENT_SECRET_FILE=", uint8(entraAndGoTo))
	}

	f.Fuzz(func(t *testing.T, data []byte, envText string, secretMask uint8) {
		var environ []string
		for i, s := range fuzzSecrets {
			if secretMask&(1<<i) != 0 {
				environ = append(environ, s.name+"="+s.value)
			}
		}
		lines := strings.Split(envText, "\n")
		environ = append(environ, lines[:min(len(lines), 8)]...)

		scalars := yamlScalars(data)
		if riskyInput(scalars, environ) {
			t.Skip("names a device, a special file or a large file; reading it could hang")
		}

		cfg, err := Parse(data, environ)

		if err != nil {
			if cfg != nil {
				fail(t, "Parse returned both a configuration and %v", err)
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				fail(t, "Parse error %T is not a *config.Error: %v", err, err)
			}
			if len(cerr.Problems) == 0 {
				fail(t, "*config.Error with no problems: %q", err)
			}
			for _, p := range cerr.Problems {
				if p.Key == "" || p.Msg == "" {
					fail(t, "problem without key or message: %+v\nin: %v", p, err)
				}
			}
			checkNoSecret(t, "error text", err.Error(), data, envText, scalars, environ)
			return
		}
		if cfg == nil {
			t.Fatal("Parse returned neither a configuration nor an error")
		}
		checkRanges(t, cfg)

		var dump bytes.Buffer
		if err := cfg.Dump(&dump); err != nil {
			fail(t, "Dump: %v", err)
		}
		checkNoSecret(t, "dump", dump.String(), data, envText, scalars, environ)

		// Secrets are not read from YAML; drop their redacted lines and let
		// the same environment supply them again.
		var doc yaml.Node
		if err := yaml.Unmarshal(dump.Bytes(), &doc); err != nil {
			fail(t, "Dump wrote YAML that does not parse: %v\n%s", err, dump.String())
		}
		dropSecretKeys(&doc, reflect.TypeFor[Config]())
		again, err := yaml.Marshal(&doc)
		if err != nil {
			t.Fatal(err)
		}
		cfg2, err := Parse(again, environ)
		if err != nil {
			fail(t, "the dumped configuration does not parse again: %v\ndump:\n%s", err, again)
		}
		opts := cmp.Options{cmpopts.EquateEmpty(), cmp.Comparer(func(a, b Secret) bool { return a == b })}
		if d := cmp.Diff(cfg, cfg2, opts); d != "" {
			fail(t, "configuration changed through Dump and Parse (-first +second):\n%s\ndump:\n%s", d, again)
		}
	})
}

// checkRanges re-checks what the rest of g2msync relies on in a valid
// configuration; NaN must not slip through comparisons.
func checkRanges(t *testing.T, c *Config) {
	t.Helper()
	g, s := c.GoTo, c.Safety
	switch {
	case !(g.RateLimitPerSecond > 0 && g.RateLimitPerSecond <= 10):
		fail(t, "accepted goto.rate_limit_per_second %v", g.RateLimitPerSecond)
	case !(s.MaxDisablesPercent >= 0 && s.MaxDisablesPercent <= 100):
		fail(t, "accepted safety.max_disables_percent %v", s.MaxDisablesPercent)
	case s.MaxDisables < 0:
		fail(t, "accepted safety.max_disables %d", s.MaxDisables)
	case g.CreateBatchSize < 1 || g.CreateBatchSize > 500:
		fail(t, "accepted goto.create_batch_size %d", g.CreateBatchSize)
	case g.MaxRetries < 0 || g.MaxRetries > 10:
		fail(t, "accepted goto.max_retries %d", g.MaxRetries)
	case g.Timeout <= 0 || c.Entra.Timeout <= 0:
		fail(t, "accepted timeouts %v %v", g.Timeout.D(), c.Entra.Timeout.D())
	case s.RetryBackoff <= 0 || s.QuarantineAfter < 0 || c.AuditRetention.D() < 24*time.Hour:
		fail(t, "accepted retry_backoff %v, quarantine_after %d, audit_retention %v", s.RetryBackoff.D(), s.QuarantineAfter, c.AuditRetention.D())
	case len(c.Roles) == 0 || len(c.Matching) == 0 || c.Mapping["email"].Expr == "":
		fail(t, "accepted no roles, matching or email mapping: %+v", c)
	case !c.GoTo.ClientSecret.IsSet():
		fail(t, "accepted no GoTo client secret")
	}
}

// checkNoSecret fails if a secret value from the environment appears in
// out, unless the input itself spells it (then it is not a leak).
func checkNoSecret(t *testing.T, what, out string, data []byte, envText string, scalars []string, environ []string) {
	t.Helper()
	in := strings.ToLower(string(data) + "\n" + envText + "\n" + strings.Join(scalars, "\n"))
	if strings.Contains(in, "s3cret") {
		return
	}
	env := envMap(environ)
	for _, s := range fuzzSecrets {
		if env[s.name] == s.value && strings.Contains(out, s.value) {
			fail(t, "secret $%s appears in the %s:\n%s", s.name, what, out)
		}
	}
}

// yamlScalars returns every scalar of data (keys, values and anchors'
// targets), decoded, or nil if data is not YAML.
func yamlScalars(data []byte) []string {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return nil
	}
	var out []string
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		if n.Kind == yaml.ScalarNode || n.Kind == yaml.AliasNode {
			out = append(out, n.Value)
		}
		walk(n.Alias)
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
	return out
}

// riskyInput reports whether any string the configuration could use as a
// file name (every scalar and environment value, and the credentials under
// $CREDENTIALS_DIRECTORY) names something whose reading could block or be
// huge: devices, /proc, /sys, FIFOs, sockets, big files.
func riskyInput(scalars, environ []string) bool {
	candidates := append([]string(nil), scalars...)
	for _, kv := range environ {
		_, v, _ := strings.Cut(kv, "=")
		candidates = append(candidates, v)
	}
	if dir := envMap(environ)["CREDENTIALS_DIRECTORY"]; dir != "" {
		for _, p := range []string{"entra.client_secret", "entra.certificate_password", "goto.client_secret",
			"goto.refresh_token", "goto.personal_access_token", "goto.password"} {
			candidates = append(candidates, filepath.Join(dir, credentialName(p)))
		}
	}
	for _, c := range candidates {
		if riskyPath(c) {
			return true
		}
	}
	return false
}

func riskyPath(p string) bool {
	if p == "" {
		return false
	}
	special := func(abs string) bool {
		for _, d := range []string{"/dev", "/proc", "/sys"} {
			if abs == d || strings.HasPrefix(abs, d+"/") {
				return true
			}
		}
		return false
	}
	abs, err := filepath.Abs(p)
	if err != nil || special(abs) {
		return true
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return false // absent or unreachable: reading it fails at once
	}
	if special(real) {
		return true
	}
	fi, err := os.Stat(real)
	if err != nil {
		return false
	}
	return (!fi.Mode().IsRegular() && !fi.IsDir()) || fi.Size() > 1<<20
}

// dropSecretKeys removes from a mapping node every key whose field in t is
// a Secret, recursing into structures.
func dropSecretKeys(n *yaml.Node, t reflect.Type) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return
	}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if sf, ok := fieldTypeByTag(t, k.Value); ok {
			if sf == secretType {
				continue
			}
			dropSecretKeys(v, sf)
		}
		kept = append(kept, k, v)
	}
	n.Content = kept
}

func fieldTypeByTag(t reflect.Type, key string) (reflect.Type, bool) {
	for i := range t.NumField() {
		if tagName(t.Field(i)) == key {
			return t.Field(i).Type, true
		}
	}
	return nil, false
}

func fail(t *testing.T, format string, args ...any) {
	t.Helper()
	if path := os.Getenv("CONFIG_FUZZ_SURVEY"); path != "" { // SURVEY
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		fmt.Fprintf(f, "%q\t%q\n", format, fmt.Sprintf(format, args...))
		f.Close()
		t.SkipNow()
	}
	t.Fatalf(format, args...)
}
