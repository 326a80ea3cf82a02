package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
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

// fuzzSecrets are the secret variables FuzzParse may set, one per Secret
// field of Config, each with a value that no fuzz input contains (inputs
// mentioning "s3cret" are not checked).
var fuzzSecrets = func() (out []struct{ path, name, value string }) {
	for _, p := range secretPaths(reflect.TypeFor[Config](), "") {
		out = append(out, struct{ path, name, value string }{p, envName(p), "fz-S3cret-" + credentialName(p) + "-91"})
	}
	return out
}()

// secretPaths lists the key paths of the Secret fields under t.
func secretPaths(t reflect.Type, path string) []string {
	var out []string
	for i := range t.NumField() {
		name := tagName(t.Field(i))
		if name == "" || name == "-" {
			continue
		}
		switch ft := t.Field(i).Type; {
		case ft == secretType:
			out = append(out, join(path, name))
		case ft.Kind() == reflect.Struct:
			out = append(out, secretPaths(ft, join(path, name))...)
		}
	}
	return out
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
	f.Add([]byte(validYAML), "G2MSYNC_ROLES={Admin: {licenses: ['42'], admin_roles: [MANAGE_USERS]}}\nG2MSYNC_SAFETY_MAX_DISABLE=3", uint8(0x7f))
	f.Add([]byte(validYAML+"mapping: { locale: { expr: '\"en_US\"', apply: on_create } }\nscope: { filters: [ { name: f, clauses: [ { attribute: department, op: eq, value: Sales } ] } ] }\n"), "", uint8(entraAndGoTo))
	f.Add([]byte(validYAML+"safety: { max_disables: 0, max_disables_percent: 12.5% }\npolicy: create-only\ndeprovision: delete\n"), "", uint8(entraAndGoTo))
	f.Add([]byte(validYAML+"goto: { client_secret: hunter2, timeout: soon, rate_limit_per_second: 50 }\n"), "G2MSYNC_GOTO_USERNAME=admin", uint8(0x7f))
	f.Add([]byte("entra: [a, b]\nschedul: '@hourly'\nroles: { User: {} }\n"), "G2MSYNC_SAFETY_MAX_DISABLES=lots", uint8(0))
	f.Add([]byte(validYAML+"safety: { max_disables: 3, max_disables_percent: 12.5, retry_backoff: 5m, quarantine_after: 2, disable_super_users: true }\n"+
		"audit_retention: 48h\ngoto: { rate_limit_per_second: 2.5, max_retries: 0, create_batch_size: 500, suppress_welcome_email: yes }\n"), "", uint8(entraAndGoTo))
	f.Add([]byte(validYAML+"'roles': { \"Sales \\u00e9\": { licenses: [\"1\", '2'] }, &r Ops: { licenses: [\"3\"] } }\nmatching: [mail]\n"), "G2MSYNC_GOTO_USERNAME=u", uint8(0x25))
	f.Add([]byte(validYAML+"notify: { smtp: { host: mail.example.com, port: 587, username: u }, from: g2msync@example.com, to: [ops@example.com] }\n"), "", uint8(entraAndGoTo|1<<6))
	f.Add([]byte("roles: ["), "", uint8(entraAndGoTo))
	f.Add([]byte("x: &a {b: *a}\nlisten: *a\n"), "", uint8(0))
	// Issue 10's inputs: a key given twice, aliases that multiply.
	f.Add([]byte(validYAML+"safety: { max_disables: 5 }\nsafety: { max_disables_percent: 10 }\n"), "", uint8(entraAndGoTo))
	f.Add([]byte(validYAML+"roles: { R0: &L {licenses: [\"1\", \"2\", \"3\"]}, R1: *L, R2: *L, R3: *L }\n"), "G2MSYNC_ROLES={A: &M {licenses: ['1']}, B: *M}", uint8(entraAndGoTo))
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
				t.Fatalf("Parse returned both a configuration and %v", err)
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse error %T is not a *config.Error: %v", err, err)
			}
			if len(cerr.Problems) == 0 {
				t.Fatalf("*config.Error with no problems: %q", err)
			}
			for _, p := range cerr.Problems {
				if p.Key == "" || p.Msg == "" {
					t.Fatalf("problem without key or message: %+v\nin: %v", p, err)
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
			t.Fatalf("Dump: %v", err)
		}
		checkNoSecret(t, "dump", dump.String(), data, envText, scalars, environ)

		// Secrets are not read from YAML; drop their redacted lines and let
		// the same environment supply them again.
		var doc yaml.Node
		if err := yaml.Unmarshal(dump.Bytes(), &doc); err != nil {
			t.Fatalf("Dump wrote YAML that does not parse: %v\n%s", err, dump.String())
		}
		dropSecretKeys(&doc, reflect.TypeFor[Config]())
		again, err := yaml.Marshal(&doc)
		if err != nil {
			t.Fatal(err)
		}
		cfg2, err := Parse(again, environ)
		if err != nil {
			t.Fatalf("the dumped configuration does not parse again: %v\ndump:\n%s", err, again)
		}
		opts := cmp.Options{cmpopts.EquateEmpty(), cmp.Comparer(func(a, b Secret) bool { return a == b })}
		if d := cmp.Diff(cfg, cfg2, opts); d != "" {
			t.Fatalf("configuration changed through Dump and Parse (-first +second):\n%s\ndump:\n%s", d, again)
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
		t.Fatalf("accepted goto.rate_limit_per_second %v", g.RateLimitPerSecond)
	case !(s.MaxDisablesPercent >= 0 && s.MaxDisablesPercent <= 100):
		t.Fatalf("accepted safety.max_disables_percent %v", s.MaxDisablesPercent)
	case s.MaxDisables < 0:
		t.Fatalf("accepted safety.max_disables %d", s.MaxDisables)
	case g.CreateBatchSize < 1 || g.CreateBatchSize > 500:
		t.Fatalf("accepted goto.create_batch_size %d", g.CreateBatchSize)
	case g.MaxRetries < 0 || g.MaxRetries > 10:
		t.Fatalf("accepted goto.max_retries %d", g.MaxRetries)
	case g.Timeout <= 0 || c.Entra.Timeout <= 0:
		t.Fatalf("accepted timeouts %v %v", g.Timeout.D(), c.Entra.Timeout.D())
	case c.ShutdownGrace <= 0 || c.ShutdownGrace.D() > time.Hour:
		t.Fatalf("accepted shutdown_grace %v", c.ShutdownGrace.D())
	case s.RetryBackoff <= 0 || s.QuarantineAfter < 0 || c.AuditRetention.D() < 24*time.Hour:
		t.Fatalf("accepted retry_backoff %v, quarantine_after %d, audit_retention %v", s.RetryBackoff.D(), s.QuarantineAfter, c.AuditRetention.D())
	case len(c.Roles) == 0 || len(c.Matching) == 0 || c.Mapping["email"].Expr == "":
		t.Fatalf("accepted no roles, matching or email mapping: %+v", c)
	case !c.GoTo.ClientSecret.IsSet():
		t.Fatalf("accepted no GoTo client secret")
	}
	checkFinite(t, reflect.ValueOf(c).Elem(), "")
}

// checkFinite fails on any NaN or infinite number in a valid configuration.
func checkFinite(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				checkFinite(t, v.Field(i), join(path, tagName(v.Type().Field(i))))
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			checkFinite(t, it.Value(), join(path, it.Key().String()))
		}
	case reflect.Slice:
		for i := range v.Len() {
			checkFinite(t, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			t.Fatalf("accepted %s: %v", path, f)
		}
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
			t.Fatalf("secret $%s appears in the %s:\n%s", s.name, what, out)
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
		for _, s := range fuzzSecrets {
			candidates = append(candidates, filepath.Join(dir, credentialName(s.path)))
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
