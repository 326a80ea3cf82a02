package config

import (
	"time"
)

// Config is the whole configuration. Field comments name the YAML key.
type Config struct {
	// Schedule is a cron expression (5 fields) or a descriptor such as "@every 20m".
	Schedule string `yaml:"schedule"`
	// ShutdownGrace is how long, on SIGTERM or SIGINT, the cycle in flight
	// has to finish its calls in flight and commit them before they are
	// cancelled; a second signal cancels them at once. Between 0 and 1h.
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	// StatePath is the bbolt state file.
	StatePath string `yaml:"state_path"`
	// Listen is the address of /healthz, /readyz, /metrics and /status; "" disables it.
	Listen string `yaml:"listen"`
	// StatusToken is the bearer token that /status requires when Listen is
	// not a loopback address (/status names people; /metrics, /healthz and
	// /readyz carry no personal data and stay open). Without one, /status
	// is refused to everyone on such an address.
	StatusToken     Secret `yaml:"status_token"`
	StatusTokenFile string `yaml:"status_token_file"`
	// ListenTLS, when set, serves Listen over HTTPS with this certificate
	// and key: needed for the console on an address other hosts reach.
	ListenTLS ListenTLS `yaml:"listen_tls"`
	// Console is the web console served at / on Listen.
	Console Console `yaml:"console"`
	Log     Log     `yaml:"log"`
	Entra   Entra   `yaml:"entra"`
	GoTo    GoTo    `yaml:"goto"`
	// Roles maps an app role (its value or id) to what a GoTo account gets.
	Roles map[string]Role `yaml:"roles"`
	// Mapping maps a GoTo field to an expression over directory attributes.
	Mapping map[string]FieldMapping `yaml:"mapping"`
	// Matching lists directory attributes tried in order to find a GoTo account to adopt.
	Matching []string `yaml:"matching"`
	Scope    Scope    `yaml:"scope"`
	// Policy is sync, create-update or create-only.
	Policy string `yaml:"policy"`
	// Deprovision is disable or delete.
	Deprovision string `yaml:"deprovision"`
	Safety      Safety `yaml:"safety"`
	// AuditRetention is how long provisioning log entries and cycle
	// summaries are kept.
	AuditRetention Duration `yaml:"audit_retention"`
	Notify         Notify   `yaml:"notify"`

	// Warnings are problems that do not stop g2msync but that a person
	// should fix, each with its key: a secret file others can read, a
	// certificate near or past its end. `check` prints them and the daemon
	// logs them at start.
	Warnings []Problem `yaml:"-"`
	// SecretFiles are the files secrets were read from (*_file keys,
	// systemd credentials, the certificate, the TLS key, the console's
	// operators), by key, with who may read each: `check` lists them.
	SecretFiles []SecretFile `yaml:"-"`
}

// Notify configures the mail sent when g2msync needs a person.
type Notify struct {
	SMTP SMTP     `yaml:"smtp"`
	From string   `yaml:"from"`
	To   []string `yaml:"to"`
	// FailedCycles in a row make an incident.
	FailedCycles int `yaml:"failed_cycles"`
	// SeatsFreeBelow, a count ("10") or a share of a licence's seats
	// ("5%"), opens an incident while a GoTo licence has fewer free seats;
	// "" warns of nothing.
	SeatsFreeBelow string `yaml:"seats_free_below"`
}

// SMTP is the mail server; an empty Host sends no mail.
type SMTP struct {
	Host         string   `yaml:"host"`
	Port         int      `yaml:"port"`
	Username     string   `yaml:"username"`
	Password     Secret   `yaml:"password"`
	PasswordFile string   `yaml:"password_file"`
	TLS          string   `yaml:"tls"` // starttls, tls or none
	Timeout      Duration `yaml:"timeout"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // auto (text on a terminal, else JSON), text, json
}

// Entra configures the Microsoft Graph source.
type Entra struct {
	TenantID string `yaml:"tenant_id"`
	ClientID string `yaml:"client_id"`
	// Auth is client_secret, certificate, managed_identity or workload_identity;
	// empty picks the one whose settings are present.
	Auth                    string `yaml:"auth"`
	ClientSecret            Secret `yaml:"client_secret"`
	ClientSecretFile        string `yaml:"client_secret_file"`
	CertificateFile         string `yaml:"certificate_file"`
	CertificatePassword     Secret `yaml:"certificate_password"`
	CertificatePasswordFile string `yaml:"certificate_password_file"`
	ManagedIdentityClientID string `yaml:"managed_identity_client_id"`
	FederatedTokenFile      string `yaml:"federated_token_file"`
	ServicePrincipalID      string `yaml:"service_principal_id"`
	AppID                   string `yaml:"app_id"`
	// Certificate is CertificateFile (PEM, or PKCS#12 opened with
	// CertificatePassword) read and checked when the configuration loads,
	// when the certificate is the credential; nil otherwise.
	Certificate *ClientCertificate `yaml:"-"`
	// Cloud is public, usgov, usgov-dod, china or custom.
	Cloud         string   `yaml:"cloud"`
	AuthorityHost string   `yaml:"authority_host"`
	GraphBaseURL  string   `yaml:"graph_base_url"`
	NestedGroups  bool     `yaml:"nested_groups"`
	Timeout       Duration `yaml:"timeout"`
	// FullReadInterval is the longest time between full directory reads;
	// in between, cycles follow Graph's delta queries. 0 reads in full
	// every cycle.
	FullReadInterval Duration `yaml:"full_read_interval"`
}

// GoTo configures the GoTo Admin API target.
type GoTo struct {
	AccountKey              string   `yaml:"account_key"`
	ClientID                string   `yaml:"client_id"`
	ClientSecret            Secret   `yaml:"client_secret"`
	ClientSecretFile        string   `yaml:"client_secret_file"`
	RefreshToken            Secret   `yaml:"refresh_token"`
	RefreshTokenFile        string   `yaml:"refresh_token_file"`
	PersonalAccessToken     Secret   `yaml:"personal_access_token"`
	PersonalAccessTokenFile string   `yaml:"personal_access_token_file"`
	Username                string   `yaml:"username"`
	Password                Secret   `yaml:"password"`
	PasswordFile            string   `yaml:"password_file"`
	AuthURL                 string   `yaml:"auth_url"`
	APIBaseURL              string   `yaml:"api_base_url"`
	RateLimitPerSecond      float64  `yaml:"rate_limit_per_second"`
	CreateBatchSize         int      `yaml:"create_batch_size"`
	SuppressWelcomeEmail    bool     `yaml:"suppress_welcome_email"`
	Timeout                 Duration `yaml:"timeout"`
	MaxRetries              int      `yaml:"max_retries"`
	// MaxInFlight is how many GoTo calls (bulk creates and other changes,
	// renames aside) are sent at once,
	// so that the rate limit, not GoTo's latency, bounds a cycle.
	MaxInFlight int `yaml:"max_in_flight"`
	// ReconcileInterval is the longest time between two cycles that list
	// every GoTo account to find accounts changed there outside g2msync
	// (drift); 0 never reconciles.
	ReconcileInterval Duration `yaml:"reconcile_interval"`
	// Drift is what a reconcile does with drift: repair (the default) or
	// report.
	Drift string `yaml:"drift"`
}

// Role is what one app role gives.
type Role struct {
	Licenses   []string `yaml:"licenses"`
	AdminRoles []string `yaml:"admin_roles"`
}

// Scope holds the scoping filters.
type Scope struct {
	// Filters: a user is in scope if every clause of at least one filter
	// matches. No filters: everyone assigned is in scope.
	Filters []Filter `yaml:"filters"`
}

// Filter is a named group of clauses.
type Filter struct {
	Name    string   `yaml:"name"`
	Clauses []Clause `yaml:"clauses"`
}

// Clause tests one directory attribute.
type Clause struct {
	Attribute string `yaml:"attribute"`
	Op        string `yaml:"op"`
	Value     string `yaml:"value"`
}

// Safety holds the safety gates.
type Safety struct {
	MaxDisables        int     `yaml:"max_disables"`
	MaxDisablesPercent float64 `yaml:"max_disables_percent"`
	DisableSuperUsers  bool    `yaml:"disable_super_users"`
	// RetryBackoff is the wait after a person's first failed change; it
	// doubles with each failure of the same change, up to a day.
	RetryBackoff Duration `yaml:"retry_backoff"`
	// QuarantineAfter failures of the same change quarantine the person until
	// the change differs or someone runs `g2msync retry`; 0 never quarantines.
	QuarantineAfter int `yaml:"quarantine_after"`
}

// Default returns the configuration before any file is read.
func Default() *Config {
	return &Config{
		Schedule:      "@every 20m",
		ShutdownGrace: Duration(30 * time.Second),
		StatePath:     "/var/lib/g2msync/state.db",
		Listen:        "127.0.0.1:9464",
		Log:           Log{Level: "info", Format: "auto"},
		Entra:         Entra{Cloud: "public", Timeout: Duration(60 * time.Second), FullReadInterval: Duration(24 * time.Hour)},
		GoTo: GoTo{
			AuthURL:            "https://authentication.logmeininc.com",
			APIBaseURL:         "https://api.getgo.com/admin/rest/v1",
			RateLimitPerSecond: 10,
			CreateBatchSize:    100,
			Timeout:            Duration(30 * time.Second),
			MaxRetries:         4,
			MaxInFlight:        4,
			ReconcileInterval:  Duration(24 * time.Hour),
			Drift:              "repair",
		},
		Mapping: map[string]FieldMapping{
			"email":     {Expr: "mail ?? userPrincipalName"},
			"firstName": {Expr: "givenName"},
			"lastName":  {Expr: "surname"},
		},
		Matching:       []string{"mail", "userPrincipalName"},
		Policy:         "sync",
		Deprovision:    "disable",
		Safety:         Safety{MaxDisables: 50, MaxDisablesPercent: 20, RetryBackoff: Duration(10 * time.Minute), QuarantineAfter: 5},
		AuditRetention: Duration(90 * 24 * time.Hour),
		Notify:         Notify{SMTP: SMTP{TLS: "starttls", Timeout: Duration(30 * time.Second)}, FailedCycles: 3},
	}
}

// Console configures the web console. Reading is open on a loopback
// listener; on any other, every page needs an operator to sign in, and the
// daemon refuses to start without operators unless the console is off.
// Actions (approve, retry, pause, resume) always need an operator.
type Console struct {
	// Disabled turns the console off; /healthz, /readyz, /metrics and
	// /status stay.
	Disabled bool `yaml:"disabled"`
	// OperatorsFile holds one "name:bcrypt-hash" line per operator
	// (`g2msync console hash` makes the hash; htpasswd -nbB does too).
	OperatorsFile string `yaml:"operators_file"`
	// RequireSignIn makes every page need a signed-in operator on a
	// loopback listener too: behind a reverse proxy on the same host.
	RequireSignIn bool `yaml:"require_sign_in"`
	// Entra signs people in with Microsoft Entra ID. With it, the
	// operators file is the break-glass door.
	Entra ConsoleEntra `yaml:"entra"`
}

// ConsoleEntra configures sign-in to the console with Microsoft Entra ID
// (OpenID Connect authorization code flow with PKCE). Everyone of the
// tenant who signs in reads the pages; members of OperatorsGroup and
// holders of OperatorsRole act.
type ConsoleEntra struct {
	Enabled bool `yaml:"enabled"`
	// TenantID is the directory (tenant) id, a GUID; "" takes
	// entra.tenant_id. An ID token of another tenant is refused.
	TenantID string `yaml:"tenant_id"`
	// ClientID is the app registration people sign in to; "" takes
	// entra.client_id (the daemon's app, given a web redirect URI).
	ClientID string `yaml:"client_id"`
	// ClientSecret redeems sign-in codes. Unset, with the daemon's app, the
	// daemon's client secret or certificate (a client assertion) does; a
	// managed or workload identity cannot, so then set one.
	ClientSecret     Secret `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	// RedirectURL is the console's public URL + /auth/callback, registered
	// on the app as a Web redirect URI. Required unless the console listens
	// on loopback, where it is built from the address the browser used.
	RedirectURL string `yaml:"redirect_url"`
	// OperatorsGroup is the object id of the group whose members act (the
	// app registration must emit the groups claim); OperatorsRole an app
	// role value whose holders act. At least one is needed.
	OperatorsGroup string `yaml:"operators_group"`
	OperatorsRole  string `yaml:"operators_role"`
	// SignOutAtEntra also ends the Entra session on sign-out (the browser
	// goes to Entra's end_session_endpoint and back).
	SignOutAtEntra bool `yaml:"sign_out_at_entra"`
}

// ListenTLS is the listener's certificate and key, PEM files.
type ListenTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}
