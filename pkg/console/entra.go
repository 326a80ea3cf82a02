package console

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/redact"
)

// Entra configures sign-in with Microsoft Entra ID: OpenID Connect's
// authorization code flow with PKCE and a nonce. Anyone of the tenant who
// signs in reads the pages; only members of OperatorsGroup or holders of
// OperatorsRole act.
type Entra struct {
	// Issuer is the tenant's v2.0 issuer,
	// https://login.microsoftonline.com/{tenant id}/v2.0; its discovery
	// document names the other endpoints.
	Issuer string
	// TenantID is the directory's id (a GUID): an ID token whose tid differs
	// is refused, whatever signed it.
	TenantID string
	// ClientID is the app registration the console signs people in to; its
	// ID tokens' audience.
	ClientID string
	// ClientSecret redeems codes; or, when empty, a client assertion signed
	// with Key and named by Certificate.
	ClientSecret string
	Certificate  *x509.Certificate
	Key          *rsa.PrivateKey
	// RedirectURL is the callback registered on the app,
	// https://console.example/auth/callback. Empty: built from the request's
	// host, for a console on loopback (http://localhost:9464/auth/callback).
	RedirectURL string
	// OperatorsGroup is the object id of the group whose members may act
	// (the ID token's groups claim); OperatorsRole the app role value whose
	// holders may (the roles claim). Either may be empty; both empty, no one
	// signed in with Entra acts.
	OperatorsGroup, OperatorsRole string
	// SignOutAtEntra sends the browser on to Entra's end_session_endpoint
	// after the console's own session ends.
	SignOutAtEntra bool
	// HTTPClient reaches Entra (discovery, keys, token); nil uses
	// http.DefaultClient. Its replies are read up to maxEntraReply.
	HTTPClient *http.Client
}

// signInTTL is how long a started sign-in waits for Entra's callback.
const signInTTL = 10 * time.Minute

// maxPendingSignIns bounds the sign-ins started and not yet back: each is
// a few hundred bytes, and a signed-out visitor can start them.
const maxPendingSignIns = 1000

// maxPendingPerAddress bounds the sign-ins one address has under way: a
// person signs in from one or two tabs; a NAT's people, a few more.
const maxPendingPerAddress = 8

// maxEntraReply bounds what is read of any reply from Entra's endpoints
// (discovery, keys, token): each is a few kilobytes.
const maxEntraReply = 1 << 20

// signInCookie binds a started sign-in to the browser that started it.
const signInCookie = "g2msync_signin"

// pendingSignIn is a sign-in sent to Entra, keyed by its state.
type pendingSignIn struct {
	browser  string // the signInCookie value of the browser that started it
	nonce    string
	verifier string // PKCE
	redirect string
	next     string
	expires  time.Time
	addr     string // the address that started it
}

// entraSignIn is the console's half of the flow.
type entraSignIn struct {
	cfg    Entra
	client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
	// endSession is the discovery document's end_session_endpoint.
	endSession string
	// failed and failedAt are the last discovery's error and when: for
	// discoveryRetry after it, sign-ins get that error at once rather than
	// queue for another attempt each.
	failed   error
	failedAt time.Time
}

// discoveryRetry is how long a failed discovery stands before the next
// sign-in tries again.
const discoveryRetry = 10 * time.Second

// idClaims are the ID token's claims the console reads (Microsoft identity
// platform "ID token claims reference").
type idClaims struct {
	TenantID   string            `json:"tid"`
	ObjectID   string            `json:"oid"`
	UPN        string            `json:"preferred_username"`
	Name       string            `json:"name"`
	Groups     []string          `json:"groups"`
	Roles      []string          `json:"roles"`
	ClaimNames map[string]string `json:"_claim_names"`
	HasGroups  bool              `json:"hasgroups"`
}

// overage reports whether the token left the groups out: the person is in
// more groups than a token carries (200), and Graph would have to be
// asked.
func (c *idClaims) overage() bool {
	_, named := c.ClaimNames["groups"]
	return named || c.HasGroups
}

func newEntraSignIn(cfg Entra) (*entraSignIn, error) {
	switch {
	case cfg.Issuer == "" || cfg.ClientID == "" || cfg.TenantID == "":
		return nil, errors.New("console: Entra sign-in needs the issuer, the client id and the tenant id")
	case cfg.ClientSecret == "" && (cfg.Certificate == nil || cfg.Key == nil):
		return nil, errors.New("console: Entra sign-in needs a client secret or a certificate to redeem codes")
	}
	base := cfg.HTTPClient
	if base == nil {
		base = http.DefaultClient
	}
	client := *base
	tr := client.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	client.Transport = limitedBodies{tr}
	if client.Timeout == 0 {
		client.Timeout = 30 * time.Second
	}
	return &entraSignIn{cfg: cfg, client: &client}, nil
}

// limitedBodies reads at most maxEntraReply of each reply: go-oidc reads
// discovery and keys whole, and a hostile or broken server must not fill
// the daemon's memory.
type limitedBodies struct{ next http.RoundTripper }

func (l limitedBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := l.next.RoundTrip(r)
	if err == nil {
		res.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(res.Body, maxEntraReply), res.Body}
	}
	return res, err
}

// discover returns the provider, reading the discovery document on first
// use and again after a failure: the daemon starts whether or not Entra
// is reachable, and sign-in works once it is.
func (e *entraSignIn) discover(ctx context.Context, now time.Time) (*oidc.Provider, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.provider != nil {
		return e.provider, nil
	}
	if e.failed != nil && now.Sub(e.failedAt) < discoveryRetry {
		return nil, e.failed
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, e.client), 15*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, e.cfg.Issuer)
	if err != nil {
		e.failed, e.failedAt = fmt.Errorf("read Entra's OpenID configuration at %s: %w", e.cfg.Issuer, err), now
		return nil, e.failed
	}
	e.failed = nil
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&meta)
	e.provider, e.endSession = p, meta.EndSession
	return p, nil
}

// oauth returns the OAuth 2.0 configuration of one sign-in.
func (e *entraSignIn) oauth(p *oidc.Provider, redirect string) *oauth2.Config {
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams
	return &oauth2.Config{ClientID: e.cfg.ClientID, ClientSecret: e.cfg.ClientSecret, Endpoint: ep, RedirectURL: redirect,
		Scopes: []string{oidc.ScopeOpenID, "profile"}}
}

// assertion signs the client assertion Entra takes instead of a secret
// (Microsoft identity platform "certificate credentials"): aud the token
// endpoint, iss and sub the client id, the certificate named by x5t#S256.
func (e *entraSignIn) assertion(tokenURL string, now time.Time) (string, error) {
	sum := sha256.Sum256(e.cfg.Certificate.Raw)
	t := jwt.NewWithClaims(jwt.SigningMethodPS256, jwt.RegisteredClaims{
		Audience: jwt.ClaimStrings{tokenURL}, Issuer: e.cfg.ClientID, Subject: e.cfg.ClientID, ID: randomToken(),
		NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)),
	})
	t.Header["x5t#S256"] = base64.RawURLEncoding.EncodeToString(sum[:])
	return t.SignedString(e.cfg.Key)
}

// redirectFor is the callback URL of a request: the configured one, or
// built from the loopback host the browser used.
func (e *entraSignIn) redirectFor(r *http.Request) string {
	if e.cfg.RedirectURL != "" {
		return e.cfg.RedirectURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/auth/callback"
}

// startEntra sends the browser to Entra's sign-in: a new state, nonce and
// PKCE verifier, kept here and bound to the browser by a short cookie.
func (s *Server) startEntra(w http.ResponseWriter, r *http.Request) {
	if !signInPost(w, r) {
		return
	}
	if s.entra.cfg.RedirectURL == "" && !daemon.LoopbackHost(r.Host) {
		// The callback would be built from a name this console cannot vouch
		// for; the daemon refuses this configuration off loopback.
		http.Error(w, "refused: sign-in with Entra on this address needs console.entra.redirect_url", http.StatusMisdirectedRequest)
		return
	}
	p, err := s.entra.discover(r.Context(), s.opts.Now())
	if err != nil {
		msg := redact.Text(err.Error(), s.entra.cfg.ClientSecret)
		s.opts.Logger.Warn("console sign-in with Entra unavailable", "error", msg)
		// What Entra (or a proxy in its place) answered stays in the log:
		// the page is shown to visitors not signed in.
		s.loginError(w, r, http.StatusBadGateway, "Microsoft Entra could not be reached to sign in; try again, or use the break-glass sign-in below. The daemon's log says why.")
		return
	}
	now := s.opts.Now()
	state, browser := randomToken(), randomToken()
	ps := &pendingSignIn{browser: browser, nonce: randomToken(), verifier: oauth2.GenerateVerifier(), redirect: s.entra.redirectFor(r),
		next: localPath(r.PostFormValue("next"), "/"), expires: now.Add(signInTTL), addr: remoteIP(r)}
	s.mu.Lock()
	s.forgetOldestOf(ps.addr, now)
	if len(s.pending) >= maxPendingSignIns {
		for k, v := range s.pending {
			if now.After(v.expires) {
				delete(s.pending, k)
			}
		}
	}
	full := len(s.pending) >= maxPendingSignIns
	if !full {
		s.pending[state] = ps
	}
	s.mu.Unlock()
	if full {
		w.Header().Set("Retry-After", "60")
		http.Error(w, "too many sign-ins are under way; try again in a minute", http.StatusTooManyRequests)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: browser, Path: "/auth/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteLaxMode, MaxAge: int(signInTTL.Seconds())})
	to := s.entra.oauth(p, ps.redirect).AuthCodeURL(state, oidc.Nonce(ps.nonce), oauth2.S256ChallengeOption(ps.verifier))
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// forgetOldestOf makes room for a sign-in from addr: one address holds at
// most maxPendingPerAddress sign-ins under way, its oldest giving way, so
// that a script started from one address cannot fill the pending sign-ins
// and turn everyone else's away. Called with mu held.
func (s *Server) forgetOldestOf(addr string, now time.Time) {
	var oldest string
	n := 0
	for k, v := range s.pending {
		if v.addr != addr || now.After(v.expires) {
			continue
		}
		n++
		if oldest == "" || v.expires.Before(s.pending[oldest].expires) {
			oldest = k
		}
	}
	if n >= maxPendingPerAddress {
		delete(s.pending, oldest)
	}
}

// errSignIn is a refused sign-in: what the person is told; the log gets
// the cause.
type errSignIn struct {
	status int
	msg    string
	cause  error
}

func (e *errSignIn) Error() string {
	if e.cause != nil {
		return e.msg + ": " + e.cause.Error()
	}
	return e.msg
}

// entraCallback is where Entra sends the browser back. A callback that
// names no sign-in this browser started is refused at once, and does not
// count: any page on another site can make a visitor's browser fetch this
// address (an <img>), and counting those would lock that visitor's
// address, break-glass door included, out of signing in. One that does
// counts against the address's throttle from then on, like a password:
// redeeming its code costs a call to Entra.
func (s *Server) entraCallback(w http.ResponseWriter, r *http.Request) {
	addr := remoteIP(r)
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: "", Path: "/auth/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	ps, err := s.claim(r)
	var claims *idClaims
	signedIn := false
	if err == nil {
		if wait := s.beginSignIn(addr); wait > 0 {
			tooMany(w, wait)
			return
		}
		defer func() { s.endSignIn(addr, signedIn) }()
		claims, err = s.redeem(r, ps)
	}
	if err != nil {
		var refused *errSignIn
		status, msg := http.StatusBadRequest, "The sign-in with Microsoft Entra failed; start again."
		if errors.As(err, &refused) {
			status, msg = refused.status, refused.msg
		}
		// A hostile or broken token endpoint may echo what it was sent.
		s.opts.Logger.Warn("console sign-in refused", "door", "entra", "address", addr, "error", redact.Text(err.Error(), s.entra.cfg.ClientSecret))
		s.loginError(w, r, status, msg)
		return
	}
	signedIn = true
	canAct := s.entraOperator(claims)
	name := claims.UPN
	if name == "" {
		name = claims.ObjectID
	}
	sess := &session{name: name, oid: claims.ObjectID, canAct: canAct}
	switch {
	case canAct:
	case claims.overage() && s.entra.cfg.OperatorsGroup != "":
		sess.notice = "Signed in to read only: you are in more groups than Entra puts in a sign-in token (200), so the console cannot see " +
			"whether you are in the operators group. Ask for the operators app role instead (console.entra.operators_role)."
	default:
		sess.notice = "Signed in to read only: you are not in the console's operators group and do not hold its operators role."
	}
	s.startSession(w, r, sess)
	s.opts.Logger.Info("console sign-in", "door", "entra", "operator", name, "entra_id", claims.ObjectID, "address", addr,
		"can_act", canAct, "groups_overage", claims.overage())
	// Not a redirect: this request ends a chain of redirects that began
	// on Entra's page, another site, and a browser keeps the session's
	// strict cookie from every step of such a chain. The page's own
	// refresh starts from the console, and carries it.
	p := s.newPage()
	p.Title, p.Data = "Signed in", ps.next
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, "continue", p)
}

// claim takes the sign-in the callback names, once, and checks what
// costs nothing: that this browser started it, in time, and that Entra
// sent a code.
func (s *Server) claim(r *http.Request) (*pendingSignIn, error) {
	q := r.URL.Query()
	state := q.Get("state")
	s.mu.Lock()
	ps := s.pending[state]
	delete(s.pending, state) // one use, whatever follows
	s.mu.Unlock()
	c, cookieErr := r.Cookie(signInCookie)
	switch {
	case ps == nil:
		return nil, &errSignIn{status: http.StatusBadRequest, msg: "This sign-in is unknown or was already used; start again."}
	case cookieErr != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(ps.browser)) != 1:
		return nil, &errSignIn{status: http.StatusBadRequest, msg: "This sign-in was started in another browser; start again here."}
	case s.opts.Now().After(ps.expires):
		return nil, &errSignIn{status: http.StatusBadRequest, msg: "This sign-in took longer than " + signInTTL.String() + "; start again."}
	case q.Get("error") != "":
		return nil, &errSignIn{status: http.StatusForbidden, msg: "Microsoft Entra did not sign you in: " + q.Get("error_description"),
			cause: errors.New(q.Get("error"))}
	case q.Get("code") == "":
		return nil, &errSignIn{status: http.StatusBadRequest, msg: "Microsoft Entra sent no code; start again."}
	}
	return ps, nil
}

// redeem exchanges the callback's code for ps's ID token, with its PKCE
// verifier, and checks the token: its signature, issuer, audience and
// expiry (go-oidc), its nonce, its tenant and its object id.
func (s *Server) redeem(r *http.Request, ps *pendingSignIn) (*idClaims, error) {
	q := r.URL.Query()
	ctx, cancel := context.WithTimeout(oidc.ClientContext(r.Context(), s.entra.client), 30*time.Second)
	defer cancel()
	p, err := s.entra.discover(ctx, s.opts.Now())
	if err != nil {
		return nil, &errSignIn{status: http.StatusBadGateway, msg: "Microsoft Entra could not be reached to finish the sign-in.", cause: err}
	}
	conf := s.entra.oauth(p, ps.redirect)
	opts := []oauth2.AuthCodeOption{oauth2.VerifierOption(ps.verifier)}
	if s.entra.cfg.ClientSecret == "" {
		a, err := s.entra.assertion(conf.Endpoint.TokenURL, s.opts.Now())
		if err != nil {
			return nil, fmt.Errorf("sign the client assertion: %w", err)
		}
		opts = append(opts, oauth2.SetAuthURLParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
			oauth2.SetAuthURLParam("client_assertion", a))
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), opts...)
	if err != nil {
		return nil, &errSignIn{status: http.StatusBadGateway, msg: "Microsoft Entra did not redeem the sign-in code; start again.", cause: err}
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, &errSignIn{status: http.StatusBadGateway, msg: "Microsoft Entra sent no ID token; start again."}
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: s.entra.cfg.ClientID, SupportedSigningAlgs: []string{oidc.RS256}, Now: s.opts.Now}).Verify(ctx, raw)
	if err != nil {
		return nil, &errSignIn{status: http.StatusForbidden, msg: "The ID token from Microsoft Entra is not valid for this console.", cause: err}
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(ps.nonce)) != 1 {
		return nil, &errSignIn{status: http.StatusForbidden, msg: "The ID token from Microsoft Entra is not the one this sign-in asked for (nonce).",
			cause: errors.New("nonce mismatch")}
	}
	var claims idClaims
	if err := idt.Claims(&claims); err != nil {
		return nil, &errSignIn{status: http.StatusForbidden, msg: "The ID token's claims cannot be read.", cause: err}
	}
	if !strings.EqualFold(claims.TenantID, s.entra.cfg.TenantID) {
		return nil, &errSignIn{status: http.StatusForbidden, msg: "You signed in with an account of another Microsoft Entra tenant; this console takes accounts of tenant " +
			s.entra.cfg.TenantID + " only.", cause: fmt.Errorf("tid %q", claims.TenantID)}
	}
	if claims.ObjectID == "" {
		return nil, &errSignIn{status: http.StatusForbidden, msg: "The ID token names no Entra object id (oid).", cause: errors.New("no oid")}
	}
	return &claims, nil
}

// entraOperator reports whether a person signed in with Entra may act: a
// member of the operators group, or a holder of the operators role.
func (s *Server) entraOperator(c *idClaims) bool {
	cfg := s.entra.cfg
	if cfg.OperatorsRole != "" && slices.Contains(c.Roles, cfg.OperatorsRole) {
		return true
	}
	return cfg.OperatorsGroup != "" && slices.ContainsFunc(c.Groups, func(g string) bool { return strings.EqualFold(g, cfg.OperatorsGroup) })
}

// endSessionURL is where sign-out sends the browser: Entra's end-session
// endpoint, back to the console, when SignOutAtEntra is set; else "".
func (e *entraSignIn) endSessionURL(r *http.Request) string {
	if e == nil || !e.cfg.SignOutAtEntra {
		return ""
	}
	e.mu.Lock()
	end := e.endSession
	e.mu.Unlock()
	if end == "" {
		return ""
	}
	back := strings.TrimSuffix(e.redirectFor(r), "/auth/callback") + "/"
	return end + "?" + url.Values{"post_logout_redirect_uri": {back}}.Encode()
}

// allowSignInForm lets the sign-in page's "Sign in with Microsoft" form
// lead to Entra: browsers apply form-action to the redirect a form's
// answer makes, and /auth/start answers with Entra's authorize URL, on the
// issuer's host. Nothing when Entra is off.
func (e *entraSignIn) allowSignInForm(w http.ResponseWriter) {
	if e == nil {
		return
	}
	u, err := url.Parse(e.cfg.Issuer)
	if err != nil || u.Host == "" {
		return
	}
	w.Header().Set("Content-Security-Policy", policy("'self' "+u.Scheme+"://"+u.Host))
}

// tooMany answers a sign-in that must wait.
func tooMany(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	http.Error(w, fmt.Sprintf("too many sign-ins from your address or at once; try again in %s", wait.Round(time.Second)), http.StatusTooManyRequests)
}
