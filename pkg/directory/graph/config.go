package graph

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Authority hosts and Graph base URLs of the Microsoft clouds. Callers pass
// them (or their own, e.g. a simulator's) in Cloud.
const (
	AuthorityPublic = "https://login.microsoftonline.com/"
	AuthorityUSGov  = "https://login.microsoftonline.us/"
	AuthorityChina  = "https://login.chinacloudapi.cn/"

	GraphPublic   = "https://graph.microsoft.com/v1.0"
	GraphUSGov    = "https://graph.microsoft.us/v1.0"
	GraphUSGovDoD = "https://dod-graph.microsoft.us/v1.0"
	GraphChina    = "https://microsoftgraph.chinacloudapi.cn/v1.0"
)

// Cloud is where to sign in and where Graph lives.
type Cloud struct {
	// AuthorityHost is the Entra authority, e.g. AuthorityPublic.
	AuthorityHost string
	// GraphBaseURL is Graph's v1.0 base URL, e.g. GraphPublic.
	GraphBaseURL string
}

// CloudByName returns the cloud configuration for "public", "usgov",
// "usgov-dod" (DoD Graph) or "china".
func CloudByName(name string) (Cloud, error) {
	switch strings.ToLower(name) {
	case "", "public", "azurepublic":
		return Cloud{AuthorityPublic, GraphPublic}, nil
	case "usgov", "usgovernment", "gcchigh":
		return Cloud{AuthorityUSGov, GraphUSGov}, nil
	case "usgov-dod", "dod":
		return Cloud{AuthorityUSGov, GraphUSGovDoD}, nil
	case "china":
		return Cloud{AuthorityChina, GraphChina}, nil
	}
	return Cloud{}, fmt.Errorf("unknown cloud %q: use public, usgov, usgov-dod or china, or set the authority host and Graph base URL", name)
}

// microsoftAuthority reports whether host is a Microsoft authority, for which
// MSAL's instance discovery works; for any other host it must be disabled.
func microsoftAuthority(host string) bool {
	switch strings.ToLower(host) {
	case "login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn", "login.microsoft.com", "login.windows.net", "sts.windows.net":
		return true
	}
	return false
}

// Config configures a Source. Exactly one credential must be chosen.
type Config struct {
	TenantID string
	ClientID string // application (client) id; for managed identity see ManagedIdentityClientID

	// ClientSecret selects the client secret credential.
	ClientSecret string
	// Certificates and PrivateKey select the client certificate credential:
	// an RSA key and its certificate (any order; the others are sent as
	// its chain), as the caller read them (pkg/config reads PEM and
	// PKCS#12 files and checks them when the configuration loads).
	Certificates []*x509.Certificate
	PrivateKey   crypto.PrivateKey
	// ManagedIdentity selects the managed identity of the host (Azure VM,
	// App Service, ...). ManagedIdentityClientID picks a user-assigned one.
	ManagedIdentity         bool
	ManagedIdentityClientID string
	// WorkloadIdentity selects workload identity federation (AKS):
	// WorkloadIdentityTokenFile, or AZURE_FEDERATED_TOKEN_FILE when empty.
	WorkloadIdentity          bool
	WorkloadIdentityTokenFile string

	// Cloud says where to sign in and read; zero means the public cloud.
	Cloud Cloud
	// Scope overrides the token scope, derived by default from the Graph
	// host ("https://graph.microsoft.com/.default").
	Scope string

	// ServicePrincipalID is the enterprise application's object id. AppID,
	// its application id, is resolved to it when ServicePrincipalID is empty.
	ServicePrincipalID string
	AppID              string

	// NestedGroups expands assigned groups transitively; Entra itself only
	// provisions direct members.
	NestedGroups bool
	// Attributes are the user properties the mappings need, by Graph name.
	// id, userPrincipalName and accountEnabled are always read. A dotted
	// name ("onPremisesExtensionAttributes.extensionAttribute1") selects the
	// property before the dot and reads the nested value.
	Attributes []string

	// HTTPClient supplies the transport (TLS roots, proxy, metrics wrapper)
	// and the per-call timeout; Transport, when set, takes precedence over
	// HTTPClient.Transport. nil means a clone of http.DefaultTransport.
	HTTPClient *http.Client
	Transport  http.RoundTripper
	// MaxRetries is how often a throttled (429) or unavailable (503, 504)
	// call is retried, honouring Retry-After: 0 means 3 as in kiota's
	// RetryHandler, at most 10, negative disables retries.
	MaxRetries int
	// Logger receives a debug line per HTTP call and a warning per retry;
	// nil discards them.
	Logger *slog.Logger

	// MaxPages bounds the pages of one collection (a group's members, the
	// assignments): 0 means 10,000, ten million objects at 999 a page, far
	// beyond any tenant, so that a server whose nextLinks never end cannot
	// keep the read going.
	MaxPages int
	// MaxReplyBytes bounds one reply's decoded body: 0 means 64 MiB, some
	// thirty times a page of 999 users with every attribute.
	MaxReplyBytes int64
	// ReadTimeout bounds a whole Read: 0 means 30 minutes.
	ReadTimeout time.Duration
	// GroupReads is how many assigned groups' members are read at once:
	// 0 means 4, well inside Graph's throttling budget for an app, and
	// enough that a read takes about as long as its largest group.
	GroupReads int
}

func (c *Config) maxPages() int {
	if c.MaxPages > 0 {
		return c.MaxPages
	}
	return 10000
}

func (c *Config) maxReplyBytes() int64 {
	if c.MaxReplyBytes > 0 {
		return c.MaxReplyBytes
	}
	return 64 << 20
}

func (c *Config) groupReads() int {
	if c.GroupReads > 0 {
		return c.GroupReads
	}
	return 4
}

func (c *Config) readTimeout() time.Duration {
	if c.ReadTimeout > 0 {
		return c.ReadTimeout
	}
	return 30 * time.Minute
}

// credentialName says which credential the config selects, or why none or
// several are.
func (c *Config) credentialName() (string, error) {
	var picked []string
	if c.ClientSecret != "" {
		picked = append(picked, "client secret")
	}
	if len(c.Certificates) > 0 || c.PrivateKey != nil {
		picked = append(picked, "client certificate")
	}
	if c.ManagedIdentity {
		picked = append(picked, "managed identity")
	}
	if c.WorkloadIdentity {
		picked = append(picked, "workload identity")
	}
	switch len(picked) {
	case 0:
		return "", errors.New("no credential: set a client secret, a client certificate, managed identity or workload identity")
	case 1:
		return picked[0], nil
	}
	return "", fmt.Errorf("several credentials set (%s): choose one", strings.Join(picked, ", "))
}

// validate reports every problem at once.
func (c *Config) validate() error {
	var errs []error
	if c.TenantID == "" {
		errs = append(errs, errors.New("tenant id is empty"))
	}
	name, err := c.credentialName()
	if err != nil {
		errs = append(errs, err)
	}
	if name == "client certificate" && (len(c.Certificates) == 0 || c.PrivateKey == nil) {
		errs = append(errs, errors.New("a client certificate needs both the certificates and the private key"))
	}
	if c.ClientID == "" && name != "managed identity" && name != "workload identity" {
		errs = append(errs, errors.New("client id is empty"))
	}
	if c.ServicePrincipalID == "" && c.AppID == "" {
		errs = append(errs, errors.New("neither the service principal (object) id nor the app id of the enterprise application is set"))
	}
	for _, u := range []struct{ name, v string }{{"authority host", c.Cloud.AuthorityHost}, {"Graph base URL", c.Cloud.GraphBaseURL}} {
		p, err := url.Parse(u.v)
		if err != nil || p.Scheme != "https" || p.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q must be an https URL", u.name, u.v))
		}
	}
	for _, a := range c.Attributes {
		if a == "" || strings.ContainsAny(a, ",&?#/ ") {
			errs = append(errs, fmt.Errorf("attribute %q is not a Graph property name", a))
		}
	}
	if c.MaxRetries > 10 {
		errs = append(errs, fmt.Errorf("max retries %d is above kiota's limit of 10", c.MaxRetries))
	}
	return errors.Join(errs...)
}

// timeout is the limit of one logical call, retries included.
func (c *Config) timeout() time.Duration {
	if c.HTTPClient != nil && c.HTTPClient.Timeout > 0 {
		return c.HTTPClient.Timeout
	}
	return 100 * time.Second
}

func (c *Config) baseTransport() http.RoundTripper {
	switch {
	case c.Transport != nil:
		return c.Transport
	case c.HTTPClient != nil && c.HTTPClient.Transport != nil:
		return c.HTTPClient.Transport
	}
	return http.DefaultTransport.(*http.Transport).Clone()
}
