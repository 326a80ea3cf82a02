package graphsim

// Interactive sign-in: the authorize endpoint with a sign-in page, the
// authorization code grant with PKCE, signed ID tokens and the sign-out
// endpoint, as a web app (the console) meets them in Entra.
//
// What the public sources say, and what is done here (Microsoft identity
// platform "OAuth 2.0 authorization code flow", "ID token claims
// reference", "Access tokens" groups overage; RFC 7636):
//
//   - GET {tenant}/oauth2/v2.0/authorize with client_id, response_type=code,
//     redirect_uri, scope, state, nonce, code_challenge and
//     code_challenge_method (S256 or plain; plain when a challenge comes
//     without a method). An unknown client (AADSTS700016) or a redirect URI
//     the app does not list (AADSTS50011) is an error page, never a
//     redirect: the URI is not trusted. Later errors go back to the
//     redirect URI as error, error_description and state.
//   - The sign-in page is a form of username and password, posted to the
//     same URL. A wrong password is AADSTS50126, a disabled account
//     AADSTS50057, both shown on the page. Success redirects to
//     redirect_uri?code=…&state=…&session_state=….
//   - POST {tenant}/oauth2/v2.0/token with grant_type=authorization_code,
//     code, redirect_uri, code_verifier and the client's credential. Codes
//     live 10 minutes and are redeemed once: an unknown code is
//     AADSTS9002313, a redeemed one AADSTS54005, an expired one AADSTS70008,
//     another client's AADSTS70000, a different redirect_uri AADSTS500112,
//     a verifier that does not match the challenge (or none) AADSTS50148,
//     all 400 invalid_grant. A code is spent by any redemption the client
//     authenticated for, right or wrong, so a stolen code cannot be tried
//     with many verifiers.
//   - The reply carries token_type, scope, expires_in, ext_expires_in,
//     access_token and, for the openid scope, id_token: RS256, kid from the
//     keys document, iss https://{host}/{tid}/v2.0 (the host the client
//     addressed, as for discovery), aud the client id, iat, nbf, exp, nonce,
//     tid, oid, sub (pairwise per app), preferred_username, name, ver 2.0,
//     roles (the values of the app roles assigned to the user, directly or
//     through a group it is a direct member of, on the enterprise app of
//     the client's app id) and, with App.GroupClaims, groups (every group
//     the user is in, nested ones included). Beyond 200 groups the token
//     carries the overage instead: _claim_names {"groups":"src1"} and
//     _claim_sources {"src1":{"endpoint":…/getMemberObjects}}, no groups.
//   - GET {tenant}/oauth2/v2.0/logout redirects to post_logout_redirect_uri
//     when the app lists it, else shows a signed-out page.

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Counter keys of the sign-in routes.
const (
	routeAuthorize     = "GET /authorize"
	routeAuthorizePost = "POST /authorize"
	routeLogout        = "GET /logout"
)

// codeTTL is how long an authorization code may wait to be redeemed.
const codeTTL = 10 * time.Minute

// maxTokenGroups is the most groups a JWT carries; beyond, the overage.
const maxTokenGroups = 200

// authCode is an issued authorization code and what its redemption must match.
type authCode struct {
	clientID, redirectURI, userID string
	nonce, scope                  string
	challenge, method             string
	expires                       time.Time
	redeemed                      bool
}

// SetPassword lets a user sign in on the authorize endpoint's page with
// password; "" takes the ability away.
func (s *Server) SetPassword(userID, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.t.users[userID]
	if u == nil {
		return fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	u.password = password
	return nil
}

var signInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to your account</title>
<style>body{font-family:sans-serif;background:#f2f2f2;margin:0}main{max-width:26rem;margin:3rem auto;background:#fff;padding:2rem;box-shadow:0 2px 6px rgba(0,0,0,.2)}
label{display:block;margin-top:1rem}input{width:100%;padding:.5rem;box-sizing:border-box}button{margin-top:1.5rem;padding:.5rem 2rem;background:#0067b8;color:#fff;border:0}
.error{color:#a80000}.muted{color:#555;font-size:.9rem}</style></head>
<body><main>
<p class="muted">Simulated Microsoft Entra ID · tenant {{.Tenant}}</p>
<h1>Sign in</h1>
<p>to <strong>{{.App}}</strong></p>
{{if .Error}}<p class="error" role="alert" id="signin-error">{{.Error}}</p>{{end}}
<form method="post">
<label for="username">Email or username</label><input id="username" name="username" autocomplete="username" value="{{.Username}}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="signin">Sign in</button>
</form>
</main></body></html>`))

var signedOutPage = template.Must(template.New("signedout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head>
<body><main><h1>You signed out of your account</h1><p>It's a good idea to close all browser windows.</p></main></body></html>`))

// errorPage is the page Entra shows when it cannot send the browser back.
func (s *Server) errorPage(status, aadsts int, desc string) *resp {
	body := fmt.Sprintf(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title></head>
<body><main><h1>Sign in</h1><p role="alert">AADSTS%d: %s</p></main></body></html>`, aadsts, template.HTMLEscapeString(desc))
	h := http.Header{}
	h.Set("Content-Type", "text/html; charset=utf-8")
	return &resp{status: status, header: h, body: []byte(body)}
}

func redirectResp(to string) *resp {
	h := http.Header{}
	h.Set("Location", to)
	h.Set("Cache-Control", "no-store")
	return &resp{status: http.StatusFound, header: h}
}

// addQuery returns base with params added to its query.
func addQuery(base string, params url.Values) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	q := u.Query()
	for k, vs := range params {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// handleAuthorize is the authorize endpoint: the sign-in page on GET, the
// credentials on POST.
func (s *Server) handleAuthorize(c *call, tenant string) *resp {
	r := c.r
	if !strings.EqualFold(tenant, s.t.id) {
		return s.errorPage(http.StatusBadRequest, 90002, fmt.Sprintf("Tenant '%s' not found.", tenant))
	}
	q := r.URL.Query()
	clientID := q.Get("client_id")
	s.mu.RLock()
	a := s.t.apps[clientID]
	var appName string
	var redirects []string
	if a != nil {
		appName, redirects = a.DisplayName, slices.Clone(a.RedirectURIs)
	}
	s.mu.RUnlock()
	if a == nil {
		return s.errorPage(http.StatusBadRequest, 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", clientID, s.t.id))
	}
	redirect := q.Get("redirect_uri")
	if !slices.Contains(redirects, redirect) {
		return s.errorPage(http.StatusBadRequest, 50011, fmt.Sprintf(
			"The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'.", redirect, clientID))
	}
	back := func(code string, aadsts int, desc string) *resp {
		v := url.Values{"error": {code}, "error_description": {fmt.Sprintf("AADSTS%d: %s", aadsts, desc)}}
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		return redirectResp(addQuery(redirect, v))
	}
	if rt := q.Get("response_type"); rt != "code" {
		return back("unsupported_response_type", 700054, fmt.Sprintf("response_type '%s' is not enabled for the application.", rt))
	}
	if m := q.Get("response_mode"); m != "" && m != "query" {
		return back("invalid_request", 900144, fmt.Sprintf("The simulator supports response_mode=query only, not '%s'.", m))
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return back("invalid_request", 900144, "The request body must contain the following parameter: 'code_challenge'.")
	case challenge != "" && method == "":
		method = "plain"
	case method != "" && method != "S256" && method != "plain":
		return back("invalid_request", 900144, fmt.Sprintf("The code_challenge_method '%s' is not supported; use S256 or plain.", method))
	}
	if r.Method == http.MethodGet {
		return s.signInForm(appName, "", "")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return s.errorPage(http.StatusBadRequest, 900144, "The sign-in form is malformed.")
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	userID, msg := s.checkPassword(username, r.PostForm.Get("password"))
	if msg != "" {
		return s.signInForm(appName, username, msg)
	}
	code := randomCode()
	s.mu.Lock()
	if s.t.codes == nil {
		s.t.codes = map[string]*authCode{}
	}
	now := s.now()
	for k, ac := range s.t.codes {
		if now.After(ac.expires.Add(time.Hour)) {
			delete(s.t.codes, k)
		}
	}
	s.t.codes[code] = &authCode{clientID: clientID, redirectURI: redirect, userID: userID, nonce: q.Get("nonce"), scope: q.Get("scope"),
		challenge: challenge, method: method, expires: now.Add(codeTTL)}
	s.mu.Unlock()
	v := url.Values{"code": {code}, "session_state": {newRequestID()}}
	if st := q.Get("state"); st != "" {
		v.Set("state", st)
	}
	return redirectResp(addQuery(redirect, v))
}

func (s *Server) signInForm(app, username, msg string) *resp {
	var b strings.Builder
	_ = signInPage.Execute(&b, map[string]string{"Tenant": s.t.id, "App": app, "Username": username, "Error": msg})
	h := http.Header{}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	return &resp{status: http.StatusOK, header: h, body: []byte(b.String())}
}

// checkPassword returns the user that username and password sign in, or
// what the page says instead.
func (s *Server) checkPassword(username, password string) (string, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	const wrong = "AADSTS50126: Error validating credentials due to invalid username or password."
	id, ok := s.t.upns[strings.ToLower(username)]
	u := s.t.users[id]
	if !ok || u == nil || u.softDeleted || u.password == "" ||
		subtle.ConstantTimeCompare([]byte(u.password), []byte(password)) != 1 {
		return "", wrong
	}
	if enabled, _ := u.props["accountEnabled"].(bool); !enabled {
		return "", "AADSTS50057: The user account is disabled."
	}
	return id, ""
}

func randomCode() string {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	return "1.A" + base64.RawURLEncoding.EncodeToString(b)
}

// handleCodeGrant redeems an authorization code (the token endpoint has
// parsed the form and checked the tenant).
func (s *Server) handleCodeGrant(c *call, tenant string) *resp {
	r := c.r
	f := r.PostForm
	app, _, _, bad := s.authenticateClient(r, tenant)
	if bad != nil {
		return bad
	}
	code := f.Get("code")
	if code == "" {
		return s.entraError(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'code'.")
	}
	grantErr := func(aadsts int, desc string) *resp {
		return s.entraError(http.StatusBadRequest, "invalid_grant", aadsts, desc)
	}
	s.mu.Lock()
	ac := s.t.codes[code]
	var spent authCode
	if ac != nil {
		spent = *ac
		if ac.clientID == app.ClientID {
			ac.redeemed = true
		}
	}
	s.mu.Unlock()
	switch {
	case ac == nil:
		return grantErr(9002313, "Invalid request. Request is malformed or invalid.")
	case spent.clientID != app.ClientID:
		return grantErr(70000, "The provided value for the 'code' parameter is not valid. The code was issued to another application.")
	case spent.redeemed:
		return grantErr(54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	case s.now().After(spent.expires):
		return grantErr(70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
	case f.Get("redirect_uri") != spent.redirectURI:
		return grantErr(500112, fmt.Sprintf("The reply address '%s' does not match the reply address '%s' provided when requesting Authorization code.", f.Get("redirect_uri"), spent.redirectURI))
	}
	if spent.challenge != "" {
		verifier := f.Get("code_verifier")
		if verifier == "" {
			return grantErr(50148, "The code_verifier is missing: the authorization request supplied a code_challenge for PKCE.")
		}
		got := verifier
		if spent.method == "S256" {
			sum := sha256.Sum256([]byte(verifier))
			got = base64.RawURLEncoding.EncodeToString(sum[:])
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(spent.challenge)) != 1 {
			return grantErr(50148, "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.")
		}
	}
	idToken, scope, msg := s.idToken(r, &app, &spent)
	if msg != "" {
		return grantErr(50057, msg)
	}
	access, err := s.issue(app.ClientID, "", graphAppID, "1", nil)
	if err != nil {
		return s.entraError(http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again.")
	}
	ttl := int(s.opts.TokenTTL.Seconds())
	out := map[string]any{"token_type": "Bearer", "scope": scope, "expires_in": ttl, "ext_expires_in": ttl, "access_token": access}
	if idToken != "" {
		out["id_token"] = idToken
	}
	return jsonResp(http.StatusOK, out)
}

// idToken signs the ID token of a redeemed code ("" without the openid
// scope), and says the scope granted; or why the user may not have one.
func (s *Server) idToken(r *http.Request, a *App, ac *authCode) (tok, scope, msg string) {
	scopes := strings.Fields(ac.scope)
	scope = "User.Read"
	for _, sc := range scopes {
		if sc == "openid" || sc == "profile" || sc == "email" {
			scope += " " + sc
		}
	}
	if !slices.Contains(scopes, "openid") {
		return "", scope, ""
	}
	now := s.now()
	s.mu.RLock()
	u := s.t.visibleUser(ac.userID)
	if u == nil {
		s.mu.RUnlock()
		return "", "", "The user account does not exist in the directory."
	}
	if enabled, _ := u.props["accountEnabled"].(bool); !enabled {
		s.mu.RUnlock()
		return "", "", "The user account is disabled."
	}
	sum := sha256.Sum256([]byte(a.ClientID + "|" + u.id))
	claims := jwt.MapClaims{
		"aud":                a.ClientID,
		"iss":                originOf(r) + "/" + s.t.id + "/v2.0",
		"iat":                now.Unix(),
		"nbf":                now.Unix(),
		"exp":                now.Add(time.Hour).Unix(),
		"name":               u.display(),
		"oid":                u.id,
		"preferred_username": u.upn(),
		"sub":                base64.RawURLEncoding.EncodeToString(sum[:]),
		"tid":                s.t.id,
		"uti":                newRequestID(),
		"ver":                "2.0",
	}
	if ac.nonce != "" {
		claims["nonce"] = ac.nonce
	}
	if roles := s.t.appRolesOf(a.ClientID, u.id); len(roles) > 0 {
		claims["roles"] = roles
	}
	if a.GroupClaims {
		groups := s.t.memberOf(u.id)
		if len(groups) > maxTokenGroups {
			claims["_claim_names"] = map[string]string{"groups": "src1"}
			claims["_claim_sources"] = map[string]any{"src1": map[string]string{
				"endpoint": "https://graph.windows.net/" + s.t.id + "/users/" + u.id + "/getMemberObjects"}}
		} else {
			claims["groups"] = groups
		}
	}
	s.mu.RUnlock()
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = s.keyID
	signed, err := t.SignedString(s.signKey)
	if err != nil {
		return "", "", "The token could not be signed."
	}
	return signed, scope, ""
}

// memberOf returns the ids of every group id is in, through nested
// groups too, sorted. Callers hold s.mu.
func (t *tenant) memberOf(id string) []string {
	in := map[string]bool{}
	frontier := []string{id}
	for len(frontier) > 0 {
		var next []string
		for gid, g := range t.groups {
			if in[gid] {
				continue
			}
			for _, m := range frontier {
				if g.members[m] {
					in[gid] = true
					next = append(next, gid)
					break
				}
			}
		}
		frontier = next
	}
	out := make([]string, 0, len(in))
	for gid := range in {
		out = append(out, gid)
	}
	slices.Sort(out)
	return out
}

// appRolesOf returns the values of the app roles assigned to the user on
// the enterprise app of clientID, directly or through a group the user is
// a direct member of, sorted. Callers hold s.mu.
func (t *tenant) appRolesOf(clientID, userID string) []string {
	var out []string
	for _, a := range t.assignments {
		sp := t.sps[a.resourceID]
		if sp == nil || !strings.EqualFold(sp.AppID, clientID) {
			continue
		}
		if a.principalID != userID && (t.groups[a.principalID] == nil || !t.groups[a.principalID].members[userID]) {
			continue
		}
		for _, r := range sp.AppRoles {
			if r.ID == a.appRoleID && !r.Disabled && !slices.Contains(out, r.Value) {
				out = append(out, r.Value)
			}
		}
	}
	slices.Sort(out)
	return out
}

// handleLogout is the end-session endpoint.
func (s *Server) handleLogout(c *call, tenant string) *resp {
	if !strings.EqualFold(tenant, s.t.id) {
		return s.errorPage(http.StatusBadRequest, 90002, fmt.Sprintf("Tenant '%s' not found.", tenant))
	}
	to := c.r.URL.Query().Get("post_logout_redirect_uri")
	if to != "" {
		s.mu.RLock()
		listed := false
		for _, a := range s.t.apps {
			listed = listed || slices.Contains(a.RedirectURIs, to)
		}
		s.mu.RUnlock()
		if listed {
			return redirectResp(to)
		}
	}
	var b strings.Builder
	_ = signedOutPage.Execute(&b, nil)
	h := http.Header{}
	h.Set("Content-Type", "text/html; charset=utf-8")
	return &resp{status: http.StatusOK, header: h, body: []byte(b.String())}
}

// AddRedirectURI registers another web redirect URI on a client app, as
// the portal's Authentication blade does.
func (s *Server) AddRedirectURI(clientID, uri string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.t.apps[clientID]
	if a == nil {
		return fmt.Errorf("app %s: %w", clientID, ErrNotFound)
	}
	if !slices.Contains(a.RedirectURIs, uri) {
		a.RedirectURIs = append(a.RedirectURIs, uri)
	}
	return nil
}

// SetGroupClaims turns the groups claim of a client app's ID tokens on or
// off (App.GroupClaims).
func (s *Server) SetGroupClaims(clientID string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.t.apps[clientID]
	if a == nil {
		return fmt.Errorf("app %s: %w", clientID, ErrNotFound)
	}
	a.GroupClaims = on
	return nil
}
