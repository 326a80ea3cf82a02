package graphsim_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

const (
	redirectURI = "https://console.contoso.com/auth/callback"
	verifier    = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r5wW1gFWFOEjXkdBjftJeZ4CVP"
)

func challengeOf(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// signInFixture is a fixture whose client app has a redirect URI and group
// claims, and a user who may sign in.
type signInFixture struct {
	*fixture
	user, upn string
	noFollow  *http.Client
}

func newSignInFixture(t *testing.T, opts graphsim.Options) *signInFixture {
	t.Helper()
	f := newFixture(t, opts)
	// A second client app: the console's registration, with its redirect URI.
	client, err := f.sim.AddApp(graphsim.App{DisplayName: "g2msync console", Secrets: []string{"console-secret"},
		RedirectURIs: []string{redirectURI}, GroupClaims: true})
	must(t, err)
	f.client, f.secret = client, "console-secret"
	s := &signInFixture{fixture: f, upn: "ada@contoso.com"}
	s.user, err = f.sim.AddUser(graphsim.User{UserPrincipalName: s.upn, DisplayName: "Ada Lovelace"})
	must(t, err)
	must(t, f.sim.SetPassword(s.user, "correct horse"))
	s.noFollow = &http.Client{Transport: f.http.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return s
}

func (s *signInFixture) authorizeURL(params url.Values) string {
	q := url.Values{"client_id": {s.client}, "response_type": {"code"}, "redirect_uri": {redirectURI}, "scope": {"openid profile"},
		"state": {"st8"}, "nonce": {"n0nce"}, "code_challenge": {challengeOf(verifier)}, "code_challenge_method": {"S256"}}
	for k, v := range params {
		q[k] = v
	}
	return s.sim.URL() + "/" + s.sim.TenantID() + "/oauth2/v2.0/authorize?" + q.Encode()
}

// signIn posts the sign-in page's form and returns the status, the
// redirect's query and the page's body.
func (s *signInFixture) signIn(authURL, username, password string) (int, url.Values, string) {
	s.t.Helper()
	res, err := s.noFollow.PostForm(authURL, url.Values{"username": {username}, "password": {password}})
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var q url.Values
	if loc := res.Header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		if err != nil {
			s.t.Fatal(err)
		}
		if got := u.Scheme + "://" + u.Host + u.Path; got != redirectURI {
			s.t.Errorf("redirected to %s, want %s", got, redirectURI)
		}
		q = u.Query()
	}
	return res.StatusCode, q, string(body)
}

// code signs the user in and returns the code.
func (s *signInFixture) code(params url.Values) string {
	s.t.Helper()
	st, q, body := s.signIn(s.authorizeURL(params), s.upn, "correct horse")
	if st != http.StatusFound || q.Get("code") == "" || q.Get("state") != "st8" {
		s.t.Fatalf("sign-in: %d %v %s", st, q, body)
	}
	return q.Get("code")
}

func (s *signInFixture) redeem(form url.Values) (int, map[string]any) {
	s.t.Helper()
	base := url.Values{"grant_type": {"authorization_code"}, "client_id": {s.client}, "client_secret": {s.secret},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}}
	for k, v := range form {
		base[k] = v
	}
	for k, v := range base {
		if len(v) == 1 && v[0] == "" {
			delete(base, k)
		}
	}
	res, err := s.http.PostForm(s.sim.URL()+"/"+s.sim.TenantID()+"/oauth2/v2.0/token", base)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		s.t.Fatal(err)
	}
	return res.StatusCode, body
}

// The whole flow, checked by go-oidc as a relying party would: the ID
// token's signature from the keys document, issuer, audience, expiry; and
// the claims Entra documents.
func TestSignInIssuesAVerifiableIDToken(t *testing.T) {
	s := newSignInFixture(t, graphsim.Options{})
	ops, err := s.sim.AddGroup(graphsim.Group{DisplayName: "g2msync operators", SecurityEnabled: true})
	must(t, err)
	outer, err := s.sim.AddGroup(graphsim.Group{DisplayName: "IT", SecurityEnabled: true})
	must(t, err)
	must(t, s.sim.AddMember(ops, s.user))
	must(t, s.sim.AddMember(outer, ops))
	sp, err := s.sim.AddServicePrincipal(graphsim.ServicePrincipal{AppID: s.client, DisplayName: "g2msync console",
		AppRoles: []graphsim.AppRole{{Value: "Console.Operator", DisplayName: "Operator"}}})
	must(t, err)
	roles, err := s.sim.AppRoles(sp)
	must(t, err)
	_, err = s.sim.Assign(sp, s.user, roles[0].ID)
	must(t, err)

	page, err := s.http.Get(s.authorizeURL(nil))
	must(t, err)
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != http.StatusOK || !strings.Contains(string(html), `name="password"`) || strings.Contains(string(html), "console-secret") {
		t.Fatalf("sign-in page: %d\n%s", page.StatusCode, html)
	}
	st, body := s.redeem(url.Values{"code": {s.code(nil)}})
	if st != http.StatusOK {
		t.Fatalf("redeem: %d %v", st, body)
	}
	ctx := oidc.ClientContext(context.Background(), s.http)
	p, err := oidc.NewProvider(ctx, s.sim.URL()+"/"+s.sim.TenantID()+"/v2.0")
	if err != nil {
		t.Fatalf("discovery as go-oidc reads it: %v", err)
	}
	var meta struct {
		Authorize  string   `json:"authorization_endpoint"`
		EndSession string   `json:"end_session_endpoint"`
		Algs       []string `json:"id_token_signing_alg_values_supported"`
	}
	must(t, p.Claims(&meta))
	if !strings.HasSuffix(meta.Authorize, "/oauth2/v2.0/authorize") || !strings.HasSuffix(meta.EndSession, "/oauth2/v2.0/logout") || meta.Algs[0] != "RS256" {
		t.Errorf("discovery: %+v", meta)
	}
	tok, err := p.Verifier(&oidc.Config{ClientID: s.client}).Verify(ctx, body["id_token"].(string))
	if err != nil {
		t.Fatalf("verify the ID token: %v", err)
	}
	var c struct {
		Nonce, TID, OID, Name, Ver string
		UPN                        string   `json:"preferred_username"`
		Groups                     []string `json:"groups"`
		Roles                      []string `json:"roles"`
	}
	must(t, tok.Claims(&c))
	if c.Nonce != "n0nce" || c.TID != s.sim.TenantID() || c.OID != s.user || c.UPN != s.upn || c.Name != "Ada Lovelace" || c.Ver != "2.0" {
		t.Errorf("claims: %+v", c)
	}
	if len(c.Groups) != 2 || len(c.Roles) != 1 || c.Roles[0] != "Console.Operator" {
		t.Errorf("groups %v (want the direct and the nesting group), roles %v", c.Groups, c.Roles)
	}
	if body["scope"] == "" || body["access_token"] == "" || body["token_type"] != "Bearer" {
		t.Errorf("token reply: %v", body)
	}
}

// Every refusal of the code grant, with Entra's codes.
func TestCodeGrantRefusals(t *testing.T) {
	clk := newClock()
	s := newSignInFixture(t, graphsim.Options{Now: clk.Now})
	cases := []struct {
		name   string
		form   func() url.Values
		aadsts float64
		errc   string
	}{
		{"wrong verifier", func() url.Values { return url.Values{"code": {s.code(nil)}, "code_verifier": {verifier + "x"}} }, 50148, "invalid_grant"},
		{"no verifier", func() url.Values { return url.Values{"code": {s.code(nil)}, "code_verifier": {""}} }, 50148, "invalid_grant"},
		{"wrong redirect_uri", func() url.Values {
			return url.Values{"code": {s.code(nil)}, "redirect_uri": {"https://evil.example/cb"}}
		}, 500112, "invalid_grant"},
		{"reused code", func() url.Values {
			code := s.code(nil)
			if st, body := s.redeem(url.Values{"code": {code}}); st != http.StatusOK {
				t.Fatalf("first redemption: %d %v", st, body)
			}
			return url.Values{"code": {code}}
		}, 54005, "invalid_grant"},
		{"code spent by a wrong verifier", func() url.Values {
			code := s.code(nil)
			s.redeem(url.Values{"code": {code}, "code_verifier": {"guess-guess-guess-guess-guess-guess-guess-guess"}})
			return url.Values{"code": {code}}
		}, 54005, "invalid_grant"},
		{"expired code", func() url.Values {
			code := s.code(nil)
			clk.Advance(11 * time.Minute)
			return url.Values{"code": {code}}
		}, 70008, "invalid_grant"},
		{"unknown code", func() url.Values { return url.Values{"code": {"1.Anotacode"}} }, 9002313, "invalid_grant"},
		{"wrong client secret", func() url.Values { return url.Values{"code": {s.code(nil)}, "client_secret": {"nope"}} }, 7000215, "invalid_client"},
		{"no client credential", func() url.Values { return url.Values{"code": {s.code(nil)}, "client_secret": {""}} }, 7000218, "invalid_client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body := s.redeem(tc.form())
			codes, _ := body["error_codes"].([]any)
			if st/100 != 4 || body["error"] != tc.errc || len(codes) != 1 || codes[0] != tc.aadsts || body["id_token"] != nil {
				t.Errorf("got %d %v, want %s AADSTS%v", st, body, tc.errc, tc.aadsts)
			}
			if d, _ := body["error_description"].(string); !strings.HasPrefix(d, fmt.Sprintf("AADSTS%d:", int(tc.aadsts))) {
				t.Errorf("error_description %q", d)
			}
		})
	}
	// A plain challenge, as Entra allows, is the verifier itself.
	code := s.code(url.Values{"code_challenge": {verifier}, "code_challenge_method": {"plain"}})
	if st, body := s.redeem(url.Values{"code": {code}}); st != http.StatusOK {
		t.Errorf("plain challenge: %d %v", st, body)
	}
}

// The authorize endpoint: an unknown client or an unlisted redirect URI is
// a page, not a redirect; a wrong password or a disabled account stays on
// the sign-in page; other errors go back to the app.
func TestAuthorizeRefusals(t *testing.T) {
	s := newSignInFixture(t, graphsim.Options{})
	for _, tc := range []struct {
		name   string
		params url.Values
		want   string
	}{
		{"unknown client", url.Values{"client_id": {"11111111-1111-1111-1111-111111111111"}}, "AADSTS700016"},
		{"unlisted redirect", url.Values{"redirect_uri": {"https://evil.example/cb"}}, "AADSTS50011"},
	} {
		res, err := s.noFollow.Get(s.authorizeURL(tc.params))
		must(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %q %s", tc.name, res.StatusCode, res.Header.Get("Location"), body)
		}
	}
	if st, q, body := s.signIn(s.authorizeURL(nil), s.upn, "wrong"); st != http.StatusOK || q != nil || !strings.Contains(body, "AADSTS50126") {
		t.Errorf("wrong password: %d %v %s", st, q, body)
	}
	if st, _, body := s.signIn(s.authorizeURL(nil), "nobody@contoso.com", "correct horse"); st != http.StatusOK || !strings.Contains(body, "AADSTS50126") {
		t.Errorf("unknown user: %d %s", st, body)
	}
	must(t, s.sim.DisableUser(s.user))
	if st, _, body := s.signIn(s.authorizeURL(nil), s.upn, "correct horse"); st != http.StatusOK || !strings.Contains(body, "AADSTS50057") {
		t.Errorf("disabled user: %d %s", st, body)
	}
	must(t, s.sim.EnableUser(s.user))
	st, q, _ := s.signIn(s.authorizeURL(url.Values{"response_type": {"token"}}), s.upn, "correct horse")
	if st != http.StatusFound || q.Get("error") != "unsupported_response_type" || q.Get("state") != "st8" {
		t.Errorf("response_type token: %d %v", st, q)
	}
}

// Beyond 200 groups the ID token carries the overage, not the groups.
func TestIDTokenGroupsOverage(t *testing.T) {
	s := newSignInFixture(t, graphsim.Options{})
	for i := range 201 {
		g, err := s.sim.AddGroup(graphsim.Group{DisplayName: fmt.Sprint("g", i), SecurityEnabled: true})
		must(t, err)
		must(t, s.sim.AddMember(g, s.user))
	}
	st, body := s.redeem(url.Values{"code": {s.code(nil)}})
	if st != http.StatusOK {
		t.Fatalf("redeem: %d %v", st, body)
	}
	parts := strings.Split(body["id_token"].(string), ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	must(t, err)
	var c map[string]any
	must(t, json.Unmarshal(raw, &c))
	names, _ := c["_claim_names"].(map[string]any)
	sources, _ := c["_claim_sources"].(map[string]any)
	if c["groups"] != nil || names["groups"] != "src1" || sources["src1"] == nil {
		t.Errorf("overage claims: groups %v, _claim_names %v, _claim_sources %v", c["groups"], names, sources)
	}
}
