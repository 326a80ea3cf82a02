package graphsim_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

func TestDiscoveryDocument(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	r := f.get(f.sim.URL() + "/" + f.sim.TenantID() + "/v2.0/.well-known/openid-configuration")
	if r.status != http.StatusOK {
		t.Fatalf("discovery: %d %v", r.status, r.body)
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "issuer", "jwks_uri"} {
		v, _ := r.body[k].(string)
		if !strings.HasPrefix(v, f.sim.URL()+"/") {
			t.Errorf("%s = %q, want a URL on %s", k, v, f.sim.URL())
		}
	}
	if got, want := r.body["issuer"], f.sim.URL()+"/"+f.sim.TenantID()+"/v2.0"; got != want {
		t.Errorf("issuer = %v, want %s", got, want)
	}
	keys := f.get(r.body["jwks_uri"].(string))
	if ks, _ := keys.body["keys"].([]any); keys.status != http.StatusOK || len(ks) != 1 {
		t.Errorf("jwks: %d %v", keys.status, keys.body)
	}
	bad := f.get(f.sim.URL() + "/nope/v2.0/.well-known/openid-configuration")
	if bad.status != http.StatusBadRequest || bad.body["error"] != "invalid_tenant" || !strings.HasPrefix(bad.body["error_description"].(string), "AADSTS90002") {
		t.Errorf("unknown tenant: %d %v", bad.status, bad.body)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	st, body := f.tokenFor(f.client, f.secret)
	if st != http.StatusOK || body["token_type"] != "Bearer" || body["expires_in"].(float64) != 3600 {
		t.Fatalf("good secret: %d %v", st, body)
	}
	cases := []struct {
		name, client, secret string
		status               int
		err                  string
		code                 float64
	}{
		{"bad secret", f.client, "wrong", 401, "invalid_client", 7000215},
		{"unknown client", "11111111-1111-1111-1111-111111111111", f.secret, 400, "unauthorized_client", 700016},
		{"no secret", f.client, "", 401, "invalid_client", 7000218},
	}
	for _, c := range cases {
		st, body := f.tokenFor(c.client, c.secret)
		codes, _ := body["error_codes"].([]any)
		if st != c.status || body["error"] != c.err || len(codes) != 1 || codes[0].(float64) != c.code {
			t.Errorf("%s: got %d %v, want %d %s [%v]", c.name, st, body, c.status, c.err, c.code)
		}
		for _, k := range []string{"error_description", "timestamp", "trace_id", "correlation_id"} {
			if body[k] == nil {
				t.Errorf("%s: reply lacks %s", c.name, k)
			}
		}
	}
	res, err := f.http.PostForm(f.sim.URL()+"/wrong-tenant/oauth2/v2.0/token", map[string][]string{"grant_type": {"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown tenant: %d", res.StatusCode)
	}
	if got := f.sim.Calls("POST /token"); got != 5 {
		t.Errorf("token calls = %d, want 5", got)
	}
}

func TestGraphRequiresValidToken(t *testing.T) {
	clk := newClock()
	f := newFixture(t, graphsim.Options{Now: clk.Now})
	path := "/servicePrincipals/" + f.spID
	if r := f.get(path); r.status != 401 || r.errorCode() != "InvalidAuthenticationToken" {
		t.Fatalf("no token: %d %v", r.status, r.body)
	}
	f.token = "not-a-jwt"
	if r := f.get(path); r.status != 401 || r.errorCode() != "InvalidAuthenticationToken" {
		t.Fatalf("garbage token: %d %v", r.status, r.body)
	}
	f.login()
	if r := f.get(path); r.status != 200 {
		t.Fatalf("good token: %d %v", r.status, r.body)
	}
	clk.Advance(61 * time.Minute)
	r := f.get(path)
	if msg, _ := r.body["error"].(map[string]any)["message"].(string); r.status != 401 || !strings.Contains(msg, "expired") {
		t.Fatalf("expired token: %d %v", r.status, r.body)
	}
	f.login()
	must(t, f.sim.RevokeTokens(f.client))
	if r := f.get(path); r.status != 401 {
		t.Fatalf("revoked token: %d %v", r.status, r.body)
	}
	f.login()
	if r := f.get(path); r.status != 200 {
		t.Fatalf("token issued after revocation: %d %v", r.status, r.body)
	}
}

// TestAzidentityCredentials proves MSAL's discovery, its client assertion
// (PS256, x5t#S256) and the token reply work against the simulator, and that
// Graph accepts the tokens.
func TestAzidentityCredentials(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	ctx := context.Background()
	cert, err := graphsim.NewClientCertificate("g2msync")
	if err != nil {
		t.Fatal(err)
	}
	other, err := graphsim.NewClientCertificate("someone else")
	if err != nil {
		t.Fatal(err)
	}
	certApp, err := f.sim.AddApp(graphsim.App{Certificates: []*x509.Certificate{cert.Certificate}, Permissions: allPerms})
	must(t, err)

	secretCred, err := azidentity.NewClientSecretCredential(f.sim.TenantID(), f.client, f.secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(f), DisableInstanceDiscovery: true})
	must(t, err)
	tok, err := getToken(ctx, secretCred, f)
	if err != nil {
		t.Fatalf("client secret credential: %v", err)
	}
	f.token = tok.Token
	if r := f.get("/servicePrincipals/" + f.spID); r.status != http.StatusOK {
		t.Fatalf("graph with azidentity token: %d %v", r.status, r.body)
	}

	certs, key, err := azidentity.ParseCertificates(cert.PEM(), nil)
	must(t, err)
	certCred, err := azidentity.NewClientCertificateCredential(f.sim.TenantID(), certApp, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: clientOptions(f), DisableInstanceDiscovery: true})
	must(t, err)
	if _, err := getToken(ctx, certCred, f); err != nil {
		t.Fatalf("client certificate credential: %v", err)
	}

	// A certificate the app does not know, and a wrong secret, are refused
	// with Entra's codes, which azidentity surfaces as AuthenticationFailedError.
	wrongCerts, wrongKey, err := azidentity.ParseCertificates(other.PEM(), nil)
	must(t, err)
	wrongCred, err := azidentity.NewClientCertificateCredential(f.sim.TenantID(), certApp, wrongCerts, wrongKey,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: clientOptions(f), DisableInstanceDiscovery: true})
	must(t, err)
	badSecret, err := azidentity.NewClientSecretCredential(f.sim.TenantID(), f.client, "nope",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(f), DisableInstanceDiscovery: true})
	must(t, err)
	for name, c := range map[string]struct {
		cred azcore.TokenCredential
		code string
	}{"unregistered certificate": {wrongCred, "AADSTS700027"}, "wrong secret": {badSecret, "AADSTS7000215"}} {
		_, err := getToken(ctx, c.cred, f)
		var afe *azidentity.AuthenticationFailedError
		if !errors.As(err, &afe) || !strings.Contains(err.Error(), c.code) {
			t.Errorf("%s: got %v, want AuthenticationFailedError with %s", name, err, c.code)
		}
	}

	// A federated token stands in for workload identity.
	fedApp, err := f.sim.AddApp(graphsim.App{FederatedTokens: []string{"k8s-sa-token"}, Permissions: allPerms})
	must(t, err)
	fedCred, err := azidentity.NewClientAssertionCredential(f.sim.TenantID(), fedApp,
		func(context.Context) (string, error) { return "k8s-sa-token", nil },
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: clientOptions(f), DisableInstanceDiscovery: true})
	must(t, err)
	if _, err := getToken(ctx, fedCred, f); err != nil {
		t.Fatalf("client assertion credential: %v", err)
	}
}

// clientOptions points azidentity at the simulator and trusts its CA
// through the transport, as production wiring does for custom clouds.
func clientOptions(f *fixture) azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: f.sim.AuthorityHost()},
		Transport: f.http,
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

func getToken(ctx context.Context, cred azcore.TokenCredential, f *fixture) (azcore.AccessToken, error) {
	return cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{f.sim.URL() + "/.default"}})
}
