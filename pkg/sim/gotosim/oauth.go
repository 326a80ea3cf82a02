package gotosim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

const (
	tokenScope   = "identity:"
	codeLifetime = 10 * time.Minute
)

type accessToken struct {
	principal string
	expires   time.Time
}

type refreshGrant struct {
	principal string
	uses      int
	revoked   bool
}

type authCode struct {
	principal   string
	redirectURI string
	expires     time.Time
}

// AddAdmin registers login credentials for the password grant. The admin is
// the principal of the tokens it obtains; add a user with the same email and
// the SUPER_USER role to make it an account user too.
func (s *Server) AddAdmin(username, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.admins[strings.ToLower(username)] = password
}

// IssueRefreshToken returns a fresh refresh token of the default admin, as
// if `g2msync login goto` had run.
func (s *Server) IssueRefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newRefreshLocked(s.defaultUser)
}

// IssueRefreshTokenFor returns a fresh refresh token of the given admin, as
// if they had run `g2msync login goto`; /me then names their account user.
func (s *Server) IssueRefreshTokenFor(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newRefreshLocked(email)
}

// IssuePAT returns a new personal access token of the default admin.
func (s *Server) IssuePAT() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	pat := randomToken("pat-")
	s.pats[pat] = s.defaultUser
	return pat
}

// ExpireAccessTokens makes every access token issued so far invalid, as if
// an hour had passed; refresh tokens keep working.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access = map[string]accessToken{}
}

// RevokeRefreshToken kills one refresh token and reports whether it was alive.
func (s *Server) RevokeRefreshToken(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.refresh[tok]
	if !ok || g.revoked {
		return false
	}
	g.revoked = true
	return true
}

// RevokeAllGrants kills every refresh token and access token, as an admin
// removing the app's consent would. Personal access tokens stay valid.
func (s *Server) RevokeAllGrants() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.refresh {
		g.revoked = true
	}
	s.access = map[string]accessToken{}
}

// RefreshTokenValid reports whether tok would be accepted by a refresh grant.
func (s *Server) RefreshTokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.refresh[tok]
	return ok && !g.revoked
}

// RejectedRefreshTokens returns, in order, every refresh token a refresh
// grant presented and the server refused with invalid_grant.
func (s *Server) RejectedRefreshTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rejected)
}

func (s *Server) newRefreshLocked(principal string) string {
	tok := randomToken("rt-")
	s.refresh[tok] = &refreshGrant{principal: principal}
	return tok
}

// handleToken is POST /oauth/token: client authentication by HTTP Basic,
// then one of four grants.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, body []byte) {
	id, secret, ok := r.BasicAuth()
	if ok {
		// RFC 6749 §2.3.1: the id and secret are form-encoded before base64.
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
	}
	if !ok || id != s.clientID || secret != s.clientSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Bad client credentials")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var principal, newRefresh string
	switch gt := form.Get("grant_type"); gt {
	case "refresh_token":
		tok := form.Get("refresh_token")
		if tok == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
			return
		}
		g, ok := s.refresh[tok]
		if !ok || g.revoked {
			s.rejected = append(s.rejected, tok)
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid refresh token")
			return
		}
		principal = g.principal
		g.uses++
		if s.rotateEvery > 0 && g.uses >= s.rotateEvery {
			g.revoked = true
			newRefresh = s.newRefreshLocked(principal)
		}
	case "authorization_code":
		code := form.Get("code")
		c, ok := s.codes[code]
		if !ok || code == "" {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid authorization code")
			return
		}
		delete(s.codes, code) // one use, whatever happens next
		if !s.now().Before(c.expires) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Authorization code expired")
			return
		}
		if form.Get("redirect_uri") != c.redirectURI {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Redirect URI mismatch")
			return
		}
		principal = c.principal
		newRefresh = s.newRefreshLocked(principal)
	case "personal_access_token":
		p, ok := s.pats[form.Get("pat")]
		if !ok {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid personal access token")
			return
		}
		principal = p
		newRefresh = s.newRefreshLocked(principal)
	case "password":
		user := form.Get("username")
		pw, ok := s.admins[strings.ToLower(user)]
		if !ok || pw != form.Get("password") || user == "" {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Bad credentials")
			return
		}
		principal = user
		newRefresh = s.newRefreshLocked(principal)
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type: "+gt)
		return
	}

	at := randomToken("at-")
	s.access[at] = accessToken{principal: principal, expires: s.now().Add(s.ttl)}
	reply := map[string]any{
		"access_token": at,
		"token_type":   "Bearer",
		"expires_in":   int(s.ttl / time.Second),
		"scope":        tokenScope,
		"principal":    principal,
	}
	if newRefresh != "" {
		reply["refresh_token"] = newRefresh
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, reply)
}

// handleAuthorize is GET /oauth/authorize. It approves at once, as the
// default admin, and redirects back with a one-use code.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.clientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	redirect := q.Get("redirect_uri")
	target, err := url.Parse(redirect)
	if redirect == "" || err != nil || !target.IsAbs() {
		http.Error(w, "redirect_uri must be an absolute URL", http.StatusBadRequest)
		return
	}
	v := target.Query()
	if st := q.Get("state"); st != "" {
		v.Set("state", st)
	}
	if q.Get("response_type") != "code" {
		v.Set("error", "unsupported_response_type")
	} else {
		code := randomToken("code-")
		s.mu.Lock()
		s.codes[code] = authCode{principal: s.defaultUser, redirectURI: redirect, expires: s.now().Add(codeLifetime)}
		s.mu.Unlock()
		v.Set("code", code)
	}
	target.RawQuery = v.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// authenticate checks the bearer token of an Admin API request and writes
// the 401 itself when it fails.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		at, found := s.access[strings.TrimSpace(tok)]
		if found && s.now().Before(at.expires) {
			return at.principal, true
		}
	}
	s.writeUnauthorizedLocked(w)
	return "", false
}

func (s *Server) writeUnauthorized(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeUnauthorizedLocked(w)
}

func (s *Server) writeUnauthorizedLocked(w http.ResponseWriter) {
	shape := s.authShape
	if shape == AuthErrorRotate {
		shape = []AuthErrorShape{AuthErrorLegacy, AuthErrorEmpty, AuthErrorErrors}[s.authShapeN%3]
		s.authShapeN++
	}
	switch shape {
	case AuthErrorLegacy:
		w.Header().Set("WWW-Authenticate", `Bearer realm="api.getgo.com", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"int_err_code": "InvalidToken", "msg": "Invalid token passed"})
	case AuthErrorEmpty:
		w.Header().Set("WWW-Authenticate", `Bearer realm="api.getgo.com", error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
	default:
		s.writeErrorsLocked(w, http.StatusUnauthorized, "invalid.token", "access token is invalid or expired")
	}
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, fmt.Sprintf("gotosim: encode reply: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
