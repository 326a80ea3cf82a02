package console

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

const consoleOrigin = "http://localhost:9464"

// entraWorld is the simulated tenant behind a relay that the console takes
// for Entra. The relay passes everything through, but publishes its own
// signing key and signs the ID tokens again with it, after tamper has had
// its way with their claims: so a test can hand the console a well-signed
// token with a wrong issuer, audience, nonce, expiry or tenant, or one
// signed with another key, as a hostile or broken server would.
type entraWorld struct {
	t       *testing.T
	sim     *graphsim.Server
	relay   *httptest.Server
	key     *rsa.PrivateKey
	client  string
	tenant  string
	ops     string // operators group id
	alice   string // an operator: member of the group
	bob     string // of the tenant, not an operator
	cert    *graphsim.ClientCertificate
	browser *http.Client

	mu      sync.Mutex
	tamper  func(jwt.MapClaims)
	signKey *rsa.PrivateKey // nil: key
	// echo makes the token endpoint refuse, echoing the form it was sent;
	// huge makes discovery answer with more than any reply may hold.
	echo, huge bool
}

func newEntraWorld(t *testing.T) *entraWorld {
	t.Helper()
	sim, err := graphsim.New(graphsim.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e := &entraWorld{t: t, sim: sim, key: key, tenant: sim.TenantID()}
	if e.cert, err = graphsim.NewClientCertificate("g2msync"); err != nil {
		t.Fatal(err)
	}
	if e.client, err = sim.AddApp(graphsim.App{DisplayName: "g2msync console", Secrets: []string{"console-secret"},
		Certificates: []*x509.Certificate{e.cert.Certificate}, RedirectURIs: []string{consoleOrigin + "/auth/callback"}, GroupClaims: true}); err != nil {
		t.Fatal(err)
	}
	if e.ops, err = sim.AddGroup(graphsim.Group{DisplayName: "g2msync operators", SecurityEnabled: true}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		id  *string
		upn string
	}{{&e.alice, "alice@contoso.com"}, {&e.bob, "bob@contoso.com"}} {
		if *u.id, err = sim.AddUser(graphsim.User{UserPrincipalName: u.upn, DisplayName: u.upn}); err != nil {
			t.Fatal(err)
		}
		if err := sim.SetPassword(*u.id, "pw-"+u.upn); err != nil {
			t.Fatal(err)
		}
	}
	if err := sim.AddMember(e.ops, e.alice); err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(sim.URL())
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // the simulator builds its issuer from the host asked
		},
		Transport:      &http.Transport{TLSClientConfig: sim.CA().ClientConfig()},
		ModifyResponse: e.resign,
	}
	e.relay = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		echo, huge := e.echo, e.huge
		e.mu.Unlock()
		if echo && strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
			_ = r.ParseForm()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": "you sent " + r.PostForm.Encode()})
			return
		}
		if huge && strings.HasSuffix(r.URL.Path, "/openid-configuration") {
			// The true document, with 4 MiB more of a field no one reads:
			// read whole, it would do.
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			var doc map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Error(err)
			}
			doc["x_padding"] = strings.Repeat("x", 4<<20)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(doc)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/discovery/v2.0/keys") {
			pub := e.key.PublicKey
			_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "use": "sig", "kid": "relay",
				"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}}})
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(e.relay.Close)
	e.browser = &http.Client{Transport: e.relay.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return e
}

// resign signs the token reply's ID token again with the relay's key.
func (e *entraWorld) resign(res *http.Response) error {
	if !strings.HasSuffix(res.Request.URL.Path, "/oauth2/v2.0/token") || res.StatusCode != http.StatusOK {
		return nil
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return err
	}
	if idt, ok := body["id_token"].(string); ok {
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(idt, claims); err != nil {
			return err
		}
		e.mu.Lock()
		tamper, key := e.tamper, e.signKey
		e.mu.Unlock()
		if tamper != nil {
			tamper(claims)
		}
		if key == nil {
			key = e.key
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		tok.Header["kid"] = "relay"
		if body["id_token"], err = tok.SignedString(key); err != nil {
			return err
		}
	}
	out, _ := json.Marshal(body)
	res.Body = io.NopCloser(bytes.NewReader(out))
	res.ContentLength = int64(len(out))
	res.Header.Set("Content-Length", fmt.Sprint(len(out)))
	return nil
}

func (e *entraWorld) set(tamper func(jwt.MapClaims), key *rsa.PrivateKey) {
	e.mu.Lock()
	e.tamper, e.signKey = tamper, key
	e.mu.Unlock()
}

// console is a console that signs people in with the relayed tenant.
func (e *entraWorld) console(logs io.Writer) (*Server, *memBackend) {
	e.t.Helper()
	s, b := newTestConsole(e.t, false)
	opts := s.opts
	opts.Now = time.Now // the simulator's tokens are issued now
	opts.Entra = &Entra{Issuer: e.relay.URL + "/" + e.tenant + "/v2.0", TenantID: e.tenant, ClientID: e.client, ClientSecret: "console-secret",
		OperatorsGroup: e.ops, HTTPClient: e.relay.Client()}
	if logs != nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	s, err := New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return s, b
}

// start begins a sign-in in a browser: the state, the sign-in cookie, and
// Entra's authorize URL.
func (e *entraWorld) start(s *Server) (state string, cookie *http.Cookie, authorize string) {
	e.t.Helper()
	return e.startFrom(s, "192.0.2.7:51000")
}

// startFrom is start from the address addr.
func (e *entraWorld) startFrom(s *Server, addr string) (state string, cookie *http.Cookie, authorize string) {
	e.t.Helper()
	w := postFrom(e.t, s, addr, "/auth/start", url.Values{"next": {"/approvals"}}, consoleOrigin)
	if w.Code != http.StatusSeeOther {
		e.t.Fatalf("start: %d %s", w.Code, w.Body)
	}
	authorize = w.Header().Get("Location")
	u, err := url.Parse(authorize)
	if err != nil {
		e.t.Fatal(err)
	}
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("redirect_uri") != consoleOrigin+"/auth/callback" {
		e.t.Errorf("authorize request: %v", q)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == signInCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.MaxAge <= 0 || cookie.MaxAge > 600 {
		e.t.Fatalf("sign-in cookie %+v", cookie)
	}
	return q.Get("state"), cookie, authorize
}

// authorize signs upn in at Entra and returns the callback's query.
func (e *entraWorld) authorize(authorize, upn string) url.Values {
	e.t.Helper()
	res, err := e.browser.PostForm(authorize, url.Values{"username": {upn}, "password": {"pw-" + upn}})
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), consoleOrigin+"/auth/callback?") {
		e.t.Fatalf("authorize: %d %q %v", res.StatusCode, loc, err)
	}
	return loc.Query()
}

// callback delivers a callback query to the console with the cookies.
func callback(t *testing.T, s *Server, q url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, consoleOrigin+"/auth/callback?"+q.Encode(), nil)
	r.RemoteAddr = "192.0.2.9:50000"
	for _, c := range cookies {
		if c != nil {
			r.AddCookie(c)
		}
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func sessionCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName && c.MaxAge > 0 {
			return c
		}
	}
	return nil
}

// signInAs runs the whole flow for upn and returns the session cookie.
func (e *entraWorld) signInAs(s *Server, upn string) *http.Cookie {
	e.t.Helper()
	_, cookie, authorize := e.start(s)
	w := callback(e.t, s, e.authorize(authorize, upn), cookie)
	c := sessionCookie(w)
	// A page that moves on by itself, not a redirect: the strict session
	// cookie is not sent on a redirect chain that began at Entra.
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `<meta http-equiv="refresh" content="0; url=/approvals">`) || c == nil ||
		c.SameSite != http.SameSiteStrictMode || !c.HttpOnly {
		e.t.Fatalf("callback: %d %v %s", w.Code, c, w.Body)
	}
	return c
}

// A member of the operators group signs in with Entra and acts; the action
// names her UPN and her Entra object id. Someone of the tenant outside the
// group reads the pages, sees no action, and a forged action is refused.
func TestEntraSignInOperatorsAct(t *testing.T) {
	e := newEntraWorld(t)
	var logs bytes.Buffer
	s, b := e.console(&logs)
	lw := get(t, s, "/login?next=/approvals")
	login := lw.Body.String()
	// Browsers apply form-action to the redirect that answers a form: the
	// sign-in page must let its form lead to Entra, and no other page.
	if csp := lw.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+e.relay.URL+";") {
		t.Errorf("the sign-in page's policy keeps its form from Entra: %s", csp)
	}
	if csp := get(t, s, "/").Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self';") {
		t.Errorf("the overview's policy: %s", csp)
	}
	if !strings.Contains(login, `id="sign-in-entra"`) || !strings.Contains(login, "Break-glass") || strings.Index(login, "sign-in-entra") > strings.Index(login, "Break-glass") {
		t.Errorf("the sign-in page does not offer Microsoft first and the local form as break-glass:\n%s", login)
	}
	alice := e.signInAs(s, "alice@contoso.com")
	page := get(t, s, "/approvals", alice).Body.String()
	csrf := regexpCSRF.FindStringSubmatch(page)
	if csrf == nil || !strings.Contains(page, "Signed in as <strong>alice@contoso.com</strong>") {
		t.Fatalf("alice's approvals page has no actions:\n%s", page)
	}
	if w := post(t, s, "/pause", url.Values{"csrf": {csrf[1]}, "reason": {"maintenance"}}, consoleOrigin, alice); w.Code != http.StatusSeeOther {
		t.Fatalf("alice pauses: %d %s", w.Code, w.Body)
	}
	if len(b.actions) != 1 || b.actions[0] != "pause alice@contoso.com maintenance" {
		t.Errorf("actions: %q", b.actions)
	}
	if !strings.Contains(logs.String(), "entra_id="+e.alice) || strings.Contains(logs.String(), "console-secret") {
		t.Errorf("the action's log line does not name alice's object id, or shows the secret:\n%s", logs.String())
	}

	bob := e.signInAs(s, "bob@contoso.com")
	page = get(t, s, "/approvals", bob).Body.String()
	if regexpCSRF.MatchString(page) || strings.Contains(page, "Approve all") || !strings.Contains(page, "(read only)") {
		t.Errorf("bob, not an operator, is offered actions:\n%s", page)
	}
	if !strings.Contains(page, `<p class="notice" role="status">Signed in to read only: you are not in the console&#39;s operators group`) {
		t.Errorf("bob is not told, as a notice, why he reads only:\n%s", page)
	}
	if strings.Contains(page, "Sign in as an operator") || !strings.Contains(page, "You read only: the console's operators approve") {
		t.Errorf("bob, signed in, is asked to sign in rather than told he reads only:\n%s", page)
	}
	// Forged POSTs in bob's session: with alice's token (from a leaked
	// page), and with his own session's token, which no page shows him.
	s.mu.Lock()
	own := s.sessions[bob.Value].csrf
	s.mu.Unlock()
	for _, tok := range []string{csrf[1], own} {
		if w := post(t, s, "/resume", url.Values{"csrf": {tok}}, consoleOrigin, bob); w.Code != http.StatusForbidden {
			t.Errorf("bob's forged resume: %d", w.Code)
		}
	}
	if len(b.actions) != 1 {
		t.Errorf("bob acted: %q", b.actions)
	}
}

// A person in more than 200 groups gets a token without them: the console
// cannot tell whether they are an operator, so they read only, and are
// told to ask for the app role; the role works whatever the groups.
func TestEntraGroupsOverageReadsOnlyAndTheRoleActs(t *testing.T) {
	e := newEntraWorld(t)
	for i := range 201 {
		g, err := e.sim.AddGroup(graphsim.Group{DisplayName: fmt.Sprint("g", i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.sim.AddMember(g, e.alice); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := e.console(nil)
	page := get(t, s, "/approvals", e.signInAs(s, "alice@contoso.com")).Body.String()
	if regexpCSRF.MatchString(page) || !strings.Contains(page, "more groups than Entra puts in a sign-in token") {
		t.Errorf("overage: alice may act, or is not told why not:\n%s", page)
	}
	sp, err := e.sim.AddServicePrincipal(graphsim.ServicePrincipal{AppID: e.client, DisplayName: "g2msync console",
		AppRoles: []graphsim.AppRole{{Value: "Console.Operator", DisplayName: "Operator"}}})
	if err != nil {
		t.Fatal(err)
	}
	roles, _ := e.sim.AppRoles(sp)
	if _, err := e.sim.Assign(sp, e.alice, roles[0].ID); err != nil {
		t.Fatal(err)
	}
	s.entra.cfg.OperatorsRole = "Console.Operator"
	if page := get(t, s, "/approvals", e.signInAs(s, "alice@contoso.com")).Body.String(); !regexpCSRF.MatchString(page) {
		t.Errorf("the operators role does not let alice act:\n%s", page)
	}
}

// Every refusal of a callback: nothing signs in, and the person is told.
func TestEntraCallbackRefusals(t *testing.T) {
	e := newEntraWorld(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	claim := func(k string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[k] = v } }
	for _, tc := range []struct {
		name   string
		tamper func(jwt.MapClaims)
		key    *rsa.PrivateKey
		want   string
	}{
		{"bad signature", nil, other, "not valid for this console"},
		{"wrong issuer", claim("iss", "https://login.microsoftonline.com/"+e.tenant+"/v2.0"), nil, "not valid for this console"},
		{"wrong audience", claim("aud", "00000000-1111-2222-3333-444444444444"), nil, "not valid for this console"},
		{"expired", claim("exp", time.Now().Add(-time.Hour).Unix()), nil, "not valid for this console"},
		{"wrong nonce", claim("nonce", "replayed-nonce"), nil, "(nonce)"},
		{"no nonce", func(c jwt.MapClaims) { delete(c, "nonce") }, nil, "(nonce)"},
		{"wrong tenant", claim("tid", "72f988bf-86f1-41af-91ab-2d7cd011db47"), nil, "another Microsoft Entra tenant"},
		{"no object id", func(c jwt.MapClaims) { delete(c, "oid") }, nil, "object id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := e.console(nil)
			e.set(tc.tamper, tc.key)
			defer e.set(nil, nil)
			_, cookie, authorize := e.start(s)
			w := callback(t, s, e.authorize(authorize, "alice@contoso.com"), cookie)
			if w.Code/100 != 4 && w.Code/100 != 5 || sessionCookie(w) != nil || !strings.Contains(w.Body.String(), tc.want) {
				t.Errorf("got %d, session %v:\n%s", w.Code, sessionCookie(w), w.Body)
			}
		})
	}

	s, _ := e.console(nil)
	t.Run("replayed state", func(t *testing.T) {
		_, cookie, authorize := e.start(s)
		q := e.authorize(authorize, "alice@contoso.com")
		if w := callback(t, s, q, cookie); sessionCookie(w) == nil {
			t.Fatalf("first callback: %d %s", w.Code, w.Body)
		}
		if w := callback(t, s, q, cookie); w.Code != http.StatusBadRequest || sessionCookie(w) != nil || !strings.Contains(w.Body.String(), "already used") {
			t.Errorf("replayed callback: %d %s", w.Code, w.Body)
		}
	})
	t.Run("state cookie from another browser", func(t *testing.T) {
		_, _, authorize := e.start(s)
		_, theirs, _ := e.start(s)
		for _, c := range []*http.Cookie{theirs, nil} {
			q := e.authorize(authorize, "alice@contoso.com")
			if w := callback(t, s, q, c); w.Code != http.StatusBadRequest || sessionCookie(w) != nil || !strings.Contains(w.Body.String(), "another browser") {
				t.Errorf("cookie %v: %d %s", c, w.Code, w.Body)
			}
			_, _, authorize = e.start(s)
		}
	})
	t.Run("code from another sign-in (wrong PKCE verifier)", func(t *testing.T) {
		// An attacker signs in, and slips their code into the victim's
		// callback (state and cookie the victim's own): the console
		// redeems it with the victim's verifier, and Entra refuses.
		_, _, attackers := e.start(s)
		stolen := e.authorize(attackers, "bob@contoso.com")
		victimState, victimCookie, _ := e.start(s)
		q := url.Values{"code": {stolen.Get("code")}, "state": {victimState}}
		if w := callback(t, s, q, victimCookie); w.Code != http.StatusBadGateway || sessionCookie(w) != nil || !strings.Contains(w.Body.String(), "did not redeem") {
			t.Errorf("injected code: %d %s", w.Code, w.Body)
		}
	})
	t.Run("Entra's own error", func(t *testing.T) {
		state, cookie, _ := e.start(s)
		q := url.Values{"error": {"access_denied"}, "error_description": {`AADSTS65004: User declined to consent <script>x</script>`}, "state": {state}}
		w := callback(t, s, q, cookie)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "AADSTS65004") || strings.Contains(w.Body.String(), "<script>x") {
			t.Errorf("error callback: %d %s", w.Code, w.Body)
		}
	})
	t.Run("expired sign-in", func(t *testing.T) {
		_, cookie, authorize := e.start(s)
		q := e.authorize(authorize, "alice@contoso.com")
		later := time.Now().Add(signInTTL + time.Second)
		s.opts.Now = func() time.Time { return later }
		if w := callback(t, s, q, cookie); w.Code != http.StatusBadRequest || sessionCookie(w) != nil || !strings.Contains(w.Body.String(), "took longer") {
			t.Errorf("late callback: %d %s", w.Code, w.Body)
		}
	})
}

// Callbacks sent together are counted when they start: at most the
// in-flight cap reach Entra's token endpoint at once, the rest wait (429),
// and an address's failures slow it down as wrong passwords do.
func TestConcurrentCallbacksAreCapped(t *testing.T) {
	e := newEntraWorld(t)
	s, _ := e.console(nil)
	type started struct {
		state  string
		cookie *http.Cookie
	}
	var all []started
	for i := range 60 {
		st, c, _ := e.startFrom(s, fmt.Sprintf("198.51.100.%d:4000", i))
		all = append(all, started{st, c})
	}
	e.sim.SetLatency(time.Second) // each redemption is slow: they overlap
	e.sim.ResetCounters()
	var refused, answered atomic.Int32
	var wg sync.WaitGroup
	for i, st := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest(http.MethodGet, consoleOrigin+"/auth/callback?"+url.Values{"code": {"1.Abogus"}, "state": {st.state}}.Encode(), nil)
			r.RemoteAddr = fmt.Sprintf("198.51.100.%d:4000", i) // many addresses
			r.AddCookie(st.cookie)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code == http.StatusTooManyRequests {
				if w.Header().Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
				refused.Add(1)
			} else {
				answered.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := e.sim.Calls("POST /token"); got > signInsInFlight {
		t.Errorf("%d bogus callbacks reached Entra's token endpoint at once, want at most %d", got, signInsInFlight)
	}
	if refused.Load() < int32(len(all)-signInsInFlight) {
		t.Errorf("%d of %d concurrent callbacks refused, want at least %d", refused.Load(), len(all), len(all)-signInsInFlight)
	}
}

var regexpCSRF = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// A hostile or broken Entra: a token endpoint that echoes the client
// secret gets it into neither the log nor the page; a discovery document
// larger than any reply may be is not read whole, and the page says
// Entra cannot be reached.
func TestHostileEntraReplies(t *testing.T) {
	e := newEntraWorld(t)
	var logs bytes.Buffer
	s, _ := e.console(&logs)
	_, cookie, authorize := e.start(s)
	q := e.authorize(authorize, "alice@contoso.com")
	e.mu.Lock()
	e.echo = true
	e.mu.Unlock()
	w := callback(t, s, q, cookie)
	if sessionCookie(w) != nil || strings.Contains(w.Body.String(), "console-secret") || strings.Contains(logs.String(), "console-secret") ||
		!strings.Contains(logs.String(), "you sent") {
		t.Errorf("echoed secret: %d\npage:\n%s\nlog:\n%s", w.Code, w.Body, logs.String())
	}

	h := newEntraWorld(t)
	h.huge = true
	s, _ = h.console(&logs)
	w = post(t, s, "/auth/start", url.Values{"next": {"/"}}, consoleOrigin)
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "could not be reached") {
		t.Errorf("huge discovery: %d %s", w.Code, w.Body.String()[:min(500, w.Body.Len())])
	}
}

// A signed-out visitor can start sign-ins, each kept until Entra sends the
// browser back. One address holds at most maxPendingPerAddress, its oldest
// giving way, so a script on one address cannot fill them and turn others
// away (before, 1,000 starts from one address did); beyond
// maxPendingSignIns at once from many addresses they wait, and the console
// keeps no more.
func TestPendingSignInsAreBounded(t *testing.T) {
	e := newEntraWorld(t)
	s, _ := e.console(nil)
	for i := range 3 * maxPendingPerAddress {
		if w := post(t, s, "/auth/start", url.Values{"next": {"/"}}, consoleOrigin); w.Code != http.StatusSeeOther {
			t.Fatalf("sign-in %d from one address: %d", i, w.Code)
		}
	}
	if n := len(s.pending); n != maxPendingPerAddress {
		t.Errorf("one address holds %d sign-ins under way, want %d", n, maxPendingPerAddress)
	}
	if c := e.signInAs(s, "alice@contoso.com"); c == nil {
		t.Error("alice, from that address, cannot sign in")
	}
	for i := len(s.pending); i < maxPendingSignIns; i++ {
		if w := postFrom(t, s, fmt.Sprintf("[2001:db8::%x]:4000", i), "/auth/start", url.Values{"next": {"/"}}, consoleOrigin); w.Code != http.StatusSeeOther {
			t.Fatalf("sign-in %d: %d", i, w.Code)
		}
	}
	w := postFrom(t, s, "198.51.100.9:4000", "/auth/start", url.Values{"next": {"/"}}, consoleOrigin)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || len(s.pending) != maxPendingSignIns {
		t.Errorf("one too many: %d, %d kept", w.Code, len(s.pending))
	}
	if w := post(t, s, "/auth/start", url.Values{"next": {"/"}}, "http://evil.example"); w.Code != http.StatusForbidden {
		t.Errorf("a sign-in started from another site: %d", w.Code)
	}
}

// Sign-out ends the console's session and, when asked, Entra's: the
// browser goes to the end-session endpoint and back to the console.
func TestSignOutAtEntra(t *testing.T) {
	e := newEntraWorld(t)
	s, _ := e.console(nil)
	s.entra.cfg.SignOutAtEntra = true
	c := e.signInAs(s, "alice@contoso.com")
	w := post(t, s, "/logout", nil, consoleOrigin, c)
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, e.relay.URL+"/"+e.tenant+"/oauth2/v2.0/logout?") ||
		!strings.Contains(loc, url.QueryEscape(consoleOrigin+"/")) {
		t.Errorf("sign-out: %d %s", w.Code, loc)
	}
	if body := get(t, s, "/approvals", c); body.Code != http.StatusSeeOther {
		t.Errorf("the session outlived sign-out: %d", body.Code)
	}
}

// While Entra cannot be reached, sign-ins are told so at once for a while,
// rather than each waiting for its own attempt.
func TestEntraUnreachable(t *testing.T) {
	e := newEntraWorld(t)
	s, _ := e.console(nil)
	down := &countingTransport{}
	s.entra.client.Transport = limitedBodies{down}
	now := time.Now()
	s.opts.Now = func() time.Time { return now }
	for i := range 3 {
		if w := post(t, s, "/auth/start", nil, consoleOrigin); w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "could not be reached") {
			t.Errorf("sign-in %d with Entra down: %d", i, w.Code)
		}
	}
	if down.calls.Load() != 1 {
		t.Errorf("%d attempts to reach Entra within %s, want 1", down.calls.Load(), discoveryRetry)
	}
	now = now.Add(discoveryRetry + time.Second)
	post(t, s, "/auth/start", nil, consoleOrigin)
	if down.calls.Load() != 2 {
		t.Errorf("after %s: %d attempts, want another", discoveryRetry, down.calls.Load())
	}
}

// countingTransport counts its requests and fails each, as a network
// without Entra would.
type countingTransport struct{ calls atomic.Int32 }

func (c *countingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	c.calls.Add(1)
	return nil, fmt.Errorf("dial tcp: connection refused")
}

// On loopback without a redirect_url, the callback is built from the host
// asked: a request naming another host starts no sign-in.
func TestEntraDerivedRedirectNeedsALoopbackHost(t *testing.T) {
	e := newEntraWorld(t)
	s, _ := e.console(nil)
	r := httptest.NewRequest(http.MethodPost, "http://g2msync.example:9464/auth/start", nil)
	r.Header.Set("Origin", "http://g2msync.example:9464")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusMisdirectedRequest || len(s.pending) != 0 {
		t.Errorf("a foreign host started a sign-in: %d", w.Code)
	}
}

// With the daemon's certificate instead of a secret, the console redeems
// codes with a client assertion it signs; a certificate the app does not
// list is refused by Entra, and no one signs in.
func TestEntraSignInWithACertificate(t *testing.T) {
	e := newEntraWorld(t)
	s, _ := e.console(nil)
	s.entra.cfg.ClientSecret, s.entra.cfg.Certificate, s.entra.cfg.Key = "", e.cert.Certificate, e.cert.Key
	if page := get(t, s, "/approvals", e.signInAs(s, "alice@contoso.com")).Body.String(); !regexpCSRF.MatchString(page) {
		t.Errorf("signed in with a client assertion, alice cannot act:\n%s", page)
	}
	other, err := graphsim.NewClientCertificate("stranger")
	if err != nil {
		t.Fatal(err)
	}
	s.entra.cfg.Certificate, s.entra.cfg.Key = other.Certificate, other.Key
	_, cookie, authorize := e.start(s)
	if w := callback(t, s, e.authorize(authorize, "alice@contoso.com"), cookie); sessionCookie(w) != nil || w.Code != http.StatusBadGateway {
		t.Errorf("an unlisted certificate: %d %v", w.Code, sessionCookie(w))
	}
}

// Any site can make a visitor's browser fetch the callback (an <img>):
// such callbacks, naming no sign-in that browser started, are refused
// without counting against the address, so they cannot lock it (and the
// break-glass form with it) out of signing in. Before, five of them made
// the visitor's own sign-in wait.
func TestForeignCallbacksDoNotLockTheAddressOut(t *testing.T) {
	e := newEntraWorld(t)
	s, _ := e.console(io.Discard)
	for i := range 20 {
		w := get(t, s, "/auth/callback?state=forged"+strconv.Itoa(i)+"&code=x")
		if w.Code != http.StatusBadRequest {
			t.Fatalf("a forged callback: %d", w.Code)
		}
	}
	if c := e.signInAs(s, "alice@contoso.com"); c == nil {
		t.Fatal("alice could not sign in after forged callbacks from her address")
	}
	if _, csrf := signIn(t, s); csrf == "" {
		t.Fatal("the break-glass form is locked out after forged callbacks")
	}
}
