package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/g2msync/g2msync/pkg/mapping"
	"github.com/g2msync/g2msync/pkg/notify"
	"github.com/g2msync/g2msync/pkg/plan"
)

var (
	guidRE       = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainRE     = regexp.MustCompile(`^([a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}$`)
	digitsRE     = regexp.MustCompile(`^[0-9]{1,40}$`)
	adminRoleRE  = regexp.MustCompile(`^[A-Z][A-Z_]*$`)
	logLevels    = []string{"debug", "info", "warn", "error"}
	logFormats   = []string{"auto", "text", "json"}
	authMethods  = []string{"client_secret", "certificate", "managed_identity", "workload_identity"}
	targetFields = []string{"email", "firstName", "lastName", "locale", "timeZone"}
)

// Clouds are the national clouds' authority hosts and Graph base URLs.
var clouds = map[string][2]string{
	"public":    {"https://login.microsoftonline.com/", "https://graph.microsoft.com"},
	"usgov":     {"https://login.microsoftonline.us/", "https://graph.microsoft.us"},
	"usgov-dod": {"https://login.microsoftonline.us/", "https://dod-graph.microsoft.us"},
	"china":     {"https://login.chinacloudapi.cn/", "https://microsoftgraph.chinacloudapi.cn"},
}

// Endpoints returns the authority host and Graph base URL (without /v1.0) of
// the configured cloud.
func (e *Entra) Endpoints() (authority, graph string) {
	if c, ok := clouds[e.Cloud]; ok {
		return c[0], c[1]
	}
	return e.AuthorityHost, strings.TrimSuffix(strings.TrimSuffix(e.GraphBaseURL, "/"), "/v1.0")
}

// AuthMethod returns the Entra credential in use: entra.auth, or the one whose
// settings are present.
func (e *Entra) AuthMethod() string {
	if e.Auth != "" {
		return e.Auth
	}
	if found := e.found(); len(found) == 1 {
		return found[0]
	}
	return ""
}

// credentials counts the credentials configured.
func (e *Entra) credentials() int { return len(e.found()) }

// found lists the credentials configured.
func (e *Entra) found() []string {
	var found []string
	if e.ClientSecret.IsSet() {
		found = append(found, "client_secret")
	}
	if e.CertificateFile != "" {
		found = append(found, "certificate")
	}
	if e.FederatedTokenFile != "" {
		found = append(found, "workload_identity")
	}
	if e.ManagedIdentityClientID != "" {
		found = append(found, "managed_identity")
	}
	return found
}

// placeholder reports whether v is one of the example configuration's
// stand-ins rather than a real value: the nil GUID, a "your-…" name, a key
// of one repeated digit or 1234567890123456789. A copied example must not
// pass for a configuration.
func placeholder(v string) bool {
	if v == "00000000-0000-0000-0000-000000000000" || strings.HasPrefix(v, "your-") || v == "1234567890123456789" {
		return true
	}
	return len(v) > 3 && digitsRE.MatchString(v) && strings.Count(v, v[:1]) == len(v)
}

// placeholders reports each stand-in the example configuration ships with.
func placeholders(c *Config, p *Problems) {
	for _, f := range []struct{ key, v string }{
		{"entra.tenant_id", c.Entra.TenantID}, {"entra.client_id", c.Entra.ClientID},
		{"entra.service_principal_id", c.Entra.ServicePrincipalID}, {"entra.app_id", c.Entra.AppID},
		{"goto.account_key", c.GoTo.AccountKey}, {"goto.client_id", c.GoTo.ClientID},
	} {
		if f.v != "" && placeholder(f.v) {
			p.Add(f.key, "%q is the example configuration's placeholder; set the real value", f.v)
		}
	}
	for name, r := range c.Roles {
		for i, l := range r.Licenses {
			if placeholder(l) {
				p.Add(fmt.Sprintf("roles.%s.licenses[%d]", name, i), "%q is the example configuration's placeholder; `g2msync check` lists the GoTo account's licence keys", l)
			}
		}
	}
}

func validate(c *Config, p *Problems) {
	if _, err := cron.ParseStandard(c.Schedule); err != nil {
		p.Add("schedule", "invalid schedule %q: %v; use 5-field cron (\"*/20 * * * *\") or \"@every 20m\"", c.Schedule, err)
	} else if every, ok := strings.CutPrefix(c.Schedule, "@every "); ok {
		if d, err := time.ParseDuration(every); err == nil && d < time.Second {
			p.Add("schedule", "%q would start cycles without pause; use at least @every 1s (the default is @every 20m)", c.Schedule)
		}
	}
	placeholders(c, p)
	switch {
	case c.ShutdownGrace <= 0:
		p.Add("shutdown_grace", "must be positive, got %s; the cycle in flight needs time to commit its calls (the default is 30s)", c.ShutdownGrace.D())
	case c.ShutdownGrace.D() > time.Hour:
		p.Add("shutdown_grace", "must be at most 1h, got %s; the service manager would kill g2msync first", c.ShutdownGrace.D())
	}
	if c.StatePath == "" {
		p.Add("state_path", "empty; g2msync needs a state file, e.g. /var/lib/g2msync/state.db")
	}
	if c.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
			p.Add("listen", "want host:port such as 127.0.0.1:9464, got %q", c.Listen)
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			p.Add("listen", "port %q is not a TCP port (1 to 65535)", port)
		}
	}
	if (c.ListenTLS.CertFile == "") != (c.ListenTLS.KeyFile == "") {
		p.Add("listen_tls", "give both cert_file and key_file, or neither")
	}
	for _, f := range []struct {
		key, path string
		secret    bool
	}{
		{"listen_tls.cert_file", c.ListenTLS.CertFile, false}, {"listen_tls.key_file", c.ListenTLS.KeyFile, true},
		{"console.operators_file", c.Console.OperatorsFile, true},
	} {
		if f.path == "" || f.key == "console.operators_file" && c.Console.Disabled {
			continue
		}
		if _, err := os.ReadFile(f.path); err != nil {
			p.Add(f.key, "%v", unwrapPath(err))
		} else if f.secret {
			noteSecretFile(c, f.key, f.path, "", false)
		}
	}
	oneOf(p, "log.level", c.Log.Level, logLevels)
	oneOf(p, "log.format", c.Log.Format, logFormats)
	validateEntra(&c.Entra, p)
	validateConsoleEntra(c, p)
	validateGoTo(&c.GoTo, p)
	validateRoles(c.Roles, p)
	validateMapping(c, p)
	if _, err := plan.ParseMode(c.Policy); err != nil {
		p.Add("policy", "%v", err)
	}
	oneOf(p, "deprovision", c.Deprovision, []string{string(plan.DeprovisionDisable), string(plan.DeprovisionDelete)})
	if c.Safety.MaxDisables < 0 {
		p.Add("safety.max_disables", "must be 0 or more, got %d", c.Safety.MaxDisables)
	}
	if c.Safety.MaxDisablesPercent < 0 || c.Safety.MaxDisablesPercent > 100 {
		p.Add("safety.max_disables_percent", "must be between 0 and 100, got %g", c.Safety.MaxDisablesPercent)
	}
	if c.Safety.RetryBackoff <= 0 {
		p.Add("safety.retry_backoff", "must be positive, e.g. 10m")
	}
	if c.Safety.QuarantineAfter < 0 {
		p.Add("safety.quarantine_after", "must be 0 (never quarantine) or more, got %d", c.Safety.QuarantineAfter)
	}
	validateNotify(&c.Notify, p)
	if c.AuditRetention < Duration(24*time.Hour) {
		p.Add("audit_retention", "must be at least 24h, got %s", time.Duration(c.AuditRetention))
	}
}

func validateEntra(e *Entra, p *Problems) {
	switch {
	case e.TenantID == "":
		p.Add("entra.tenant_id", "missing; the directory (tenant) id from the app registration's overview page")
	case !guidRE.MatchString(e.TenantID) && !domainRE.MatchString(e.TenantID):
		p.Add("entra.tenant_id", "want a GUID or a domain such as contoso.onmicrosoft.com, got %q", e.TenantID)
	}
	method := e.AuthMethod()
	switch {
	case e.Auth != "" && !slices.Contains(authMethods, e.Auth):
		p.Add("entra.auth", "want one of %s, got %q", strings.Join(authMethods, ", "), e.Auth)
	case method == "" && e.credentials() == 0:
		// Most often a client secret that did not arrive: say it there.
		p.Add("entra.client_secret", "missing: set client_secret_file or $G2MSYNC_ENTRA_CLIENT_SECRET (or entra.certificate_file, "+
			"or a managed or workload identity)")
	case method == "":
		p.Add("entra.auth", "more than one credential is configured: choose one with auth: client_secret | certificate | managed_identity | workload_identity")
	case method == "client_secret" && !e.ClientSecret.IsSet():
		p.Add("entra.client_secret", "missing: set client_secret_file, $G2MSYNC_ENTRA_CLIENT_SECRET or the systemd credential entra-client-secret")
	case method == "certificate" && e.CertificateFile == "":
		p.Add("entra.certificate_file", "missing: the PEM or PKCS#12 file holding the app's certificate and private key")
	}
	if method != "managed_identity" {
		switch {
		case e.ClientID == "":
			p.Add("entra.client_id", "missing; the application (client) id of the app registration g2msync signs in as")
		case !guidRE.MatchString(e.ClientID):
			p.Add("entra.client_id", "want a GUID, got %q", e.ClientID)
		}
	}
	switch {
	case e.ServicePrincipalID == "" && e.AppID == "":
		p.Add("entra.service_principal_id", "missing; the object id of the GoToMeeting enterprise application (or set app_id)")
	case e.ServicePrincipalID != "" && e.AppID != "":
		p.Add("entra.app_id", "set service_principal_id or app_id, not both")
	case e.ServicePrincipalID != "" && !guidRE.MatchString(e.ServicePrincipalID):
		p.Add("entra.service_principal_id", "want a GUID, got %q", e.ServicePrincipalID)
	case e.AppID != "" && !guidRE.MatchString(e.AppID):
		p.Add("entra.app_id", "want a GUID, got %q", e.AppID)
	}
	if _, ok := clouds[e.Cloud]; !ok && e.Cloud != "custom" {
		p.Add("entra.cloud", "want public, usgov, usgov-dod, china or custom, got %q", e.Cloud)
	}
	if e.Cloud == "custom" {
		httpsURL(p, "entra.authority_host", e.AuthorityHost, true)
		httpsURL(p, "entra.graph_base_url", e.GraphBaseURL, true)
	} else {
		for key, v := range map[string]string{"entra.authority_host": e.AuthorityHost, "entra.graph_base_url": e.GraphBaseURL} {
			if v != "" {
				p.Add(key, "set only with cloud: custom (cloud is %q)", e.Cloud)
			}
		}
	}
	if e.Timeout <= 0 {
		p.Add("entra.timeout", "must be positive")
	}
	if e.FullReadInterval < 0 {
		p.Add("entra.full_read_interval", "must be 0 (a full read every cycle) or positive, got %s", e.FullReadInterval.D())
	}
}

func validateGoTo(g *GoTo, p *Problems) {
	switch {
	case g.AccountKey == "":
		p.Add("goto.account_key", "missing; the GoTo account key (g2msync check lists the keys the admin can manage)")
	case !digitsRE.MatchString(g.AccountKey):
		p.Add("goto.account_key", "want GoTo's numeric account key, got %q", g.AccountKey)
	}
	if g.ClientID == "" {
		p.Add("goto.client_id", "missing; the OAuth client id from developer.goto.com")
	}
	if !g.ClientSecret.IsSet() {
		p.Add("goto.client_secret", "missing: set client_secret_file, $G2MSYNC_GOTO_CLIENT_SECRET or the systemd credential goto-client-secret")
	}
	if g.Username != "" && !g.Password.IsSet() {
		p.Add("goto.password", "username is set but no password: set password_file, $G2MSYNC_GOTO_PASSWORD or the systemd credential goto-password")
	}
	if g.Password.IsSet() && g.Username == "" {
		p.Add("goto.username", "a password is set but no username")
	}
	httpsURL(p, "goto.auth_url", g.AuthURL, true)
	httpsURL(p, "goto.api_base_url", g.APIBaseURL, true)
	if g.RateLimitPerSecond < 0.1 || g.RateLimitPerSecond > 10 {
		p.Add("goto.rate_limit_per_second", "must be from 0.1 to 10 (GoTo answers 429 beyond 10 requests per second), got %g", g.RateLimitPerSecond)
	}
	if g.CreateBatchSize < 1 || g.CreateBatchSize > 500 {
		p.Add("goto.create_batch_size", "must be between 1 and 500, got %d", g.CreateBatchSize)
	}
	if g.Timeout <= 0 {
		p.Add("goto.timeout", "must be positive")
	}
	if g.MaxInFlight < 1 || g.MaxInFlight > 16 {
		p.Add("goto.max_in_flight", "must be between 1 and 16, got %d", g.MaxInFlight)
	}
	if g.ReconcileInterval < 0 {
		p.Add("goto.reconcile_interval", "must be 0 (never reconcile) or positive, got %s", g.ReconcileInterval.D())
	}
	if _, err := plan.ParseDriftPolicy(g.Drift); err != nil {
		p.Add("goto.drift", "%v", err)
	}
	if g.MaxRetries < 0 || g.MaxRetries > 10 {
		p.Add("goto.max_retries", "must be between 0 and 10, got %d", g.MaxRetries)
	}
}

func validateRoles(roles map[string]Role, p *Problems) {
	if len(roles) == 0 {
		p.Add("roles", "no app role is mapped; map at least one, e.g. roles: {User: {licenses: [\"<licence key>\"]}}")
	}
	for name, r := range roles {
		key := "roles." + name
		if strings.TrimSpace(name) == "" {
			p.Add("roles", "an app role name is empty")
		}
		if len(r.Licenses) == 0 {
			p.Add(key+".licenses", "empty; each role needs at least one GoTo licence key (an account without one is suspended)")
		}
		for i, l := range r.Licenses {
			if !digitsRE.MatchString(l) {
				p.Add(fmt.Sprintf("%s.licenses[%d]", key, i), "want a numeric GoTo licence key, got %q; g2msync check lists the account's licences", l)
			}
		}
		for i, a := range r.AdminRoles {
			if !adminRoleRE.MatchString(a) {
				p.Add(fmt.Sprintf("%s.admin_roles[%d]", key, i), "want a GoTo admin role such as MANAGE_USERS, got %q", a)
			}
		}
	}
}

// CheckMapping validates the mapping section alone, as loading does: for
// mappings an administrator tries before saving them (`g2msync mapping test`).
func (c *Config) CheckMapping() error {
	var probs Problems
	validateMapping(c, &probs)
	if len(probs) > 0 {
		return &Error{Problems: probs}
	}
	return nil
}

func validateMapping(c *Config, p *Problems) {
	if _, ok := c.Mapping["email"]; !ok {
		p.Add("mapping.email", "missing; GoTo accounts are keyed by email, e.g. email: mail ?? userPrincipalName")
	}
	for field, m := range c.Mapping {
		if !slices.Contains(targetFields, field) {
			p.Add("mapping."+field, "unknown GoTo field; want one of %s", strings.Join(targetFields, ", "))
			continue
		}
		key := "mapping." + field
		e, err := mapping.Parse(m.Expr)
		if err != nil {
			p.Add(key, "%v", err)
			continue
		}
		if e.Unique() && field != "email" {
			p.Add(key, "SelectUniqueValue picks a value no other account uses, and email is GoTo's only unique field: use it for email")
		}
		if e.Unique() && !m.CreateOnly {
			p.Add(key, "SelectUniqueValue applies only when an account is created (as in Entra): write {expr: ..., apply: on_create}")
		}
		if e.Volatile() && !m.CreateOnly {
			p.Add(key, "Now() and Guid() give a new value every cycle, which would update every account every cycle: write {expr: ..., apply: on_create}")
		}
		if m.Default != "" && field == "email" {
			p.Add(key+".default", "email has no default: one address for everyone whose mapping is empty would make them one account")
		}
	}
	if len(c.Matching) == 0 {
		p.Add("matching", "empty; list the attributes whose values may equal an existing GoTo account's email, e.g. [mail, userPrincipalName]")
	}
	for i, a := range c.Matching {
		if !mapping.KnownAttribute(a) {
			p.Add(fmt.Sprintf("matching[%d]", i), "unknown directory attribute %q", a)
		}
	}
	for i, f := range c.Scope.Filters {
		key := fmt.Sprintf("scope.filters[%d]", i)
		if len(f.Clauses) == 0 {
			p.Add(key+".clauses", "empty; a filter needs at least one clause")
		}
		for j, cl := range f.Clauses {
			if _, err := mapping.NewClause(cl.Attribute, mapping.Op(cl.Op), cl.Value); err != nil {
				p.Add(fmt.Sprintf("%s.clauses[%d]", key, j), "%v", err)
			}
		}
	}
}

func oneOf(p *Problems, key, v string, allowed []string) {
	if !slices.Contains(allowed, v) {
		p.Add(key, "want one of %s, got %q", strings.Join(allowed, ", "), v)
	}
}

func httpsURL(p *Problems, key, v string, required bool) {
	if v == "" {
		if required {
			p.Add(key, "missing")
		}
		return
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		p.Add(key, "want an absolute URL, got %q", v)
		return
	}
	if u.Scheme != "https" {
		p.Add(key, "want https (tokens must not travel in clear), got %q", v)
	}
}

func validateNotify(n *Notify, p *Problems) {
	if _, err := notify.ParseSeatsThreshold(n.SeatsFreeBelow); err != nil {
		p.Add("notify.seats_free_below", "%v", err)
	}
	s := &n.SMTP
	if s.Host == "" {
		return // no mail
	}
	if n.From == "" {
		p.Add("notify.from", "missing: the sender address of notification mail")
	} else if _, err := mail.ParseAddress(n.From); err != nil {
		p.Add("notify.from", "want an email address, got %q", n.From)
	}
	if len(n.To) == 0 {
		p.Add("notify.to", "empty: list who gets notification mail, e.g. [identity-team@contoso.com]")
	}
	for i, to := range n.To {
		if _, err := mail.ParseAddress(to); err != nil {
			p.Add(fmt.Sprintf("notify.to[%d]", i), "want an email address, got %q", to)
		}
	}
	oneOf(p, "notify.smtp.tls", s.TLS, []string{"starttls", "tls", "none"})
	if s.Port < 0 || s.Port > 65535 {
		p.Add("notify.smtp.port", "want a port number, got %d", s.Port)
	}
	if s.Username != "" && !s.Password.IsSet() {
		p.Add("notify.smtp.password", "username is set but no password: set password_file, $G2MSYNC_NOTIFY_SMTP_PASSWORD or the systemd credential notify-smtp-password")
	}
	if s.Username != "" && s.TLS == "none" {
		p.Add("notify.smtp.tls", "none would send the SMTP password in clear; use starttls or tls")
	}
	if n.FailedCycles < 1 {
		p.Add("notify.failed_cycles", "must be 1 or more, got %d", n.FailedCycles)
	}
	if s.Timeout <= 0 {
		p.Add("notify.smtp.timeout", "must be positive")
	}
}

// validateConsoleEntra checks console.entra, filling in the tenant and
// client of the daemon's app where they are left out. Whether a redirect
// URL is needed depends on the listener; the console decides that.
func validateConsoleEntra(c *Config, p *Problems) {
	e := &c.Console.Entra
	if !e.Enabled || c.Console.Disabled {
		return
	}
	if e.TenantID == "" {
		e.TenantID = c.Entra.TenantID
	}
	if e.ClientID == "" {
		e.ClientID = c.Entra.ClientID
	}
	if !guidRE.MatchString(e.TenantID) {
		p.Add("console.entra.tenant_id", "want the directory (tenant) id, a GUID, as ID tokens name it (tid), got %q; "+
			"set it when entra.tenant_id is a domain", e.TenantID)
	}
	if !guidRE.MatchString(e.ClientID) {
		p.Add("console.entra.client_id", "want the application (client) id of the app registration people sign in to, a GUID, got %q", e.ClientID)
	}
	// The certificate is read after validation: its file stands for it.
	method := c.Entra.AuthMethod()
	if sameApp := strings.EqualFold(e.ClientID, c.Entra.ClientID); !e.ClientSecret.IsSet() && !(sameApp && (method == "client_secret" || method == "certificate")) {
		p.Add("console.entra.client_secret", "missing: the console redeems sign-in codes with a client secret of its app registration: "+
			"set client_secret_file, $G2MSYNC_CONSOLE_ENTRA_CLIENT_SECRET or the systemd credential console-entra-client-secret "+
			"(with the daemon's own app, its client secret or certificate serves; a managed or workload identity cannot)")
	}
	if e.RedirectURL != "" {
		u, err := url.Parse(e.RedirectURL)
		switch {
		case err != nil || u.Host == "" || u.Scheme == "":
			p.Add("console.entra.redirect_url", "want an absolute URL such as https://g2msync.contoso.com/auth/callback, got %q", e.RedirectURL)
		case u.Scheme != "https" && !loopbackName(u.Hostname()):
			p.Add("console.entra.redirect_url", "want https (Entra takes http redirect URIs on localhost only), got %q", e.RedirectURL)
		case u.Path != "/auth/callback":
			p.Add("console.entra.redirect_url", "want the console's address followed by /auth/callback, got %q", e.RedirectURL)
		}
	}
	if e.OperatorsGroup != "" && !guidRE.MatchString(e.OperatorsGroup) {
		p.Add("console.entra.operators_group", "want the group's object id, a GUID, got %q", e.OperatorsGroup)
	}
	if e.OperatorsGroup == "" && e.OperatorsRole == "" {
		p.Add("console.entra.operators_group", "set operators_group (a group's object id) or operators_role (an app role's value), or both: "+
			"without them no one who signs in with Entra may act")
	}
}

// ConsoleCredential is what the console redeems sign-in codes with: its
// own client secret; else, when it signs people in to the daemon's app,
// the daemon's client secret or certificate. Both zero: none.
func (c *Config) ConsoleCredential() (Secret, *ClientCertificate) {
	e := &c.Console.Entra
	if e.ClientSecret.IsSet() {
		return e.ClientSecret, nil
	}
	if !strings.EqualFold(e.ClientID, c.Entra.ClientID) {
		return Secret{}, nil
	}
	switch c.Entra.AuthMethod() {
	case "client_secret":
		return c.Entra.ClientSecret, nil
	case "certificate":
		return Secret{}, c.Entra.Certificate
	}
	return Secret{}, nil
}

// loopbackName reports whether host is localhost or a loopback address.
func loopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
