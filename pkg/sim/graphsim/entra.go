package graphsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" // #nosec G505: x5t is defined as a SHA-1 thumbprint
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Counter keys of the Entra routes.
const (
	routeDiscovery = "GET /openid-configuration"
	routeToken     = "POST /token"
	routeKeys      = "GET /keys"
)

// graphAppID is Microsoft Graph's well-known application id, a valid
// audience and resource besides its URL.
const graphAppID = "00000003-0000-0000-c000-000000000000"

// accessClaims is the part of an issued access token Graph checks.
type accessClaims struct {
	jwt.RegisteredClaims
	AppID    string   `json:"appid"`
	AppIDACR string   `json:"appidacr"`
	IDType   string   `json:"idtyp"`
	OID      string   `json:"oid"`
	Roles    []string `json:"roles,omitempty"`
	TenantID string   `json:"tid"`
	UTI      string   `json:"uti"`
	Version  string   `json:"ver"`
}

func (c *accessClaims) hasAny(perms []string) bool {
	for _, p := range perms {
		if slices.Contains(c.Roles, p) {
			return true
		}
	}
	return false
}

// entraError builds Entra's OAuth error body.
func (s *Server) entraError(status int, code string, aadsts int, desc string) *resp {
	now := s.now().UTC()
	trace, corr := newRequestID(), newRequestID()
	return jsonResp(status, map[string]any{
		"error": code,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
			aadsts, desc, trace, corr, now.Format("2006-01-02 15:04:05Z")),
		"error_codes":    []int{aadsts},
		"timestamp":      now.Format("2006-01-02 15:04:05Z"),
		"trace_id":       trace,
		"correlation_id": corr,
		"error_uri":      fmt.Sprintf("%s/error?code=%d", s.url, aadsts),
	})
}

func (s *Server) tenantNotFound(tenant string, discovery bool) *resp {
	code := "invalid_request"
	if discovery {
		code = "invalid_tenant"
	}
	return s.entraError(http.StatusBadRequest, code, 90002, fmt.Sprintf(
		"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant))
}

func (s *Server) handleDiscovery(c *call, tenant string) *resp {
	if !strings.EqualFold(tenant, s.t.id) {
		return s.tenantNotFound(tenant, true)
	}
	o := originOf(c.r)
	base := o + "/" + s.t.id
	return jsonResp(http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     o + "/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "tid", "ver"},
		"tenant_region_scope":                   nil,
		"cloud_instance_name":                   hostOf(c.r),
		"msgraph_host":                          hostOf(c.r),
	})
}

func (s *Server) handleKeys(c *call, tenant string) *resp {
	if !strings.EqualFold(tenant, s.t.id) {
		return s.tenantNotFound(tenant, true)
	}
	pub := s.signKey.PublicKey
	return jsonResp(http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty": "RSA",
		"use": "sig",
		"kid": s.keyID,
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// handleToken is the v2.0 token endpoint: the client credentials grant
// here, the authorization code grant in signin.go.
func (s *Server) handleToken(c *call, tenant string) *resp {
	r := c.r
	if r.Method != http.MethodPost {
		return s.entraError(http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
	}
	if !strings.EqualFold(tenant, s.t.id) {
		return s.tenantNotFound(tenant, false)
	}
	if err := r.ParseForm(); err != nil {
		return s.entraError(http.StatusBadRequest, "invalid_request", 900144, "The request body must be form-encoded.")
	}
	f := r.PostForm
	switch gt := f.Get("grant_type"); gt {
	case "client_credentials":
	case "authorization_code":
		return s.handleCodeGrant(c, tenant)
	case "":
		return s.entraError(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
	default:
		return s.entraError(http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", gt))
	}
	snapshot, spID, acr, bad := s.authenticateClient(r, tenant)
	if bad != nil {
		return bad
	}
	clientID := snapshot.ClientID
	// MSAL appends the OIDC scopes openid, offline_access and profile to
	// every request (accesstokens.go AppendDefaultScopes); Entra ignores them.
	var scopes []string
	for _, sc := range strings.Fields(f.Get("scope")) {
		switch sc {
		case "openid", "offline_access", "profile", "email":
		default:
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) != 1 || !strings.HasSuffix(scopes[0], "/.default") {
		return s.entraError(http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf(
			"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", f.Get("scope")))
	}
	resource := strings.TrimSuffix(scopes[0], "/.default")
	if !s.knownResource(c.r, resource) {
		return s.entraError(http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf(
			"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", resource, s.t.id))
	}
	tok, err := s.issue(clientID, spID, resource, acr, snapshot.Permissions)
	if err != nil {
		return s.entraError(http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again.")
	}
	ttl := int(s.opts.TokenTTL.Seconds())
	return jsonResp(http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     ttl,
		"ext_expires_in": ttl,
		"access_token":   tok,
	})
}

// authenticateClient finds the client app of a token request and checks
// its credential (a secret, or a signed or federated assertion). acr is
// "1" for a secret, "2" for an assertion, as in Entra's tokens.
func (s *Server) authenticateClient(r *http.Request, tenant string) (snapshot App, spID, acr string, bad *resp) {
	f := r.PostForm
	clientID := f.Get("client_id")
	if clientID == "" {
		return App{}, "", "", s.entraError(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
	}
	s.mu.RLock()
	a := s.t.apps[clientID]
	if a != nil {
		snapshot = a.App
		snapshot.Permissions = slices.Clone(a.Permissions)
		spID = a.spID
	}
	s.mu.RUnlock()
	if a == nil {
		return App{}, "", "", s.entraError(http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf(
			"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
			clientID, s.t.id))
	}
	switch {
	case f.Get("client_secret") != "":
		if !secretMatches(snapshot.Secrets, f.Get("client_secret")) {
			return App{}, "", "", s.entraError(http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf(
				"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
		}
		return snapshot, spID, "1", nil
	case f.Get("client_assertion") != "":
		if t := f.Get("client_assertion_type"); t != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			return App{}, "", "", s.entraError(http.StatusBadRequest, "invalid_request", 50027, fmt.Sprintf("Invalid client_assertion_type '%s'.", t))
		}
		if bad := s.verifyAssertion(&snapshot, f.Get("client_assertion"), originOf(r), tenant); bad != nil {
			return App{}, "", "", bad
		}
		return snapshot, spID, "2", nil
	}
	return App{}, "", "", s.entraError(http.StatusUnauthorized, "invalid_client", 7000218,
		"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
}

// knownResource reports whether Entra would know the resource in a scope:
// Microsoft Graph by URL or app id, or this server's own origin, which
// stands for Graph when a client is pointed at the simulator.
func (s *Server) knownResource(r *http.Request, resource string) bool {
	resource = strings.TrimSuffix(resource, "/")
	for _, ok := range []string{"https://graph.microsoft.com", graphAppID, s.url, originOf(r)} {
		if strings.EqualFold(resource, ok) {
			return true
		}
	}
	return false
}

func secretMatches(secrets []string, got string) bool {
	for _, s := range secrets {
		if subtle.ConstantTimeCompare([]byte(s), []byte(got)) == 1 {
			return true
		}
	}
	return false
}

// verifyAssertion checks a client assertion: a registered federated token,
// or a JWT signed by one of the app's certificates.
func (s *Server) verifyAssertion(a *App, assertion, origin, tenant string) *resp {
	if slices.Contains(a.FederatedTokens, assertion) {
		return nil
	}
	var cert *x509.Certificate
	tok, err := jwt.Parse(assertion, func(t *jwt.Token) (any, error) {
		cert = findCertificate(a.Certificates, t.Header)
		if cert == nil {
			return nil, errUnknownCert
		}
		return cert.PublicKey, nil
	},
		jwt.WithValidMethods([]string{"RS256", "PS256"}),
		jwt.WithTimeFunc(s.now),
		jwt.WithLeeway(5*time.Minute),
		jwt.WithExpirationRequired(),
	)
	switch {
	case errors.Is(err, errUnknownCert):
		return s.entraError(http.StatusUnauthorized, "invalid_client", 700027, fmt.Sprintf(
			"The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]", a.ClientID))
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet):
		return s.entraError(http.StatusUnauthorized, "invalid_client", 700024, "Client assertion is not within its valid time range.")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return s.entraError(http.StatusUnauthorized, "invalid_client", 700027, "Client assertion contains an invalid signature.")
	case err != nil:
		return s.entraError(http.StatusUnauthorized, "invalid_client", 50027, "Invalid JWT token. "+err.Error())
	}
	claims, _ := tok.Claims.(jwt.MapClaims)
	iss, _ := claims.GetIssuer()
	sub, _ := claims.GetSubject()
	if iss != a.ClientID || sub != a.ClientID {
		return s.entraError(http.StatusUnauthorized, "invalid_client", 50027, "Invalid JWT token. The iss and sub claims must be the client id.")
	}
	aud, _ := claims.GetAudience()
	want := []string{
		origin + "/" + tenant + "/oauth2/v2.0/token",
		origin + "/" + s.t.id + "/oauth2/v2.0/token",
		origin + "/" + tenant + "/oauth2/token",
	}
	for _, got := range aud {
		for _, w := range want {
			if strings.EqualFold(strings.TrimSuffix(got, "/"), w) {
				return nil
			}
		}
	}
	return s.entraError(http.StatusUnauthorized, "invalid_client", 50027, fmt.Sprintf(
		"Invalid JWT token. The audience %v does not match the token endpoint %s.", []string(aud), want[0]))
}

var errUnknownCert = errors.New("certificate not registered")

// findCertificate picks the certificate named by x5t#S256 or x5t, accepting
// either base64 alphabet (MSAL uses standard base64, RFC 7515 base64url).
func findCertificate(certs []*x509.Certificate, header map[string]any) *x509.Certificate {
	if v, ok := header["x5t#S256"].(string); ok {
		for _, c := range certs {
			sum := sha256.Sum256(c.Raw)
			if thumbprintEqual(v, sum[:]) {
				return c
			}
		}
		return nil
	}
	if v, ok := header["x5t"].(string); ok {
		for _, c := range certs {
			sum := sha1.Sum(c.Raw) // #nosec G401: matching a SHA-1 thumbprint, not hashing secrets
			if thumbprintEqual(v, sum[:]) {
				return c
			}
		}
	}
	return nil
}

func thumbprintEqual(enc string, want []byte) bool {
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if got, err := e.DecodeString(enc); err == nil && subtle.ConstantTimeCompare(got, want) == 1 {
			return true
		}
	}
	return false
}

// issue signs an app-only access token shaped like Entra's v1.0 tokens for
// Graph. Graph checks it on every call.
func (s *Server) issue(clientID, spID, resource, acr string, roles []string) (string, error) {
	now := s.now()
	uti := newRequestID()
	slices.Sort(roles)
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Audience:  jwt.ClaimStrings{resource},
			Issuer:    "https://sts.windows.net/" + s.t.id + "/",
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.opts.TokenTTL)),
			Subject:   spID,
		},
		AppID:    clientID,
		AppIDACR: acr,
		IDType:   "app",
		OID:      spID,
		Roles:    roles,
		TenantID: s.t.id,
		UTI:      uti,
		Version:  "1.0",
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = s.keyID
	signed, err := tok.SignedString(s.signKey)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	s.mu.Lock()
	if a := s.t.apps[clientID]; a != nil {
		a.issued = append(a.issued, uti)
	}
	s.mu.Unlock()
	return signed, nil
}

// authenticate checks the bearer token of a Graph call.
func (s *Server) authenticate(r *http.Request) (*accessClaims, *resp) {
	unauthorized := func(msg string) *resp {
		out := graphError(r, http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
		out.header.Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="`+graphAppID+`"`)
		return out
	}
	h := r.Header.Get("Authorization")
	scheme, raw, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return nil, unauthorized("Access token is empty.")
	}
	claims := &accessClaims{}
	_, err := jwt.ParseWithClaims(strings.TrimSpace(raw), claims, func(*jwt.Token) (any, error) {
		return &s.signKey.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, unauthorized("Lifetime validation failed, the token is expired.")
	case err != nil:
		return nil, unauthorized("Access token validation failure. Invalid signature or malformed token.")
	}
	audOK := false
	for _, a := range claims.Audience {
		if s.knownResource(r, a) {
			audOK = true
		}
	}
	if !audOK {
		return nil, unauthorized("Access token validation failure. Invalid audience.")
	}
	if !strings.EqualFold(claims.TenantID, s.t.id) {
		return nil, unauthorized("Access token validation failure. Invalid tenant.")
	}
	s.mu.RLock()
	a := s.t.apps[claims.AppID]
	revoked := a == nil || a.revoked[claims.UTI]
	s.mu.RUnlock()
	if revoked {
		return nil, unauthorized("Access token has been revoked.")
	}
	return claims, nil
}

// ClientCertificate is a self-signed RSA certificate for a client app, the
// kind registered on Entra app registrations.
type ClientCertificate struct {
	Certificate *x509.Certificate
	Key         *rsa.PrivateKey
	CertPEM     []byte
	KeyPEM      []byte // PKCS #8
}

// PEM returns the certificate followed by the private key, the form
// azidentity.ParseCertificates reads.
func (c *ClientCertificate) PEM() []byte {
	return append(append([]byte{}, c.CertPEM...), c.KeyPEM...)
}

// NewClientCertificate creates a self-signed client certificate.
func NewClientCertificate(commonName string) (*ClientCertificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("graphsim: generate client key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("graphsim: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("graphsim: create client certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("graphsim: parse client certificate: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("graphsim: marshal client key: %w", err)
	}
	return &ClientCertificate{
		Certificate: cert,
		Key:         key,
		CertPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}),
	}, nil
}
